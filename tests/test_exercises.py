"""The notebooks' exercises (agentnb/exercises.py and docs/teaching.md, "Exercises"): the helper
on its own, then every notebook run three ways in a real kernel: blank (as committed: it finishes
and every exercise says "Not yet"), with a wrong answer (a hint), with the right one ("Right").
The answers live in tests/exercise_answers.py, never in the notebooks."""
import asyncio
import re

import nbformat
import pytest
from exercise_answers import ANSWERS
from test_notebooks import LIVEKIT_ENV, NOTEBOOKS, errors_of, execute, printed

from agentnb.exercises import BLANK, RIGHT, WRONG, check, check_code, is_blank

CHECK_LINE = "# ---- check ----"
VERDICT = {"blank": BLANK, "wrong": WRONG, "right": RIGHT}
# Notebooks whose exercises run in a real LiveKit room: their three runs get the test server
# (without one they run on as test_notebooks.py checks, and say the check needs a server).
NEEDS_A_SERVER = {"10_adk_in_livekit.ipynb"}


def exercise_cells(notebook):
    return [c for c in notebook.cells if "exercise" in c.metadata.get("tags", [])]


def with_answers(path, mode: str):
    """The notebook with each exercise's learner part replaced by the test's answer."""
    notebook = nbformat.read(path, as_version=4)
    for cell in exercise_cells(notebook):
        _, line, check_part = cell.source.partition(CHECK_LINE)
        cell.source = f"{ANSWERS[cell.id][mode].rstrip()}\n\n{line}{check_part}"
    return notebook


def verdicts(notebook) -> dict:
    """Exercise cell id -> the verdict lines it printed."""
    return {c.id: [line for line in printed(c).splitlines()
                   if line.startswith((f"{BLANK}:", f"{WRONG}:", f"{RIGHT}:"))]
            for c in exercise_cells(notebook)}


# --- the helper -------------------------------------------------------------------------------

def stub(x):
    """A docstring may stay."""
    ...


def passing(x):
    pass


def written(x):
    return x + 1


def test_blanks_are_told_apart_from_answers():
    assert is_blank(...) and is_blank({"a": 1, "b": ...}) and is_blank([1, ...])
    assert is_blank(stub) and is_blank(passing)
    assert not is_blank(written) and not is_blank(0) and not is_blank(None) and not is_blank({"a": None})
    assert not is_blank(len)                      # no source to read: not a stub


def test_check_says_not_yet_then_hints_then_right(capsys):
    check(..., 3, task="count the calls", hint="look at the Timeline", right="3 calls")
    check(2, 3, task="t", hint=lambda a: f"{a} is too few", right="r")
    check(3, 3, task="t", hint="h", right="3 calls")
    check(["b", "a"], {"a", "b"}, key=set, task="t", hint="h", right="sets")
    check(5, {"a"}, key=set, task="t", hint="h", right="r")             # no TypeError escapes
    check({"runs": 2, "same": ...}, {"runs": 2, "same": True}, task="both", hint="h", right="r")
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == ["Not yet: count the calls", "Not quite: 2 is too few", "Right: 3 calls", "Right: sets"]
    assert out[4].startswith("Not quite: h (your answer could not be compared:")
    assert out[5] == "Not yet: both" and len(out) == 6
    assert [line.split(":")[0] for line in out[:3]] == [BLANK, WRONG, RIGHT]


def test_check_code_runs_the_learners_function_and_never_raises(capsys):
    async def trial(fn):
        return None if fn(1) == 2 else f"got {fn(1)}"

    def broken(x):
        raise KeyError("temp:orders")

    def wrong(x):
        return x

    for fn in (stub, wrong, broken, written, 42):
        assert asyncio.run(check_code(fn, trial, task="write it", right="it adds one")) is None
    out = capsys.readouterr().out.splitlines()
    assert out == ["Not yet: write it", "Not quite: got 1", "Not quite: your code raised KeyError: 'temp:orders'",
                   "Right: it adds one", "Not quite: this should be a function (`def ...`), not a int."]


# --- the convention, for every notebook (also ones added later) --------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_exercises_one_asks_for_code_and_all_have_answers(path):
    cells = exercise_cells(nbformat.read(path, as_version=4))
    assert cells, f"{path.name} has no cell tagged 'exercise'"
    for cell in cells:
        assert cell.source.count(CHECK_LINE) == 1, f"{path.name}:{cell.id} needs one '{CHECK_LINE}' line"
        assert cell.id in ANSWERS, f"{path.name}:{cell.id} has no answers in tests/exercise_answers.py"
        assert set(ANSWERS[cell.id]) == {"wrong", "right"}, cell.id
    assert any("check_code(" in c.source for c in cells), f"{path.name}: no exercise asks for code"


def test_every_answer_belongs_to_an_exercise():
    ids = {c.id for p in NOTEBOOKS for c in exercise_cells(nbformat.read(p, as_version=4))}
    assert set(ANSWERS) <= ids, set(ANSWERS) - ids


# --- three ways, in a real kernel ----------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:The HMAC key is")
@pytest.mark.parametrize("mode", ["blank", "wrong", "right"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_runs_blank_wrong_and_right(path, mode, monkeypatch, request):
    """Blank is the notebook as committed; each exercise prints exactly one verdict, the one
    its answer deserves, and Run All finishes with no error; an exercise run a second time
    (the learner tries again) says the same."""
    for name in LIVEKIT_ENV:
        monkeypatch.delenv(name, raising=False)
    if path.name in NEEDS_A_SERVER:
        server = request.getfixturevalue("livekit_server")
        for name, value in zip(LIVEKIT_ENV, (server.url, server.api_key, server.api_secret), strict=True):
            monkeypatch.setenv(name, value)
    if mode == "blank":
        notebook = execute(path)
        runs = [notebook]
    else:
        notebook = with_answers(path, mode)
        runs = execute_then_rerun_exercises(notebook, path)
    for run in runs:
        assert not errors_of(run), [(e.ename, e.evalue) for e in errors_of(run)]
        for cell_id, lines in verdicts(run).items():
            assert len(lines) == 1 and lines[0].startswith(f"{VERDICT[mode]}:"), (cell_id, lines)
            if mode == "wrong":   # a hint says where to look, not just "wrong"
                assert len(re.sub(r"^Not quite:\s*", "", lines[0])) > 20, (cell_id, lines)


def execute_then_rerun_exercises(notebook, path):
    """Run All, then each exercise cell once more in the same kernel (a learner tries again):
    the notebook after Run All, and a copy holding only the second runs' outputs."""
    import copy
    from nbclient import NotebookClient
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    again = copy.deepcopy(notebook)

    async def run():
        async with client.async_setup_kernel():
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code":
                    await client.async_execute_cell(cell, index)
            again.cells = []
            for index, cell in enumerate(notebook.cells):
                if "exercise" in cell.metadata.get("tags", []):
                    again.cells.append(copy.deepcopy(cell))
                    # its own index: nbclient files display updates by the cell's place
                    await client.async_execute_cell(again.cells[-1], index)
    asyncio.run(run())
    return [notebook, again]
