"""Logic written once for sync and async callers, as httpx writes its ``auth_flow``.

A *flow* is a generator holding the decisions: it yields each I/O step it needs and receives
the step's result (or has the step's exception raised at the ``yield``, so its ``try`` and
``with`` blocks see it as if it had made the call itself). A driver performs the steps:
``drive`` by calling, ``adrive`` by awaiting, so the sync and the async twin of an operation
differ only in the driver they use. ``Call`` is the usual step: the sync and the async function
of the same operation, and their arguments; ``run`` and ``arun`` drive flows of ``Call``s.

A flow costs a few microseconds (a generator, its StopIteration): the right price where the
I/O it drives is a network round trip (the successor's SET NX, the Python client's calls),
not on the per-request path, whose twins (the middleware, ``authenticate_bearer``) share plain
functions instead, as ``slide`` and ``aslide`` do.

No Django here: the Python client uses it too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

Step = TypeVar("Step")
Result = TypeVar("Result")
Flow = Generator[Step, Any, Result]


@dataclass(frozen=True)
class Finished:
    """What ``resume`` returns once the flow has returned ``value``."""

    value: Any


def resume(flow: Generator[Step, Any, Result], outcome: Any = None,
           error: Exception | None = None) -> Step | Finished:
    """The flow's next step after ``outcome`` (or after ``error`` raised at its ``yield``);
    ``Finished`` when it returns instead."""
    try:
        return flow.throw(error) if error is not None else flow.send(outcome)
    except StopIteration as done:
        return Finished(done.value)


def drive(flow: Generator[Step, Any, Result], perform: Callable[[Step], Any]) -> Result:
    """Run ``flow`` to its end, performing each step with ``perform``; its return value."""
    # StopIteration and try/finally, not ``resume`` and ``contextlib.closing``: cheaper.
    try:
        step = next(flow)
        while True:
            step = _continue(flow, *_attempt(perform, step))
    except StopIteration as done:
        return done.value
    finally:
        flow.close()  # a no-op once it has returned; its cleanup if we were interrupted


async def adrive(flow: Generator[Step, Any, Result],
                 perform: Callable[[Step], Awaitable[Any]]) -> Result:
    """``drive`` for asyncio: each step is awaited."""
    try:
        step = next(flow)
        while True:
            step = _continue(flow, *await _aattempt(perform, step))
    except StopIteration as done:
        return done.value
    finally:
        flow.close()


def _continue(flow: Generator[Step, Any, Any], outcome: Any, error: Exception | None) -> Step:
    return flow.throw(error) if error is not None else flow.send(outcome)


def _attempt(perform: Callable[[Step], Any], step: Step) -> tuple[Any, Exception | None]:
    try:
        return perform(step), None
    except Exception as exc:
        return None, exc


async def _aattempt(perform: Callable[[Step], Awaitable[Any]], step: Step
                    ) -> tuple[Any, Exception | None]:
    try:
        return await perform(step), None
    except Exception as exc:
        return None, exc


class Call(NamedTuple):
    """One operation's sync function, its async twin, and the arguments for either."""

    sync: Callable[..., Any]
    asynchronous: Callable[..., Awaitable[Any]]
    args: tuple = ()


def run(flow: Generator[Call, Any, Result]) -> Result:
    return drive(flow, lambda call: call.sync(*call.args))


async def arun(flow: Generator[Call, Any, Result]) -> Result:
    return await adrive(flow, lambda call: call.asynchronous(*call.args))
