"""Saving and loading traces (issue 7, part 5), property-based.

Hypothesis builds traces of every record type in `agentnb.core.records` holding odd values: NaN and
infinities, -0.0, bytes, nested dicts, lists, tuples and sets, dicts with non-string keys and
with keys starting with `$`, naive and aware datetimes, dates, times and timedeltas, dataclasses,
odd (surrogate-free) unicode, and objects JSON cannot hold, which come back as a typed repr. `save(reveal=True)` then
`agentnb.load` must give back equal records, none dropped, types kept (NaN-aware); a masked
save must mask the planted secrets and leave everything else equal.

Cases that once broke (line separators in text, frozensets in hashable places, numpy NaN, huge
ints, failing reprs, namedtuples, secrets inside sets, keys and reprs) have tests of their own.
"""
import base64
import collections
import dataclasses
import datetime as dt
import math
from pathlib import PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentnb
from agentnb.core.mask import MASK, mask_text
from agentnb.core.codec import TypedRepr, masked, save
from agentnb.core.records import RECORD_TYPES, ArtifactVersion, ContextSnapshot, Event, Fact, \
    InvocationEnd, InvocationStart, Session, StateChange
from agentnb.core.trace import Trace

# Characters `str.splitlines` breaks on that JSON (ensure_ascii=False) leaves unescaped.
LINE_BREAKERS = "\x85\u2028\u2029"


# --- strategies --------------------------------------------------------------------------------

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
odd_text = st.one_of(text, st.sampled_from([
    "", "$float", "$dict", "$repr", "$", "\u202eevil\u202c", "zero\u200bwidth", "\ufeffbom",
    "日本語", "emoji 👩🏽‍💻", "nul\x00byte", "tab\tand\nnew\rline", "\\u2028 as text",
    '{"$float": "nan"}', "a" * 300]))
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [math.nan, -math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308])
ints = st.integers(min_value=-10**100, max_value=10**100)
zones = st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                         dt.timezone(dt.timedelta(hours=-8)),
                         dt.timezone(dt.timedelta(hours=1), "CET")])
datetimes = st.builds(lambda d, tz: d.replace(tzinfo=tz), st.datetimes(), zones)


class Gadget:
    """An object JSON cannot hold: saved as its type and repr."""

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return f"Gadget({self.n!r})"


@dataclasses.dataclass
class Settings:
    name: str
    level: int


others = st.one_of(
    st.builds(Gadget, ints | text),
    st.builds(Settings, text, ints),
    st.dates(), st.times(), st.timedeltas(), st.decimals(allow_nan=True),
    st.complex_numbers(allow_nan=True), st.uuids(), st.builds(PurePosixPath, text),
    st.just(range(3)), st.just(Ellipsis), st.just(NotImplemented),
    st.builds(TypedRepr, text, text),
)
hashable_leaves = st.one_of(st.none(), st.booleans(), ints, floats, odd_text, st.binary(max_size=20),
                            datetimes)
hashables = st.recursive(hashable_leaves, lambda inner: st.tuples(inner, inner) | st.lists(
    inner, max_size=3).map(tuple), max_leaves=6)
leaves = st.one_of(hashable_leaves, st.binary(max_size=8).map(bytearray), others)


def containers(inner):
    return st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(odd_text, inner, max_size=4),
        st.dictionaries(hashables, inner, max_size=4),
        st.sets(hashables, max_size=4),
        st.frozensets(hashable_leaves, max_size=4),
        st.dictionaries(odd_text, inner, max_size=3).map(collections.OrderedDict),
    )


values = st.recursive(leaves, containers, max_leaves=12)
optional_text = st.none() | odd_text
call_dicts = st.lists(st.fixed_dictionaries({"id": optional_text, "name": odd_text, "args": values}),
                      max_size=2)
response_dicts = st.lists(st.fixed_dictionaries({"id": optional_text, "name": odd_text,
                                                 "response": values}), max_size=2)
sid = st.sampled_from(["s1", "s2", "s-\u202e"])

