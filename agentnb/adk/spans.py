"""Where the time went: ADK's own OpenTelemetry spans, recorded in memory and joined to events.

ADK emits its spans (`invoke_workflow`, `invoke_agent`, `generate_content`, `execute_tool`)
through a module-level tracer that is a proxy of OpenTelemetry's global `TracerProvider`. To
see them agentnb adds one span processor to that provider: the user's own SDK provider when
they set one (their processors and exporters stay as they were), else a new SDK provider with
no exporter, set as the global one. The processor keeps the spans of ADK's tracer, and the
spans started inside them (a user's own spans in a tool), until the run's root span ends; then
the run's spans become one `spans` fact of the runner whose session ran.

It is opt-in (`NotebookRunner(..., spans=True)` or `runner.record_spans()`): with no
provider ADK's spans are no-ops, and a real SDK span costs CPU on every model and tool call
(the bench's `adk_otel_overhead_ratio`). Once the global provider is set it stays for the
process (OpenTelemetry sets it once): later ADK runs make real spans, recorded only for the
runners that asked.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any

from ..core.records import Fact
from ..core.timing import join_invocations
from ..core.trace import Trace

ADK_TRACER = "gcp.vertex.agent"   # ADK's instrumenting module name (google/adk/telemetry/tracing.py)
_ATTRIBUTES = {"invocation_id": "gcp.vertex.agent.invocation_id",
               "event_id": "gcp.vertex.agent.event_id", "call_id": "gen_ai.tool.call.id"}
_SESSION = "gen_ai.conversation.id"


class SpanRecording:
    """What one runner records: the spans of runs in the sessions its observer knows."""

    def __init__(self, trace: Trace, observer: Any) -> None:
        self.trace, self.observer = trace, observer

    def takes(self, session_id: str | None) -> bool:
        return session_id is not None and self.observer.knows(session_id)


class SpanHub:
    """One OpenTelemetry span processor for the process, feeding every `SpanRecording`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._roots: dict[int, int] = {}               # open span id -> its run's root span id
        self._ended: dict[int, list[dict[str, Any]]] = {}   # root span id -> its ended spans
        self.recordings: weakref.WeakSet[SpanRecording] = weakref.WeakSet()

    # -- OpenTelemetry's SpanProcessor interface --
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if not self.recordings:
            return
        parent = span.parent.span_id if span.parent is not None else None
        with self._lock:
            root = self._roots.get(parent) if parent is not None else None
            if root is None and getattr(span.instrumentation_scope, "name", None) != ADK_TRACER:
                return   # not ADK's, and not inside an ADK span
            own = span.context.span_id
            self._roots[own] = own if root is None else root

    def on_end(self, span: Any) -> None:
        own = span.context.span_id
        with self._lock:
            root = self._roots.pop(own, None)
            if root is None or (root != own and root not in self._roots):
                return   # not recorded, or ended after its run's root (nothing shows it)
            ended = self._ended.setdefault(root, [])
            ended.append(_as_dict(span))
            if root != own:
                return
            del self._ended[root]
        self._deliver(ended)

    def _on_ending(self, span: Any) -> None:   # the SDK's hook before a span ends: unused
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def _deliver(self, spans: list[dict[str, Any]]) -> None:
        root = spans[-1]
        session_id = root.pop("session_id", None) or next(
            (s["session_id"] for s in spans if s.get("session_id")), None)
        for s in spans:
            s.pop("session_id", None)
        join_invocations(spans)
        spans.sort(key=lambda s: s["start"])
        for recording in list(self.recordings):
            if recording.takes(session_id):
                recording.trace.append(Fact(session_id, root["invocation_id"], root["end"],
                                            "spans", {"spans": spans}))
                return


def _as_dict(span: Any) -> dict[str, Any]:
    attributes = span.attributes or {}
    parent = span.parent.span_id if span.parent is not None else None
    out: dict[str, Any] = {
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": None if parent is None else f"{parent:016x}",
        "name": span.name, "start": span.start_time / 1e9, "end": span.end_time / 1e9,
        "session_id": attributes.get(_SESSION)}
    out.update({k: attributes.get(a) for k, a in _ATTRIBUTES.items()})
    return out


_hub: SpanHub | None = None
_hub_lock = threading.Lock()


def hub() -> SpanHub:
    """The process's span processor, added to the global TracerProvider on first use: the
    user's SDK provider if one is set, else a new SDK provider (no exporter) set as global."""
    global _hub
    with _hub_lock:
        if _hub is not None:
            return _hub
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        provider: Any = trace.get_tracer_provider()
        if isinstance(provider, trace.ProxyTracerProvider):   # none set yet
            trace.set_tracer_provider(TracerProvider())
            provider = trace.get_tracer_provider()   # ours, or one set in between
        if not callable(getattr(provider, "add_span_processor", None)):
            raise RuntimeError(f"agentnb: OpenTelemetry's global TracerProvider is a "
                               f"{type(provider).__name__}, which takes no span processor: "
                               f"spans need the SDK's TracerProvider")
        _hub = SpanHub()
        provider.add_span_processor(_hub)
        return _hub


class Spans:
    """`record_spans()` for `NotebookRunner` (a base class of it)."""

    trace: Trace
    observer: Any
    _span_recording: SpanRecording | None = None

    def record_spans(self) -> None:
        """From now on, record ADK's OpenTelemetry spans of this runner's runs: `spans()` and
        a waterfall in each card. Beside a user's own exporter (see agentnb.adk.spans)."""
        if self._span_recording is None:
            self._span_recording = SpanRecording(self.trace, self.observer)
            hub().recordings.add(self._span_recording)

    @property
    def records_spans(self) -> bool:
        return self._span_recording is not None
