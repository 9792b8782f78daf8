'''The answers to the notebooks' exercises, kept out of the notebooks: exercise cell id ->
what a learner might write above the cell's `# ---- check ----` line, one wrong and one right.
`tests/test_exercises.py` runs every notebook with each (docs/teaching.md, "Exercises").'''

ANSWERS = {
    # 00_tour
    "ee6a143e": {"wrong": "answer = True", "right": "answer = False"},
    "tour-ex-code": {
        "wrong": '''def forgotten(history, stored_state) -> set:
    return set(stored_state)''',
        "right": '''def forgotten(history, stored_state) -> set:
    return {key for key in history.key if key not in stored_state}''',
    },
    # 01_invocation_context
    "b7bb7a8f": {"wrong": "answer = 3", "right": "answer = 1"},
    "nb01-ex-where": {"wrong": "answer = True", "right": "answer = False"},
    "nb01-ex-code": {
        "wrong": '''def stop_on_critical_error(callback_context):
    if callback_context.state.get("critical_error_flag"):
        callback_context.state["stopped"] = True''',
        "right": '''def stop_on_critical_error(callback_context):
    if callback_context.state.get("critical_error_flag"):
        return types.Content(role="model", parts=[types.Part(text="Stopping: critical error.")])
    return None''',
    },
}
ANSWERS.update({
    # 02_state_scopes
    "af0f807b": {"wrong": 'answer = {"app:notes_taken", "user:fact", "last_fact"}',
                 "right": 'answer = {"app:notes_taken", "user:fact"}'},
    "nb02-ex-code": {
        "wrong": '''def count_orders(tool_context: ToolContext) -> dict:
    return {"count": len(tool_context.state.get("orders", []))}''',
        "right": '''def count_orders(tool_context: ToolContext) -> dict:
    return {"count": len(tool_context.state.get("temp:orders", []))}''',
    },
})
ANSWERS.update({
    # 03_artifacts
    "b883b8df": {"wrong": 'answer = ["user:avatar.png", "draft.txt"]', "right": 'answer = ["user:avatar.png"]'},
    "nb03-ex-code": {
        "wrong": '''async def save_note(text: str, tool_context: ToolContext) -> dict:
    version = await tool_context.save_artifact("note.txt", types.Part(text=text))
    return {"version": version}''',
        "right": '''async def save_note(text: str, tool_context: ToolContext) -> dict:
    try:
        return {"version": await tool_context.save_artifact("note.txt", types.Part(text=text))}
    except ValueError as error:
        return {"error": str(error)}''',
    },
})
ANSWERS.update({
    # 04_tools_memory_auth
    "d76158db": {"wrong": 'answer = {"runs": 2, "same_id": False}', "right": 'answer = {"runs": 2, "same_id": True}'},
    "nb04-ex-code": {
        "wrong": '''def remember_city(city: str, tool_context: ToolContext) -> dict:
    tool_context.state["city"] = city
    return {"saved": city}''',
        "right": '''def remember_city(city: str, tool_context: ToolContext) -> dict:
    tool_context.state["city"] = city
    tool_context.actions.skip_summarization = True
    return {"saved": city}''',
    },
})
ANSWERS.update({
    # 05_callbacks_and_contexts
    "8745536e": {"wrong": "answer = 1", "right": "answer = 2"},
    "nb05-ex-who": {"wrong": 'answer = "KeyError"', "right": 'answer = "TypeError"'},
    "nb05-ex-code": {
        "wrong": '''def my_instruction_provider(context: ReadonlyContext) -> str:
    return f"Process the request for a {context.state.get('user_tier')} user."''',
        "right": '''def my_instruction_provider(context: ReadonlyContext) -> str:
    user_tier = context.state.get("user_tier", "standard")
    return f"Process the request for a {user_tier} user."''',
    },
})
ANSWERS.update({
    # 06_livekit_jobcontext
    "lk06-25": {"wrong": 'answer = {"printed_room": "hotel-desk", "job_room": "hotel-desk", "started_fields": {}}',
                "right": 'answer = {"printed_room": "console", "job_room": "hotel-desk", '
                         '"started_fields": {"job_id": job.context.job.id}}'},
    "lk06-ex-code": {
        "wrong": '''async def my_entrypoint(ctx: JobContext):
    await ctx.connect()
    ctx.log_context_fields = {"job_id": ctx.job.id, "room": ctx.room.name}
    logger.info("작업 시작!")''',
        "right": '''async def my_entrypoint(ctx: JobContext):
    await ctx.connect()
    ctx.log_context_fields = {"job_id": ctx.job.id, "room": ctx.job.room.name}
    logger.info("작업 시작!")''',
    },
})
ANSWERS.update({
    # 07_livekit_agentsession
    "lk07-25": {"wrong": 'answer = "tool:add_request"', "right": 'answer = "userdata"'},
    "lk07-ex-code": {
        "wrong": '''async def cancel(context: RunContext[Booking]) -> str:
    context.userdata.room_type = None
    return "cancelled"''',
        "right": '''async def cancel(context: RunContext[Booking]) -> str:
    context.userdata.room_type = None
    context.userdata.nights = 0
    context.userdata.requests = []
    return "cancelled"''',
    },
})
ANSWERS.update({
    # 08_history_with_pandas
    "e004c60f": {"wrong": 'answer = "tool:spend"', "right": 'answer = "before_model_callback:budget"'},
    "nb08-ex-code": {
        "wrong": '''def biggest_drop(history, turns) -> str:
    return turns.user_text.iloc[-1]''',
        "right": '''def biggest_drop(history, turns) -> str:
    balance = history[(history.key == "balance") & history.invocation_id.notna()]
    drops = balance.old.astype(float) - balance.new.astype(float)
    return turns.loc[balance.loc[drops.idxmax(), "invocation_id"], "user_text"]''',
    },
    # 09_what_if
    "90fee118": {"wrong": "answer = 4", "right": "answer = 3"},
    "nb09-ex-code": {
        "wrong": '''async def tea_in(size: str):
    await runner.ask("A tea, please")
    return runner''',
        "right": '''async def tea_in(size: str):
    child = await runner.fork(at=turn1.invocation_id, state_overrides={"size": size})
    await child.ask("A tea, please")
    return child''',
    },
})
ANSWERS.update({
    # 10_adk_in_livekit (the room exercises need a LiveKit server: tests/test_exercises.py gives one)
    "nb10-ex-what": {"wrong": "answer = ToolContext", "right": "answer = LiveKitCall"},
    "nb10-ex-who": {"wrong": 'answer = {"adk-agent", "guest"}', "right": 'answer = {"adk-agent"}'},
    "nb10-ex-code": {
        "wrong": '''def remember_floor(tool_context: ToolContext) -> dict:
    [guest] = current_call(tool_context).room.remote_participants.values()
    tool_context.state["floor"] = guest.attributes["floor"]
    return {"floor": guest.attributes["floor"]}''',
        "right": '''def remember_floor(tool_context: ToolContext) -> dict:
    [guest] = current_call(tool_context).room.remote_participants.values()
    tool_context.state["user:floor"] = guest.attributes["floor"]
    return {"floor": guest.attributes["floor"]}''',
    },
})
ANSWERS.update({
    # 11_edit_and_import
    "nb11-ex-where": {"wrong": 'answer = {"app:currency", "user:name"}', "right": 'answer = {"app:currency"}'},
    "nb11-ex-what": {"wrong": 'answer = "tool:remember"', "right": 'answer = "event:notes"'},
    "nb11-ex-code": {
        "wrong": '''async def prepare(runner) -> None:
    await runner.set_state({"cart": ["bread"], "name": "Ada L."})''',
        "right": '''async def prepare(runner) -> None:
    await runner.set_state({"cart": ["bread"], "user:name": "Ada L."})''',
    },
    # 12_evals_and_time
    "nb12-ex-what": {"wrong": "answer = 0.0", "right": "answer = 0.5"},
    "nb12-ex-spans": {"wrong": 'answer = {"model_calls": 1, "tool_calls": 1}',
                      "right": 'answer = {"model_calls": 2, "tool_calls": 1}'},
    "nb12-ex-code": {
        "wrong": '''def order_7_case() -> EvalCase:
    return EvalCase(eval_id="order_7", conversation=[Invocation(
        user_content=types.Content(role="user", parts=[types.Part(text="Where is order 7?")]),
        final_response=types.Content(role="model", parts=[types.Part(text="Order 7 is being packed.")]))])''',
        "right": '''def order_7_case() -> EvalCase:
    return EvalCase(eval_id="order_7", conversation=[Invocation(
        user_content=types.Content(role="user", parts=[types.Part(text="Where is order 7?")]),
        final_response=types.Content(role="model", parts=[types.Part(text="Order 7 is being packed.")]),
        intermediate_data=IntermediateData(
            tool_uses=[types.FunctionCall(name="order_status", args={"order_id": "7"})]))])''',
    },
})