records = st.one_of(
    st.builds(Session, sid, odd_text, odd_text, odd_text, floats,
              st.dictionaries(odd_text, values, max_size=3), optional_text, optional_text),
    st.builds(InvocationStart, sid, odd_text, odd_text, odd_text, floats),
    st.builds(InvocationEnd, sid, odd_text, floats, st.sampled_from(["ok", "error", "interrupted"]),
              optional_text),
    st.builds(Event, sid, odd_text, odd_text, floats, odd_text, odd_text, odd_text, call_dicts,
              response_dicts, st.dictionaries(odd_text, values, max_size=3),
              st.dictionaries(odd_text, ints, max_size=2), optional_text, st.booleans(),
              st.booleans(), st.lists(odd_text, max_size=2), optional_text, optional_text),
    st.builds(StateChange, sid, optional_text, optional_text, floats, odd_text, odd_text, odd_text,
              odd_text, values, values, st.booleans(), optional_text, st.integers(-1, 10**6)),
    st.builds(ArtifactVersion, sid, optional_text, optional_text, floats, odd_text, ints,
              optional_text, ints, odd_text, odd_text),
    st.builds(ContextSnapshot, sid, optional_text, floats, odd_text, odd_text, odd_text,
              optional_text, optional_text, optional_text, optional_text,
              st.dictionaries(odd_text, values, max_size=3),
              st.dictionaries(odd_text, values, max_size=3)),
    st.builds(Fact, sid, optional_text, floats, odd_text,
              st.dictionaries(odd_text, values, max_size=4)),
)
traces = st.lists(records, min_size=1, max_size=12)


# --- what a loaded record must equal ---------------------------------------------------------

def expected(value, mask=False):
    """`value` as the file keeps it: containers JSON has no name for come back as their base
    type (OrderedDict -> dict, bytearray -> bytes); dates, times and data classes of imported
    modules as themselves; others as a typed repr (`mask`: with the secrets in it masked,
    e.g. a card number in a Gadget's repr)."""
    if isinstance(value, TypedRepr):
        return TypedRepr(value.type, mask_text(value.repr)) if mask else value
    if value is None or isinstance(value, (bool, int, float, str, bytes, dt.datetime, dt.date,
                                           dt.time, dt.timedelta)):
        return value
    if dataclasses.is_dataclass(value):
        return type(value)(**{f.name: expected(getattr(value, f.name), mask)
                              for f in dataclasses.fields(value)})
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, list):
        return [expected(v, mask) for v in value]
    if isinstance(value, tuple):
        return tuple(expected(v, mask) for v in value)
    if isinstance(value, dict):
        return {expected(k, mask): expected(v, mask) for k, v in value.items()}
    if isinstance(value, frozenset):
        return frozenset(expected(v, mask) for v in value)
    if isinstance(value, set):
        return {expected(v, mask) for v in value}
    text = repr(value)
    return TypedRepr(f"{type(value).__module__}.{type(value).__qualname__}",
                     mask_text(text) if mask else text)


