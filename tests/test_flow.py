"""django_doubletoken.flow: one generator of decisions, driven by calls or by awaits."""

import asyncio

import pytest

from django_doubletoken.flow import Call, adrive, arun, drive, run


def _doubled_or_fallback(log):
    try:
        value = yield Call(lambda x: x * 2, None, (21,))
        failed = yield Call(lambda: 1 / 0, None)
    except ZeroDivisionError:
        log.append("the step's error was raised at the yield")
        return value
    finally:
        log.append("cleaned up")
    return failed


def _async_twin(flow):
    """The same flow with each step's sync function awaited through a coroutine."""
    async def call(step):
        return step.sync(*step.args)
    return adrive(flow, call)


def test_the_sync_and_async_drivers_give_the_same_answer():
    log, alog = [], []
    assert run(_doubled_or_fallback(log)) == 42
    assert asyncio.run(_async_twin(_doubled_or_fallback(alog))) == 42
    assert log == alog == ["the step's error was raised at the yield", "cleaned up"]


def test_arun_awaits_the_async_function():
    async def twice(x):
        return x * 2

    def flow():
        return (yield Call(None, twice, (4,)))

    assert asyncio.run(arun(flow())) == 8


def test_an_error_the_flow_does_not_handle_propagates_after_its_cleanup():
    log = []

    def flow():
        try:
            yield Call(lambda: 1 / 0, None)
        finally:
            log.append("cleaned up")

    with pytest.raises(ZeroDivisionError):
        run(flow())
    assert log == ["cleaned up"]


def test_an_interrupted_flow_still_cleans_up():
    log = []

    def flow():
        try:
            yield "first"
        finally:
            log.append("cleaned up")

    def perform(step):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        drive(flow(), perform)
    assert log == ["cleaned up"]


def test_a_flow_that_needs_no_step_returns_at_once():
    def flow():
        return "nothing to do"
        yield  # a generator all the same

    assert run(flow()) == "nothing to do"
