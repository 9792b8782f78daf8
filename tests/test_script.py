"""The scripted models' step language (agentnb/core/script.py)."""
import pytest

from agentnb.core.script import Call, Reply, Script, ScriptRanOut, call, reply


def test_steps_are_taken_in_order_and_running_out_says_how_to_go_on():
    script = Script([reply("a"), call("t", x=1), [call("t", x=2), call("u")], "plain"], "ScriptedLlm")
    assert script.next(None, str) == [Reply("a")]
    assert script.next(None, str) == [Call("t", {"x": 1})]
    assert script.next(None, str) == [Call("t", {"x": 2}), Call("u", {})]
    assert script.next(None, str) == [Reply("plain")]
    with pytest.raises(ScriptRanOut, match=r"it had 4 steps and this is model call 5\. To go on"):
        script.next(None, str)


def test_one_callable_answers_every_call_and_never_runs_out():
    script = Script(lambda request: reply(f"you said {request}"), "ScriptedLlm")
    assert [script.next(n, str) for n in range(3)] == [[Reply(f"you said {n}")] for n in range(3)]
    assert script.calls == 3


def test_no_script_echoes_and_a_bad_script_is_a_clear_error():
    assert Script(None, "ScriptedLlm").next(None, lambda: "hello") == [Reply("hello")]
    with pytest.raises(TypeError, match="steps must be a list or a callable"):
        Script("not a list", "ScriptedLlm")
    with pytest.raises(TypeError, match="step 1 is"):
        Script([42], "ScriptedLlm").next(None, str)
