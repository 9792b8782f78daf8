"""Size of a saved notebook after a 1,000-event run with the dashboard shown.

A generated notebook runs 125 invocations in 5 sessions (user message, 3 tool calls and their responses, a
reply: 8 events each) in a real kernel with nbclient, widget state stored as Jupyter saves it;
the file is written with nbformat and measured. The baseline is the same run with bare ADK
(no agentnb view at all); a variant keeps the default `display=True` (a live card per `ask`).
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from _common import SRC, rnd

INVOCATIONS = 125
SESSIONS = 5      # 25 invocations each: ADK's cost per invocation grows with the session's length
LOOP = (f"for s in range({SESSIONS}):\n    await runner.new_session()\n"
        f"    for _ in range({INVOCATIONS // SESSIONS}):\n        await runner.ask('go')")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

SETUP = f"""
import json, sys
sys.path.insert(0, {str(SRC)!r})
from google.adk.agents import LlmAgent
from agentnb.adk import NotebookRunner, ScriptedLlm, reply, call

def bump(i: int, tool_context) -> dict:
    \"\"\"Add one to the session's counter.\"\"\"
    tool_context.state["count"] = tool_context.state.get("count", 0) + 1
    return {{"ok": i, "count": tool_context.state["count"]}}

steps = [call("bump", i=0), call("bump", i=1), call("bump", i=2), reply("done")] * {INVOCATIONS}
agent = LlmAgent(name="bench_agent", model=ScriptedLlm(steps), instruction="Count.", tools=[bump])
"""

VARIANTS = {
    "dashboard": [
        "runner = NotebookRunner(agent, app_name='bench', display=False)\ndash = runner.view()\ndash",
        LOOP,
        "print(json.dumps({'events': len(runner.events()), 'records': len(runner.trace)}))",
    ],
    "dashboard+cards": [
        "runner = NotebookRunner(agent, app_name='bench')\ndash = runner.view()\ndash",
        LOOP,
        "print(json.dumps({'events': len(runner.events()), 'records': len(runner.trace)}))",
    ],
    "bare_adk": [
        "from google.adk.apps.app import App\nfrom google.adk.runners import Runner\n"
        "from google.adk.sessions import InMemorySessionService\n"
        "from google.adk.artifacts import InMemoryArtifactService\nfrom google.genai import types\n"
        "runner = Runner(app=App(name='bench', root_agent=agent), "
        "session_service=InMemorySessionService(), artifact_service=InMemoryArtifactService())",
        f"events = 0\nfor s in range({SESSIONS}):\n"
        "    session = await runner.session_service.create_session(app_name='bench', user_id='u')\n"
        f"    for _ in range({INVOCATIONS // SESSIONS}):\n"
        "        msg = types.Content(role='user', parts=[types.Part(text='go')])\n"
        "        events += 1\n"
        "        async for _ in runner.run_async(user_id='u', session_id=session.id, new_message=msg):\n"
        "            events += 1",
        "print(json.dumps({'events': events}))",
    ],
}


def _execute(cells, workdir):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(c) for c in cells]
    t = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    took = time.perf_counter() - t
    path = Path(workdir) / "run.ipynb"
    nbformat.write(nb, path)
    counts = {}
    for out in nb.cells[-1].outputs:
        if out.get("output_type") == "stream":
            counts = json.loads(out["text"].strip().splitlines()[-1])
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    widget_bytes = len(json.dumps(nb.metadata.get("widgets", {})))
    outputs_bytes = len(json.dumps([c.get("outputs", []) for c in nb.cells]))
    return {"kb": rnd(path.stat().st_size / 1024, 1), "events": counts.get("events"),
            "records": counts.get("records"), "widgets": len(state),
            "widget_state_kb": rnd(widget_bytes / 1024, 1), "outputs_kb": rnd(outputs_bytes / 1024, 1),
            "execute_s": rnd(took, 1)}


def run_notebook(quick: bool) -> dict:
    names = ["dashboard"] if quick else ["dashboard", "bare_adk", "dashboard+cards"]
    out = {}
    with tempfile.TemporaryDirectory(prefix="agentnb-bench-nb-") as tmp:
        for name in names:
            out[name] = _execute(VARIANTS[name], tmp)
    head = out["dashboard"]
    return {
        "notebook_kb_1000_events": head["kb"] if head["events"] == 1000 else None,
        "details": {"notebook": {
            "workload": f"{INVOCATIONS} invocations x 8 events ({SESSIONS} sessions) in a real kernel (nbclient, "
                        "store_widget_state=True), saved with nbformat",
            **out,
        }},
    }
