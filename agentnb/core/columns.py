"""State changes held as columns: how a trace keeps its most numerous records.

A trace may hold a million state changes. As objects each costs ~240 bytes and a DataFrame of
them needs a Python loop per row; as columns a change costs ~120 bytes (mostly its value) and
`history()` is built from arrays. Columns whose values repeat (session, invocation, author,
source, key, scope, context kind) hold a 4-byte code per row into a table of distinct values;
times and numbers are typed arrays; values are kept as they were appended (not copied).
"""
from __future__ import annotations

from array import array
from collections.abc import Iterable
from itertools import islice
from typing import Any

from .records import StateChange

_PLAIN = frozenset({int, float, bool, type(None)})   # values no view ever masks but by key


class Codes:
    """One repeating column: a code per row and the distinct values the codes stand for."""

    __slots__ = ("_index", "codes", "values")

    def __init__(self) -> None:
        self.codes = array("i")
        self.values: list[Any] = []
        self._index: dict[Any, int] = {}

    def code(self, value: Any) -> int:
        code = self._index.get(value)
        if code is None:
            code = self._index[value] = len(self.values)
            self.values.append(value)
        return code

    def __getitem__(self, row: int) -> Any:
        return self.values[self.codes[row]]

    def array(self) -> Any:
        """The column as a numpy object array (one C-level gather, no Python loop per row)."""
        import numpy
        table = numpy.empty(len(self.values), dtype=object)
        table[:] = self.values
        # a view of the codes, not a copy: this is only called on a copy nobody appends to
        return table[numpy.frombuffer(self.codes, dtype=numpy.int32)] if self.codes else \
            numpy.empty(0, dtype=object)


class ChangeColumns:
    """State changes, one row each, in the order they were added."""

    CODED = ("session_id", "invocation_id", "author", "source", "key", "scope", "context_kind")

    def __init__(self, changes: Iterable[StateChange] = ()) -> None:
        self.session_id, self.invocation_id, self.author, self.source, self.key, self.scope, \
            self.context_kind = (Codes() for _ in self.CODED)
        self.event_id: list[str | None] = []
        self.old: list[Any] = []
        self.new: list[Any] = []
        self.time = array("d")
        self.seq = array("q")
        self.persisted = array("b")
        self.only_plain = True   # every old and new so far a number, a bool or None
        for change in changes:
            self.add(change)

    def __len__(self) -> int:
        return len(self.seq)

    def add(self, c: StateChange) -> None:
        # spelled out: a loop over CODED with getattr took twice as long (3 per ADK invocation)
        for column, value in ((self.session_id, c.session_id),
                              (self.invocation_id, c.invocation_id), (self.author, c.author),
                              (self.source, c.source), (self.key, c.key), (self.scope, c.scope),
                              (self.context_kind, c.context_kind)):
            code = column._index.get(value)
            if code is None:
                code = column.code(value)
            column.codes.append(code)
        if self.only_plain and not (type(c.old) in _PLAIN and type(c.new) in _PLAIN):
            self.only_plain = False
        self.event_id.append(c.event_id)
        self.old.append(c.old)
        self.new.append(c.new)
        self.time.append(c.time)
        self.seq.append(c.seq)
        self.persisted.append(c.persisted)

    def row(self, i: int) -> StateChange:
        """Row `i` as a StateChange (a new object each time it is asked for)."""
        return StateChange(self.session_id[i], self.invocation_id[i], self.event_id[i],
                           self.time[i], self.author[i], self.source[i], self.key[i],
                           self.scope[i], self.old[i], self.new[i], bool(self.persisted[i]),
                           self.context_kind[i], self.seq[i])

    def rows(self, start: int = 0, stop: int | None = None) -> list[StateChange]:
        return [self.row(i) for i in range(start, len(self) if stop is None else stop)]

    def copy(self) -> ChangeColumns:
        """A copy to read from while this one grows, taken with the trace's lock held: the
        typed arrays are copied (cheap: a memcpy each); the lists of values are shared, and
        only their first `len(copy)` entries are the copy's (lists are only ever appended to).
        The copy is not for adding to."""
        out = ChangeColumns.__new__(ChangeColumns)
        for name in self.CODED:
            src: Codes = getattr(self, name)
            dst = Codes()
            dst.codes, dst.values = array("i", src.codes), src.values
            setattr(out, name, dst)
        out.event_id, out.old, out.new = self.event_id, self.old, self.new
        out.time, out.seq, out.persisted = array("d", self.time), array("q", self.seq), \
            array("b", self.persisted)
        out.only_plain = self.only_plain
        return out

    def objects(self, values: list[Any]) -> Any:
        """The first `len(self)` entries of one of the lists of values, as a numpy object array."""
        import numpy
        return numpy.fromiter(islice(values, len(self)), dtype=object, count=len(self))