def same(a, b) -> bool:
    """Equal, of the same type all the way down, NaN equal to NaN, -0.0 not equal to 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(ka, kb) and same(va, vb) for (ka, va), (kb, vb)
                                        in zip(a.items(), b.items()))
    if isinstance(a, (set, frozenset)):
        left = list(b)
        for x in a:
            match = next((i for i, y in enumerate(left) if same(x, y)), None)
            if match is None:
                return False
            left.pop(match)
        return not left
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    if dataclasses.is_dataclass(a) and not isinstance(a, TypedRepr):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


def expected_record(record, mask=False):
    return type(record)(**{f.name: expected(getattr(record, f.name), mask)
                           for f in dataclasses.fields(record)})


def assert_same_records(got, want):
    assert len(got) == len(want), f"{len(want)} records saved, {len(got)} loaded"
    for n, (g, w) in enumerate(zip(got, want)):
        assert type(g) is type(w), (n, g, w)
        for f in dataclasses.fields(w):
            assert same(getattr(g, f.name), getattr(w, f.name)), (
                n, type(w).__name__, f.name, getattr(g, f.name), getattr(w, f.name))


def save_and_load(trace, path, reveal):
    save(trace, path, reveal=reveal)
    loaded = agentnb.load(path)
    return loaded, loaded.trace.snapshot()


HYPOTHESIS = settings(max_examples=150, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow, HealthCheck.data_too_large])


# --- the properties ---------------------------------------------------------------------------

def test_strategies_cover_every_record_type():
    assert {cls.kind for cls in RECORD_TYPES.values()} == {
        "session", "invocation_start", "invocation_end", "event", "state_change", "artifact",
        "context", "fact"}


@HYPOTHESIS
@given(traces)
def test_revealed_save_loads_back_equal_records(tmp_path_factory, generated):
    trace = Trace(generated)                     # gives state changes their seq
    want = [expected_record(r) for r in trace.snapshot()]
    path = tmp_path_factory.mktemp("rt") / "trace.jsonl"
    loaded, got = save_and_load(trace, path, reveal=True)
    assert loaded.header["masked"] is False
    assert_same_records(got, want)
    # and what was loaded saves and loads back the same again
    _, got_again = save_and_load(loaded.trace, path.with_name("again.jsonl"), reveal=True)
    assert_same_records(got_again, want)


@HYPOTHESIS
@given(traces)
def test_masked_save_only_masks(tmp_path_factory, generated):
    trace = Trace(generated)
    want = [expected_record(masked(r), mask=True) for r in trace.snapshot()]
    path = tmp_path_factory.mktemp("rt") / "masked.jsonl"
    loaded, got = save_and_load(trace, path, reveal=False)
    assert loaded.header["masked"] is True
    assert_same_records(got, want)


# Secrets planted where masking promises to reach: under credential-like keys at any depth of
# dicts, lists and tuples, and as tokens inside any text.
SECRET_KEYS = ["api_key", "password", "user:access_token", "Authorization", "client_secret",
               "oauth2", "temp:refresh_token", "cookie", "jwt"]
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudG5iIn0.c2lnbmF0dXJlLXNlY3JldA"
API_KEY = "sk-proj-0123456789abcdefABCDEF"
secret_values = st.integers(0, 10**6).map(lambda n: f"PLANTED-SECRET-{n:07d}")
planted = st.recursive(
    st.builds(lambda k, v: {k: v}, st.sampled_from(SECRET_KEYS), secret_values),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=2),
        st.lists(inner, min_size=1, max_size=2).map(tuple),
        st.dictionaries(text.filter(lambda k: not any(w in k.lower() for w in
                                                      ("token", "secret", "auth", "key", "pass", "jwt", "cookie"))),
                        inner, min_size=1, max_size=2)),
    max_leaves=4)
token_text = st.builds(lambda a, t, b: f"{a} {t} {b}", text, st.sampled_from(
    [JWT, API_KEY, "Bearer abcdefghijklmnopqrstuvwxyz0123"]), text)


@HYPOTHESIS
@given(st.lists(st.one_of(
    st.builds(lambda v, t: StateChange("s", "i", "e", 0.0, "a", "tool:x", "settings", "session",
                                       None, v, True), planted, token_text),
    st.builds(lambda k, v: StateChange("s", "i", "e", 0.0, "a", "tool:x", k, "user", None, v, True),
              st.sampled_from(SECRET_KEYS), values),
    st.builds(lambda v, t: Event("s", "i", "e", 0.0, "m", "model", t, [{"id": "c", "name": "f",
                                 "args": v}], [], v), planted, token_text),
    st.builds(lambda v, t: ContextSnapshot("s", "i", 0.0, "h", "k", "c", user_text=t, state=v,
                                           exposed={"x": v}), planted, token_text),
    st.builds(lambda v, t: Fact("s", "i", 0.0, t, {"data": v, "note": t}), planted, token_text),
    st.builds(lambda t: InvocationStart("s", "i", "a", t, 0.0), token_text),
), min_size=1, max_size=6))
def test_masked_save_holds_no_planted_secret(tmp_path_factory, generated):
    trace = Trace(generated)
    planted_here = set()

    def collect(value):
        if isinstance(value, str) and value.startswith("PLANTED-SECRET-"):
            planted_here.add(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                collect(v)
    for r in trace.snapshot():
        for f in dataclasses.fields(r):
            collect(getattr(r, f.name))
    path = tmp_path_factory.mktemp("rt") / "masked.jsonl"
    loaded, got = save_and_load(trace, path, reveal=False)
    saved = path.read_text(encoding="utf-8")
    for secret in [*planted_here, JWT, API_KEY, "abcdefghijklmnopqrstuvwxyz0123"]:
        assert secret not in saved, secret
    assert len(got) == len(generated)
    # numbers and booleans are never masked (a count under `input_tokens` is no secret)
    if any(isinstance(r, StateChange) and r.key in SECRET_KEYS and r.new is not None
           and not isinstance(r.new, (bool, int, float)) for r in generated):
        assert MASK in saved
    # the revealed save keeps them all
    revealed = path.with_name("revealed.jsonl")
    save(trace, revealed, reveal=True)
    assert all(secret in revealed.read_text(encoding="utf-8") for secret in planted_here)


def test_load_never_drops_a_line(tmp_path):
    """A line that is not a record is an error naming the line, never skipped."""
    trace = Trace([Fact("s", None, 0.0, "t", {"n": n}) for n in range(3)])
    path = tmp_path / "t.jsonl"
    save(trace, path, reveal=True)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:2] + ['{"type": "fact", "oops": 1}'] + lines[2:]) + "\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match="line 3 is not a trace record"):
        agentnb.load(path)


# --- cases that once broke a save, a load or masking -----------------------------------------

def round_trip(tmp_path, value, reveal=True):
    trace = Trace([StateChange("s", None, None, 0.0, "a", "x", "k", "session", None, value, True)])
    path = tmp_path / "t.jsonl"
    save(trace, path, reveal=reveal)
    [record] = agentnb.load(path).trace.snapshot()
    return record.new


@pytest.mark.parametrize("char", list(LINE_BREAKERS), ids=["U+0085", "U+2028", "U+2029"])
def test_line_separators_in_text_round_trip(tmp_path, char):
    assert round_trip(tmp_path, f"a{char}b") == f"a{char}b"


@pytest.mark.parametrize("value", [{frozenset({1, 2}): "x"}, {frozenset({"a"})}, {(1, frozenset()): 1}],
                         ids=["dict-key", "set-member", "in-tuple-key"])
def test_frozensets_in_hashable_places_round_trip(tmp_path, value):
    assert round_trip(tmp_path, value) == value


@pytest.mark.parametrize("name", ["nan", "inf", "-inf"])
def test_numpy_non_finite_floats_round_trip(tmp_path, name):
    np = pytest.importorskip("numpy")
    got = round_trip(tmp_path, np.float64(name))
    assert same(float(got), float(name))


def test_huge_ints_round_trip(tmp_path):
    assert round_trip(tmp_path, 10**5000) == 10**5000


class BrokenRepr:
    def __repr__(self):
        raise RuntimeError("repr failed")


def test_objects_whose_repr_raises_are_saved_as_a_typed_repr(tmp_path):
    got = round_trip(tmp_path, BrokenRepr())
    assert isinstance(got, TypedRepr) and got.type.endswith("BrokenRepr")


def test_a_failed_save_leaves_no_truncated_trace(tmp_path):
    path = tmp_path / "t.jsonl"
    trace = Trace([Fact("s", None, 0.0, "ok", {}), Fact("s", None, 0.0, "bad", {"n": 10**5000}),
                   Fact("s", None, 0.0, "ok", {})])
    try:
        save(trace, path, reveal=True)
    except ValueError:
        pass
    if path.exists():
        assert len(agentnb.load(path).trace) == 3


def test_nanosecond_timestamps_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    stamp = pd.Timestamp("2024-01-02T03:04:05.123456789")
    assert round_trip(tmp_path, stamp) == stamp


Point = collections.namedtuple("Point", "x y")


def test_namedtuples_survive_a_masked_save(tmp_path):
    assert round_trip(tmp_path, Point(1, 2), reveal=False) == (1, 2)


@dataclasses.dataclass
class ClientConfig:
    api_key: str


@pytest.mark.parametrize("value", [{JWT}, frozenset({API_KEY}), {JWT: "session"},
                                   ClientConfig(API_KEY)],
                         ids=["set", "frozenset", "dict-key", "object-repr"])
def test_masking_reaches_every_container(tmp_path, value):
    from agentnb.jupyter.views import LiveView
    trace = Trace([StateChange("s", None, None, 0.0, "a", "x", "k", "session", None, value, True)])
    save(trace, tmp_path / "t.jsonl")
    shown = [(tmp_path / "t.jsonl").read_text(encoding="utf-8"), LiveView(trace).html(),
             LiveView(trace).text()]
    for face in shown:
        assert JWT not in face and API_KEY not in face


# --- typed values (issue 20, item 9) ---------------------------------------------------------

import enum  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from pydantic import BaseModel  # noqa: E402

from agentnb.core.codec import TypedValue  # noqa: E402


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Mode(str, enum.Enum):
    FAST = "fast"


class Address(BaseModel):
    city: str
    since: dt.date | None = None


class Customer(BaseModel):
    name: str
    colour: Colour = Colour.RED
    address: Address | None = None
    blob: bytes = b""
    tags: set[str] = set()


@dataclasses.dataclass
class Slot:
    day: str
    when: dt.datetime
    level: Level = Level.HIGH
    note: str = dataclasses.field(default="", init=False)


@pytest.mark.parametrize("value", [
    Colour.RED, Level.HIGH, Mode.FAST, {Mode.FAST: 1},
    Customer(name="Ada", address=Address(city="Porto", since=dt.date(2020, 1, 2)), blob=b"\x00",
             tags={"vip"}),
    Slot("friday", dt.datetime(2026, 3, 15, 9, 30, tzinfo=dt.UTC)),
    [Customer(name="b"), (Colour.RED, dt.time(9, 30), dt.timedelta(days=1, microseconds=5))],
], ids=["enum", "int-enum", "str-enum", "str-enum-key", "model", "dataclass", "nested"])
def test_data_classes_load_as_the_same_classes(tmp_path, value):
    got = round_trip(tmp_path, value)
    assert got == value and type(got) is type(value)
    if isinstance(value, dict):
        assert [type(k) for k in got] == [Mode]


def test_a_dataclass_field_outside_init_is_restored(tmp_path):
    slot = Slot("monday", dt.datetime(2026, 1, 1))
    slot.note = "kept"
    assert round_trip(tmp_path, slot).note == "kept"


def test_a_secret_field_of_a_data_class_is_masked(tmp_path):
    @dataclasses.dataclass
    class Config:
        api_key: str
    saved = round_trip(tmp_path, Config("key-that-is-plain-0001"), reveal=False)
    assert "key-that-is-plain-0001" not in (tmp_path / "t.jsonl").read_text()
    assert isinstance(saved, TypedValue) and saved.data == {"api_key": MASK}   # a local class


def test_a_class_not_imported_loads_as_a_typed_value_and_saves_back_the_same(tmp_path):
    path = tmp_path / "t.jsonl"
    save(Trace([StateChange("s", None, None, 0.0, "a", "x", "k", "session", None, Customer(name="Ada"),
                            True)]), path, reveal=True)
    text = path.read_text().replace(f"{__name__}.Customer", "nowhere_module_xyz.Customer")
    path.write_text(text)
    [record] = agentnb.load(path).trace.snapshot()
    value = record.new
    assert isinstance(value, TypedValue) and value.kind == "model"
    assert value.type == "nowhere_module_xyz.Customer" and value.data["name"] == "Ada"
    assert "nowhere_module_xyz" not in sys.modules
    again = tmp_path / "again.jsonl"
    save(agentnb.load(path).trace, again, reveal=True)
    assert again.read_text().splitlines()[1:] == text.splitlines()[1:]


def _hostile(tmp_path, value):
    path = tmp_path / "hostile.jsonl"
    record = {"type": "state_change", "session_id": "s", "invocation_id": None, "event_id": None,
              "time": 0.0, "author": "a", "source": "x", "key": "k", "scope": "session",
              "old": None, "new": value, "persisted": True, "context_kind": None, "seq": 0}
    path.write_text(json.dumps({"format": "agentnb-trace", "version": 1}) + "\n"
                    + json.dumps(record) + "\n")
    [loaded] = agentnb.load(path).trace.snapshot()
    return loaded.new


@pytest.mark.parametrize("tag", ["$dataclass", "$model", "$enum", "$repr"])
@pytest.mark.parametrize("type_name", ["subprocess.Popen", "os.system", "builtins.eval",
                                       "never_imported_pkg_xyz.Thing", "os.path.os.system",
                                       f"{__name__}.Customer.model_validate"])
def test_hostile_type_names_run_nothing(tmp_path, monkeypatch, tag, type_name):
    calls = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: calls.append(a))
    import os
    monkeypatch.setattr(os, "system", lambda *a, **k: calls.append(a))
    payload = {"args": ["touch", str(tmp_path / "pwned")], "shell": True}
    value = _hostile(tmp_path, {tag: payload if tag != "$repr" else "x", "$type": type_name})
    assert calls == [] and not (tmp_path / "pwned").exists()
    assert "never_imported_pkg_xyz" not in sys.modules
    assert isinstance(value, (TypedValue, TypedRepr)) and not callable(value)


def test_hostile_data_for_a_real_class_stays_a_typed_value(tmp_path):
    # The right class with data it refuses, or a kind it is not: no half-built object.
    assert isinstance(_hostile(tmp_path, {"$model": {"nope": 1}, "$type": f"{__name__}.Customer"}),
                      TypedValue)
    assert isinstance(_hostile(tmp_path, {"$enum": "red", "$type": f"{__name__}.Customer"}),
                      TypedValue)
    assert isinstance(_hostile(tmp_path, {"$dataclass": {"day": "x", "evil": 1},
                                          "$type": f"{__name__}.Slot"}), TypedValue)
    assert _hostile(tmp_path, {"$enum": "red", "$type": f"{__name__}.Colour"}) is Colour.RED


def test_a_card_number_is_masked_in_a_repr_and_values_that_are_not_text_stay_whole(tmp_path):
    card = "4539148803436467"                        # passes the Luhn check
    raw = base64.b64decode(card)                     # bytes whose base64 reads as the card
    saved = round_trip(tmp_path, {"gadget": Gadget(int(card)), "raw": raw,
                                  "big": 4539148803436467 * 10**90}, reveal=False)
    assert card not in saved["gadget"].repr and MASK in saved["gadget"].repr
    assert saved["raw"] == raw                       # base64 is an encoding, not text
    assert saved["big"] == 4539148803436467 * 10**90
