"""What an adapter saw but has not built into records yet.

A framework's hook runs inside someone's agent: it should take only what could change after it
returns (a copy of the state, a delta, the time) and get out of the way. `Backlog.keep` holds
that, with the function that makes the records of it; the trace has the backlog build and
append them before anything reads the trace or appends to it (`Trace.build_with`), so the
records and their order are the ones an append inside each hook would have given. A batch of
the same builds also runs at about half the cost of builds spread between a framework's calls,
whose own code leaves ours cold.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

from .guard import Guard
from .records import Record
from .trace import Trace


class Backlog:
    """Builds kept in the order they were kept, from any thread; each runs under `guard`."""

    def __init__(self, trace: Trace, guard: Guard) -> None:
        self.trace, self.guard = trace, guard
        self._pending: deque[tuple[Any, ...]] = deque()   # (what, build, *args)
        self._told = False   # the trace's listeners know of what is kept (until it is built)
        self._building = threading.Lock()
        trace.build_with(self.settle)

    def keep(self, *item: Any) -> None:
        """`keep(what, build, *args)`: `build(*args)` makes the records of `what` when the trace
        next settles. The call's own tuple is what is kept: one object a hook leaves for the
        GC, not two."""
        # No lock (a hook's cost is mostly its cold start): an append to a deque is atomic, and
        # the flag is read after it, as `settle` clears it before it drains. So a keep either
        # tells, or finds the listeners told since the last clear, whose read then builds it;
        # two threads may both tell, which costs a listener one look.
        self._pending.append(item)
        if not self._told:
            self._told = True
            self.trace.changed()

    def settle(self) -> None:
        """Build and append everything kept, in order (the trace calls this)."""
        if not self._pending:
            return
        with self._building:
            self._told = False
            pending = self._pending
            records: list[Record] = []
            while pending:   # what other threads keep meanwhile is built here too
                what, build, *args = pending.popleft()
                try:
                    records += build(*args)
                except Exception:
                    self.guard.failed(what)
            self.trace.extend(records)
