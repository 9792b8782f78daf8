"""An agent with a code executor, like ADK's code_execution sample but run locally with
`UnsafeLocalCodeExecutor`: the scripted model answers with a fenced code block, ADK executes
it and feeds the output back, and the model then answers in words."""
from google.adk.agents import LlmAgent
from google.adk.code_executors import UnsafeLocalCodeExecutor

from agentnb.adk import ScriptedLlm, reply

from . import Case

CODE = "```python\nprint(6 * 7)\n```"


def build() -> Case:
    agent = LlmAgent(
        name="calculator",
        model=ScriptedLlm([reply(CODE), reply("The answer is 42.")]),
        instruction="Write and run Python code to answer.",
        code_executor=UnsafeLocalCodeExecutor(),
    )
    return Case(
        name="code_executor", root=agent, turns=["What is six times seven?"],
        statuses=["ok"],
        event_kinds={"executable_code", "code_execution_result"},
        sources=[("_code_execution_context", "event:calculator")],
        extra={"code": "print(6 * 7)", "output": "42"},
        notes="ADK extracts the fenced block from the model's text (code_block_delimiters).",
    )
