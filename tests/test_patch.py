"""The live-patch wire format (agentnb/core/patch.py), and the page's side of it (view.js)."""
import re
import typing
from importlib import resources

from agentnb.core import patch

VIEW_JS = resources.files("agentnb").joinpath("static/view.js").read_text(encoding="utf-8")


def js_typedef(name: str) -> dict[str, str]:
    """The fields of a JSDoc `@typedef {{...}} name` in view.js."""
    match = re.search(r"@typedef \{\{(.*?)\}\} " + name + r"\b", VIEW_JS)
    assert match, f"view.js has no typedef {name}"
    fields = {}
    for part in re.split(r",\s*(?![^{]*\})", match.group(1)):
        key, _, kind = part.partition(":")
        fields[key.strip().rstrip("?")] = kind.strip()
    return fields


def test_the_page_types_the_ops_as_python_defines_them():
    for py_type, js_name in ((patch.HeadOp, "HeadOp"), (patch.AppendOp, "AppendOp"),
                             (patch.TailOp, "TailOp"), (patch.PatchMessage, "PatchMessage")):
        assert set(js_typedef(js_name)) == set(typing.get_type_hints(py_type)), js_name
    assert js_typedef("HeadOp")["op"] == '"head"' and js_typedef("AppendOp")["op"] == '"append"'
    assert js_typedef("TailOp")["op"] == '"tail"'
    assert js_typedef("PatchMessage")["kind"] == f'"{patch.PATCH_KIND}"'
    assert f'msg.kind !== "{patch.PATCH_KIND}"' in VIEW_JS
    assert set(js_typedef("Limits")) == set(patch.limits())


def test_the_page_takes_its_limits_from_python():
    for limit in (patch.MAX_ROWS, patch.CONTEXT_ROWS, patch.SHOWN_ROWS):
        assert not re.search(rf"\b{limit}\b", VIEW_JS)   # they come through the `limits` trait
    assert patch.limits() == {"maxRows": patch.MAX_ROWS, "contextRows": patch.CONTEXT_ROWS,
                              "shownRows": patch.SHOWN_ROWS}


def appends(n_rows: int, row: str, sections=("events",)):
    return [patch.AppendOp(op="append", section=s, html=[row] * n_rows) for s in sections]


def test_a_message_keeps_the_newest_rows_within_the_budget_and_counts_the_rest():
    rows = [f"<div>{i:04}</div>" for i in range(1000)]
    message = patch.message([patch.AppendOp(op="append", section="events", html=list(rows))],
                            budget=1000)
    (op,) = message["ops"]
    assert message["kind"] == patch.PATCH_KIND
    assert op["html"] == rows[-len(op["html"]):]              # the newest, in order
    assert sum(map(len, op["html"])) <= 1000
    assert op["skipped"] + len(op["html"]) == 1000            # the page's count stays right


def test_each_section_gets_its_share_and_at_least_one_row():
    big = "x" * 5000
    message = patch.message(appends(3, big, ("events", "lane-session")), budget=4000)
    assert [len(op["html"]) for op in message["ops"]] == [1, 1]
    assert [op["skipped"] for op in message["ops"]] == [2, 2]


def test_a_small_patch_goes_whole_and_a_head_untouched():
    head = patch.HeadOp(op="head", html="<div class=anb-head>x</div>")
    ops = [head, *appends(3, "<div>r</div>")]
    message = patch.message(ops)
    assert message["ops"][0] == head
    assert message["ops"][1]["html"] == ["<div>r</div>"] * 3 and "skipped" not in message["ops"][1]
