"""Without an exporter, a service records no spans but keeps its caller's trace: the events a request
causes carry the traceparent's trace id, so logs and events still join across services."""

from fastapi import APIRouter

from kit import telemetry
from kit.bus.memory import MemoryBus
from kit.events import new_event
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.settings import PlatformSettings
from kit.testing import eventually, serving

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def test_an_unrecorded_request_passes_its_callers_trace_on_to_its_events():
    if telemetry.recording():  # a test before this one installed a recording provider: this path is not taken
        sampler = telemetry.trace.get_tracer_provider().sampler
        sampler.recording, was = False, True
    else:
        was = None
    try:
        bus = MemoryBus()
        received = []

        async def handler(event):
            received.append(event)

        runtime = Runtime(PlatformSettings(service_name="traced"), bus=bus, uses_store=False)
        bus.subscribe("t.events", "g", handler)
        router = APIRouter()

        @router.post("/things")
        async def make() -> dict:
            await bus.publish("t.events", new_event(source="/t", type="vn.motcua.t.v1", subject="x", data={}), key="x")
            return {}

        app = create_service_app(runtime, title="t", description="t", routers=[router])
        assert not any("OpenTelemetryMiddleware" in repr(m) for m in app.user_middleware)
        async with serving(app) as client:
            assert (await client.post("/things", headers={"traceparent": TRACEPARENT})).status_code == 200
            await eventually(lambda: received, timeout=10)
        assert received[0].traceparent.split("-")[1] == TRACE_ID
    finally:
        if was is not None:
            telemetry.trace.get_tracer_provider().sampler.recording = was
