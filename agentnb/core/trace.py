"""The trace: an append-only, thread-safe sequence of records that views can follow."""
from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .columns import ChangeColumns
from .records import Record, StateChange

Listener = Callable[[int], None]


class Trace:
    """Records in the order they were appended, from any thread.

    State changes are kept as columns (`columns.ChangeColumns`): reading one gives a new
    `StateChange` equal to the one appended. Listeners are told the new length after each append, outside the
    lock, and must be cheap (a view only marks itself dirty); a listener that raises is dropped
    from that call, never from the trace, and never reaches the appender: the trace sits inside
    someone's agent run.

    A producer (`build_with`) may keep what it saw and build its records later: the trace
    has it append them before anything reads the trace or appends to it, so the records and
    their order are the same as if each had been appended at once.
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._lock = threading.Lock()
        self._objects: list[Record] = []       # every record but state changes
        self._changes = ChangeColumns()
        self._change_at = array("q")           # where in the trace each state change is
        self._next_seq: dict[str, int] = {}
        self._listeners: list[Listener] = []
        self.listener_errors = 0
        self._producers: list[Callable[[], None]] = []
        self._settling = threading.local()   # this thread's: settling, telling listeners
        self.extend(records)

    def build_with(self, producer: Callable[[], None]) -> None:
        """`producer()` appends the records it has kept back; called before every read and
        append (not again while it runs)."""
        self._producers.append(producer)

    def settle(self) -> None:
        """Have every producer append what it has kept back."""
        if not self._producers or getattr(self._settling, "active", False):
            return
        self._settling.active = True
        try:
            for producer in self._producers:
                producer()
        finally:
            self._settling.active = False

    def changed(self) -> None:
        """A producer kept something back: listeners are told, as of an append."""
        if self._listeners:
            with self._lock:
                n = len(self._objects) + len(self._changes)
                listeners = tuple(self._listeners)
            self._tell(listeners, n)

    def append(self, record: Record) -> None:
        self.extend((record,))

    def extend(self, records: Iterable[Record]) -> None:
        self.settle()
        with self._lock:
            objects, changes = self._objects, self._changes
            before = len(objects) + len(changes)
            for record in records:
                if type(record) is StateChange:
                    seq = self._next_seq.get(record.session_id, 0)
                    if record.seq < seq:  # a loaded trace keeps its own numbers
                        record.seq = seq
                    self._next_seq[record.session_id] = record.seq + 1
                    self._change_at.append(len(objects) + len(changes))
                    changes.add(record)
                else:
                    objects.append(record)
            n = len(objects) + len(changes)
            if not self._listeners or n == before:
                return
            listeners = tuple(self._listeners)
        self._tell(listeners, n)

    def _tell(self, listeners: tuple[Listener, ...], n: int) -> None:
        # A listener that reads the trace may have a producer append (its read settles): the
        # listeners are told again once it returns, never inside it, so none is re-entered.
        local = self._settling
        if getattr(local, "telling", False):
            local.again = True
            return
        local.telling = True
        try:
            while True:
                local.again = False
                for listener in listeners:
                    try:
                        listener(n)
                    except Exception:
                        self.listener_errors += 1
                if not local.again:
                    return
                with self._lock:
                    n = len(self._objects) + len(self._changes)
                    listeners = tuple(self._listeners)
        finally:
            local.telling = False

    def __len__(self) -> int:
        self.settle()
        with self._lock:
            return len(self._objects) + len(self._changes)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.snapshot())

    def snapshot(self, start: int = 0) -> list[Record]:
        """A copy of the records from `start` on; safe while other threads append."""
        self.settle()
        with self._lock:
            at = self._change_at[bisect_left(self._change_at, start):]
            objects = self._objects[start - (len(self._change_at) - len(at)):]
        # Rows are never rewritten, so state changes are built outside the lock.
        out: list[Record] = []
        changes, row, o, pos = self._changes, len(self._change_at) - len(at), 0, start
        for position in at:
            if position > pos:
                out += objects[o:o + position - pos]
                o += position - pos
            out.append(changes.row(row))
            row, pos = row + 1, position + 1
        out += objects[o:]
        return out

    def of(self, kind: str, session_id: str | None = None) -> list[Any]:
        """The records of one kind (`Record.kind`), of one session or all."""
        if kind == StateChange.kind:
            changes = self.changes()
            if session_id is None:
                return changes.rows()
            sessions = changes.session_id
            if session_id not in sessions.values:
                return []
            code = sessions.values.index(session_id)   # compare codes, build only the matches
            return [changes.row(i) for i, c in enumerate(sessions.codes) if c == code]
        self.settle()
        with self._lock:
            objects = list(self._objects)
        return [r for r in objects
                if r.kind == kind and (session_id is None or r.session_id == session_id)]

    def changes(self) -> ChangeColumns:
        """The state changes as columns, copied: safe to read while other threads append."""
        self.settle()
        with self._lock:
            return self._changes.copy()

    def changes_and(self, kind: str) -> tuple[ChangeColumns, list[tuple[int, Any]]]:
        """The state changes as columns (copied, as `changes()`), and the records of another
        kind, each with how many state changes come before it in the trace."""
        self.settle()
        with self._lock:
            changes = self._changes.copy()
            at = array("q", self._change_at)
            objects = list(self._objects)
        import numpy
        # change r has at[r] - r objects before it: non-decreasing, so a search finds, for
        # object j, how many changes come before it.
        before = numpy.array(at, dtype=numpy.int64) - numpy.arange(len(at), dtype=numpy.int64)
        picked = [(j, r) for j, r in enumerate(objects) if r.kind == kind]
        counts = numpy.searchsorted(before, [j for j, _ in picked], side="right")
        return changes, [(int(c), r) for c, (_, r) in zip(counts, picked, strict=True)]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(len(trace))` after every append; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe
