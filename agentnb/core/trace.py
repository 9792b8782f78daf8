"""The trace: an append-only, thread-safe list of records that views can follow."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .records import Record, StateChange

Listener = Callable[[int], None]


class Trace:
    """Records in the order they were appended, from any thread.

    Listeners are told the new length after each append, outside the lock, and must be cheap
    (a view only marks itself dirty); a listener that raises is dropped from that call, never
    from the trace, and never reaches the appender: the trace sits inside someone's agent run.
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._next_seq: dict[str, int] = {}
        self._listeners: list[Listener] = []
        self.listener_errors = 0
        self.extend(records)

    def append(self, record: Record) -> None:
        self.extend((record,))

    def extend(self, records: Iterable[Record]) -> None:
        with self._lock:
            for record in records:
                if type(record) is StateChange:
                    seq = self._next_seq.get(record.session_id, 0)
                    if record.seq < seq:  # a loaded trace keeps its own numbers
                        record.seq = seq
                    self._next_seq[record.session_id] = record.seq + 1
                self._records.append(record)
            if not self._listeners:
                return
            n = len(self._records)
            listeners = tuple(self._listeners)
        for listener in listeners:
            try:
                listener(n)
            except Exception:
                self.listener_errors += 1

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.snapshot())

    def snapshot(self, start: int = 0) -> list[Record]:
        """A copy of the records from `start` on; safe while other threads append."""
        with self._lock:
            return self._records[start:]

    def of(self, kind: str, session_id: str | None = None) -> list[Any]:
        """The records of one kind (`Record.kind`), of one session or all."""
        return [r for r in self.snapshot()
                if r.kind == kind and (session_id is None or r.session_id == session_id)]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(len(trace))` after every append; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return unsubscribe
