"""Folding state changes into states, the one place it is done."""
from agentnb.core.fold import final_state, state_after, states_by_turn
from agentnb.core.records import InvocationEnd, InvocationStart, Session, StateChange


def change(sid, inv, key, new, persisted=True):
    return StateChange(sid, inv, None, 0.0, "", "t", key, "session", None, new, persisted)


RECORDS = [
    Session("s", "app", "u", "adk", 0.0, {"a": 0}),
    change("s", None, "a", 0),
    InvocationStart("s", "i1", "agent", "first", 0.0),
    change("s", "i1", "a", 1), change("s", "i1", "temp:x", 9, persisted=False),
    InvocationEnd("s", "i1", 0.0, "ok"),
    change("other", "j", "a", 99),
    InvocationStart("s", "i2", "agent", "second", 0.0),
    change("s", "i2", "b", 2),
    InvocationEnd("s", "i2", 0.0, "ok"),
]


def test_final_state_of_a_session_persisted_only_by_default():
    assert final_state(RECORDS, "s") == {"a": 1, "b": 2}
    assert final_state(RECORDS, "s", persisted_only=False) == {"a": 1, "temp:x": 9, "b": 2}
    assert final_state(RECORDS[:7]) == {"a": 99}      # no session named: the last one recorded


def test_state_after_an_invocation():
    assert state_after(RECORDS, "s", "i1") == {"a": 1}
    assert state_after(RECORDS, "s", "i2") == {"a": 1, "b": 2}


def test_states_by_turn_start_with_the_session_and_follow_each_invocation():
    assert states_by_turn(RECORDS, "s") == [(None, {"a": 0}), ("first", {"a": 1}),
                                            ("second", {"a": 1, "b": 2})]
