"""The peers a user could switch on instead of agentnb, each run on bare ADK beside it: ADK's own
OpenTelemetry spans, and Phoenix's OpenInference instrumentation; both export to memory."""
from __future__ import annotations


def install_switchable_otel():
    """A global TracerProvider that is the SDK one (SimpleSpanProcessor → InMemorySpanExporter)
    while `switch.on`, and the no-op tracer otherwise: ADK's module-level tracer is a proxy that
    binds to the global provider once, so this is how OTel and bare runs share one process."""
    from opentelemetry import trace as ot
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    sdk = TracerProvider()
    sdk.add_span_processor(SimpleSpanProcessor(exporter))
    noop = ot.NoOpTracer()

    class SwitchTracer(ot.Tracer):
        def __init__(self, real):
            self.real = real

        def start_span(self, *args, **kwargs):
            return (self.real if switch.on else noop).start_span(*args, **kwargs)

        def start_as_current_span(self, *args, **kwargs):
            return (self.real if switch.on else noop).start_as_current_span(*args, **kwargs)

    class Switch(ot.TracerProvider):
        on = False

        def get_tracer(self, *args, **kwargs):
            return SwitchTracer(sdk.get_tracer(*args, **kwargs))

    switch = Switch()
    ot.set_tracer_provider(switch)
    return switch, exporter


class OpenInference:
    """Phoenix's `openinference-instrumentation-google-adk` on its own SDK TracerProvider with a
    synchronous in-memory exporter, switched on only around its own side's runs (it wraps ADK's
    `Runner.run_async` and `BaseAgent.run_async` for every runner in the process)."""

    def __init__(self):
        from openinference.instrumentation.google_adk import GoogleADKInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.instrumentor = GoogleADKInstrumentor()

    def __enter__(self):
        # skip_dep_check: the check reads every installed distribution's metadata, each time
        self.instrumentor.instrument(tracer_provider=self.provider, skip_dep_check=True)
        return self

    def __exit__(self, *exc):
        self.instrumentor.uninstrument()
        return False


def make_peer_sides(base_side, make_bare, total):
    """{name: side} for the two peers, each a bare ADK runner (`base_side` is BareSide)."""
    switch, otel_exporter = install_switchable_otel()
    openinference = OpenInference()

    class PeerSide(base_side):
        def __init__(self, runner, exporter):
            super().__init__(runner)
            self.exporter = exporter
            self.spans = self.invocations = 0

        async def run(self, k):
            await super().run(k)
            self.invocations += k

        def drain(self):
            self.spans += len(self.exporter.get_finished_spans())
            self.exporter.clear()

        def reset(self):
            self.drain()
            self.spans = self.invocations = 0

    class OtelSide(PeerSide):
        async def run(self, k):
            switch.on = True
            try:
                await super().run(k)
            finally:
                switch.on = False

    class OpenInferenceSide(PeerSide):
        # Instrumenting is outside the clock: `_rounds` times `run` only, so it goes in
        # `prepare`/`done`, which the round calls around the timed part.
        def prepare(self):
            openinference.__enter__()

        def done(self):
            openinference.__exit__(None, None, None)

    return {"otel": OtelSide(make_bare(total), otel_exporter),
            "openinference": OpenInferenceSide(make_bare(total), openinference.exporter)}
