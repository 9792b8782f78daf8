"""The LiveKit adapter's pure mapping functions."""
import copy
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace

from pydantic import BaseModel

from agentnb.livekit.mapping import (
    REF_REPR_CHARS,
    Ref,
    arguments,
    changes,
    connection_cause,
    describe,
    enum_name,
    equal,
    fields_of,
    participant_data,
    snapshot,
    track_data,
)


@dataclass
class Order:
    items: list = field(default_factory=list)
    total: float = 0.0


def test_fields_of_each_userdata_shape_is_a_copy():
    order = Order(["tea"])
    fields = fields_of(order)
    order.items.append("milk")
    assert fields == {"items": ["tea"], "total": 0.0}
    assert fields_of({"a": 1, 2: "b"}) == {"a": 1, "2": "b"}
    assert fields_of(SimpleNamespace(x=1, _hidden=2)) == {"x": 1}
    assert fields_of(None) == {} and fields_of(7) == {"userdata": 7}


def test_changes_list_only_keys_that_differ():
    assert changes({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == [("b", 2, 3), ("c", None, None)]
    assert changes({"gone": 1}, {}) == [("gone", 1, None)]


def test_arguments_parse_json_or_keep_text():
    assert arguments('{"note": "milk"}') == {"note": "milk"}
    assert arguments("") == {} and arguments("not json") == "not json"


def test_describe_and_enum_names():
    assert describe(ValueError("bad")) == "ValueError: bad" and describe(KeyError()) == "KeyError"

    class Kinds:
        @staticmethod
        def Name(value):
            return {0: "STANDARD"}[value]
    assert enum_name(Kinds, 0) == "STANDARD" and enum_name(Kinds, 5) == "5"
    who = SimpleNamespace(identity="alice", sid="PA_1", kind=0, attributes={"mood": "ok"})
    assert participant_data(who, Kinds) == {"identity": "alice", "sid": "PA_1", "kind": "STANDARD",
                                            "attributes": {"mood": "ok"}}


# --- snapshots of userdata holding live objects ---------------------------------------------

class Client:
    """Like an API client an example keeps in userdata: a lock, no __eq__, no deep copy."""

    def __init__(self):
        self.lock, self.calls = threading.Lock(), 0

    def __repr__(self):
        return f"Client({self.calls} calls)"


@dataclass
class Card:
    number: str | None = None


@dataclass(eq=False)
class Loose:
    n: int = 0


class Item(BaseModel):
    name: str
    qty: int = 1


@dataclass
class Desk:
    card: Card = field(default_factory=Card)
    agents: dict = field(default_factory=dict)
    client: Client | None = None
    prev: object = None
    items: list = field(default_factory=list)
    loose: Loose = field(default_factory=Loose)
    on_change: object = None


def test_objects_that_cannot_be_copied_are_held_by_identity_and_shown_bounded():
    client = Client()
    ref = snapshot(client)
    assert isinstance(ref, Ref) and ref.obj is client
    assert ref == snapshot(client) and ref != snapshot(Client()) and hash(ref) == id(client)
    client.calls = 3
    assert repr(ref) == "Client(0 calls)"          # as it was when the snapshot was taken
    assert copy.deepcopy(ref) is ref
    client.calls = "x" * 1000
    assert len(repr(snapshot(client))) <= REF_REPR_CHARS + 1


def test_a_snapshot_copies_what_copies_faithfully_and_changes_only_when_a_value_changes():
    greeter, takeaway, client = object(), object(), Client()
    desk = Desk(agents={"greeter": greeter, "takeaway": takeaway}, client=client,
                items=[Item(name="tea"), "note"], on_change=print)
    before = fields_of(desk)
    assert isinstance(before["card"], Card) and before["card"] is not desk.card
    assert isinstance(before["agents"]["greeter"], Ref) and before["on_change"] is print
    assert isinstance(before["items"][0], Item) and before["items"][0] is not desk.items[0]
    client.calls += 1                               # a live object used, nothing written
    assert changes(before, fields_of(desk)) == []
    desk.card.number = "4539148803436467"
    desk.prev = greeter
    desk.items[0].qty = 2
    desk.loose.n = 1
    after = fields_of(desk)
    assert [key for key, _, _ in changes(before, after)] == ["card", "prev", "items", "loose"]
    assert before["card"].number is None and after["card"].number == "4539148803436467"
    assert after["prev"] == Ref(greeter) and after["items"][0].qty == 2
    assert changes(after, fields_of(desk)) == []    # eq=False dataclasses compare by fields


def test_equal_compares_snapshots_field_by_field():
    assert equal([Card("1")], [Card("1")]) and not equal([Card("1")], [Card("2")])
    assert equal(Loose(1), Loose(1)) and not equal(Loose(1), Loose(2))
    assert equal({"a": Item(name="x")}, {"a": Item(name="x")})
    assert not equal({"a": 1}, {"a": 1, "b": 2}) and not equal(1, "1")


def test_track_data_and_connection_causes():
    class Names:
        @staticmethod
        def Name(value):
            return {1: "KIND_AUDIO", 2: "SOURCE_MICROPHONE"}[value]
    publication = SimpleNamespace(sid="TR_1", name="mic", kind=1, source=2, muted=False)
    assert track_data(publication, Names, Names) == {
        "sid": "TR_1", "name": "mic", "kind": "KIND_AUDIO", "source": "SOURCE_MICROPHONE",
        "muted": False}
    refused = ("ConnectError: engine: signal failure: client error: 401 Unauthorized - invalid "
               "token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl, error: token signature"
               " is invalid:\n signature is invalid")
    cause = connection_cause(refused)
    assert "eyJ" not in cause and "<token>" in cause and "\n" not in cause
    assert cause.endswith("(the server refused the access token: check api_key and api_secret)")
    assert connection_cause("ConnectError: Connection refused (os error 111)") == \
        "ConnectError: Connection refused (os error 111)"
