"""Agents written the way LiveKit's own examples (livekit/agents `examples/`) write them, for
issue 12: each module is one shape, with the example's `server = AgentServer()`,
`@server.rtc_session()` entrypoint and, where the example has one, `prewarm(proc)`.

They are meant to run UNCHANGED under `NotebookJob(entrypoint=module.entrypoint,
llm=ScriptedLLM(...), prewarm=module.prewarm)`: each builds its own "cloud" model the way an
example builds `openai.LLM(...)` / `inference.LLM(...)` (here `CloudLLM`, which must never be
called offline) and starts its session with `session.start(agent=..., room=ctx.room)`.

- `basic`        a basic agent with a tool, a `ToolError`, a greeting in `on_enter`, prewarmed VAD
- `multi_agent`  intro agent that hands off to a story agent (a tool returns an `Agent`); the
                 story agent brings its own model, like the example's realtime model
- `restaurant`   greeter/reservation/takeaway/checkout handoffs through `userdata.agents`, rich
                 userdata: nested dataclasses, Agent instances, a client object, card data
- `drive_thru`   an order held in userdata (pydantic items, a change hook), tools built per
                 menu, `ToolError` for unknown items, no greeting
- `survey`       `AgentTask`s in a `TaskGroup` (LiveKit's own `GetEmailTask` among them), a
                 summary and an evaluation made with `session.llm`
"""
SHAPES = ("basic", "multi_agent", "restaurant", "drive_thru", "survey")
