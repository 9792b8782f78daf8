"""Guard: one rule for code that runs inside someone's agent."""
import asyncio
import logging

from agentnb.core.guard import Guard, guarded


def test_a_failure_is_counted_logged_once_with_its_traceback_and_never_raised(caplog):
    guard = Guard(logging.getLogger("agentnb.test"))
    with caplog.at_level(logging.DEBUG, "agentnb.test"):
        guard.call("a thing", lambda: 1 / 0)
        guard.call("a thing", lambda: 1 / 0)
        asyncio.run(guard.call_async("a coroutine", _fails))
    assert guard.failures == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "a thing" in warnings[0].getMessage() and warnings[0].exc_info


async def _fails():
    raise ValueError("no")


def test_guarded_handlers_count_on_their_owners_guard():
    class Handler:
        def __init__(self):
            self.guard, self.seen = Guard(logging.getLogger("agentnb.test")), []

        @guarded
        def on_event(self, value):
            self.seen.append(1 / value)

    handler = Handler()
    handler.on_event(2)
    handler.on_event(0)
    assert handler.seen == [0.5] and handler.guard.failures == 1
    assert Handler.on_event.__name__ == "on_event"
