"""OpenTelemetry set-up, trace context for events, and JSON logs that carry the trace id."""

import json
import logging
import sys
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Iterator

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, SamplingResult, TraceIdRatioBased
from opentelemetry.trace import SpanKind

tracer = trace.get_tracer("motcua")
_configured = False


class RecordWhenExported(Sampler):
    """Records spans only once something receives them (an exporter, a test's processor), then samples
    `ratio` of the root traces (children follow their parent). Unrecorded spans still carry trace and
    span ids, so events and logs keep joining across services; they cost a fraction of a recorded span
    (loadtests/README.md, Profiles: a third of the lookup's CPU went to spans nobody received)."""

    def __init__(self, ratio: float = 1.0):
        self.recording = False
        self.ratio = ratio
        self._sampled = ParentBased(TraceIdRatioBased(ratio))

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                      trace_state=None) -> SamplingResult:
        chosen = self._sampled if self.recording else ALWAYS_OFF
        return chosen.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"RecordWhenExported(recording={self.recording}, ratio={self.ratio})"


def setup_tracing(service_name: str, exporter: str = "none", endpoint: str = "", *,
                  extra_processor: SpanProcessor | None = None, sample_ratio: float = 1.0) -> TracerProvider:
    """Install the process-wide tracer provider once (embedded mode runs every service in one process)."""
    global _configured
    provider = trace.get_tracer_provider()
    if _configured and isinstance(provider, TracerProvider):
        if extra_processor is not None:
            provider.add_span_processor(extra_processor)
            if isinstance(provider.sampler, RecordWhenExported):
                provider.sampler.recording = True
        return provider
    sampler = RecordWhenExported(sample_ratio)
    sampler.recording = exporter != "none" or extra_processor is not None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}), sampler=sampler)
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # optional dependency

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def recording() -> bool:
    """Whether spans are recorded here (an exporter or a test's processor receives them)."""
    sampler = getattr(trace.get_tracer_provider(), "sampler", None)
    return isinstance(sampler, RecordWhenExported) and sampler.recording


class TraceContext:
    """ASGI middleware for when nothing records spans: only takes the caller's trace context from the
    request headers (traceparent), so the events this request causes and the log lines it writes keep
    the caller's trace id. A quarter of the lookup's CPU went to the full instrumentation's unrecorded
    spans (loadtests/README.md, Profiles)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {}
        for name, value in scope.get("headers", ()):
            if name in (b"traceparent", b"tracestate"):
                carrier[name.decode()] = value.decode("latin-1")
        if not carrier:
            await self.app(scope, receive, send)
            return
        token = context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def consumer_span(*, topic: str, group: str, event_type: str, event_id: str,
                  traceparent: str | None, tracestate: str | None = None) -> Iterator[trace.Span]:
    """A CONSUMER span parented on the producer's trace context carried with the event."""
    carrier = {k: v for k, v in (("traceparent", traceparent), ("tracestate", tracestate)) if v}
    parent = propagate.extract(carrier)
    token = context.attach(parent)
    try:
        with tracer.start_as_current_span(f"{topic} process", kind=SpanKind.CONSUMER, attributes={
            "messaging.system": "kafka", "messaging.destination.name": topic,
            "messaging.consumer.group.name": group, "messaging.message.id": event_id,
            "cloudevents.event_type": event_type,
        }) as span:
            yield span
    finally:
        context.detach(token)


@contextmanager
def producer_span(*, topic: str, event_type: str, event_id: str,
                  traceparent: str | None, tracestate: str | None = None) -> Iterator[dict[str, str]]:
    """A PRODUCER span in the event's own trace; yields the headers to send (this span as parent)."""
    carrier = {k: v for k, v in (("traceparent", traceparent), ("tracestate", tracestate)) if v}
    parent = propagate.extract(carrier) if carrier else context.get_current()
    token = context.attach(parent)
    try:
        with tracer.start_as_current_span(f"{topic} publish", kind=SpanKind.PRODUCER, attributes={
            "messaging.system": "kafka", "messaging.destination.name": topic,
            "messaging.message.id": event_id, "cloudevents.event_type": event_type,
        }):
            yield current_trace_headers()
    finally:
        context.detach(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line with trace and span ids, so logs join traces."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        for key in ("service", "event_type", "event_id", "topic", "group", "status", "path", "method", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


# Libraries kept at WARNING whatever the level: some log statements with their parameters at DEBUG
# (aiosqlite, pymongo's command log), and those parameters are citizens' records.
# httpx logs every request's full URL at INFO: a webhook or SMS gateway URL may carry a token.
QUIET_LOGGERS = ("aiokafka", "pymongo", "aiosqlite", "uvicorn.access", "httpx")


def setup_logging(level: str = "INFO", fmt: str = "json") -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
