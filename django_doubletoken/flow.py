"""Logic written once for sync and async callers, as httpx writes its ``auth_flow``.

A *flow* is a generator holding the decisions: it yields each I/O step it needs and receives
the step's result (or has the step's exception raised at the ``yield``, so its ``try`` and
``with`` blocks see it as if it had made the call itself). A driver performs the steps:
``drive`` by calling, ``adrive`` by awaiting, so the sync and the async twin of an operation
differ only in the driver they use. ``Call`` is the usual step: the sync and the async function
of the same operation, and their arguments; ``run`` and ``arun`` drive flows of ``Call``s.

No Django here: the Python client uses it too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple, TypeVar

Step = TypeVar("Step")
Result = TypeVar("Result")
Flow = Generator[Step, Any, Result]


def drive(flow: Generator[Step, Any, Result], perform: Callable[[Step], Any]) -> Result:
    """Run ``flow`` to its end, performing each step with ``perform``; its return value."""
    try:
        step = next(flow)
        while True:
            try:
                outcome = perform(step)
            except Exception as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(outcome)
    except StopIteration as done:
        return done.value
    finally:
        flow.close()  # a no-op once it has finished; runs its cleanup if we were cancelled


async def adrive(flow: Generator[Step, Any, Result],
                 perform: Callable[[Step], Awaitable[Any]]) -> Result:
    """``drive`` for asyncio: each step is awaited."""
    try:
        step = next(flow)
        while True:
            try:
                outcome = await perform(step)
            except Exception as exc:
                step = flow.throw(exc)
            else:
                step = flow.send(outcome)
    except StopIteration as done:
        return done.value
    finally:
        flow.close()


class Call(NamedTuple):
    """One operation's sync function, its async twin, and the arguments for either."""

    sync: Callable[..., Any]
    asynchronous: Callable[..., Awaitable[Any]]
    args: tuple = ()


def run(flow: Generator[Call, Any, Result]) -> Result:
    return drive(flow, lambda call: call.sync(*call.args))


async def arun(flow: Generator[Call, Any, Result]) -> Result:
    return await adrive(flow, lambda call: call.asynchronous(*call.args))
