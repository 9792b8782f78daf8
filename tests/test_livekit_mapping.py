"""The LiveKit adapter's pure mapping functions."""
from dataclasses import dataclass, field
from types import SimpleNamespace

from agentnb.livekit.mapping import arguments, changes, describe, enum_name, fields_of, participant_data


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
