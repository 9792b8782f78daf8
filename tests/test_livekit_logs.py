"""A job's log capture: every record reaches the job's trace whole; where no logging is
configured, Python's last-resort print of a WARNING or worse still happens, in one line."""
import logging

from agentnb.core.guard import Guard
from agentnb.livekit.logs import JobLogCapture


def test_a_warning_with_a_traceback_prints_one_line_and_the_capture_keeps_it_whole(capsys):
    root, kept = logging.getLogger(), []
    saved = root.handlers[:]
    root.handlers.clear()   # as in a kernel where nobody configured logging
    capture = JobLogCapture(kept.append, Guard(logging.getLogger("agentnb.test")), logging.INFO)
    capture.install()
    try:
        try:
            raise RuntimeError("the speaker is unplugged")
        except RuntimeError:
            logging.getLogger("livekit.agents").exception("Error in _llm_inference_task")
        logging.getLogger("livekit.agents").warning("plain %s", "warning")
    finally:
        capture.uninstall()
        root.handlers[:] = saved
    printed = capsys.readouterr().err.splitlines()
    assert printed == ["Error in _llm_inference_task (its traceback is in agentnb's view)",
                       "plain warning"]
    assert [r.getMessage() for r in kept] == ["Error in _llm_inference_task", "plain warning"]
    assert kept[0].exc_info and kept[0].exc_info[0] is RuntimeError
