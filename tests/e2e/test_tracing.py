"""One request through the gateway makes one trace: gateway → dossier service → Kafka → consumer."""

import contextlib

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from catalog.app import create_app as catalog_app
from catalog.settings import CatalogSettings
from dossier.app import create_app as dossier_app
from dossier.settings import DossierSettings
from gateway.app import create_app as gateway_app
from gateway.settings import GatewaySettings
from kit import telemetry
from kit.testing import KAFKA, MONGODB, eventually, require_server, running_server, unique
from notification.app import create_app as notification_app
from notification.settings import NotificationSettings

from .helpers import submission_form

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def test_one_trace_spans_gateway_service_kafka_and_consumer():
    require_server("Kafka", KAFKA)
    require_server("FerretDB", MONGODB)
    exporter = InMemorySpanExporter()
    telemetry.setup_tracing("motcua-test", extra_processor=SimpleSpanProcessor(exporter))
    run = unique("tr")
    common = dict(bus="kafka", store="mongodb", kafka_bootstrap=KAFKA, mongodb_url=MONGODB,
                  topic_prefix=f"{run}.", database_prefix=f"{run}_", outbox_poll_seconds=0.2)
    async with contextlib.AsyncExitStack() as stack:
        catalog = await stack.enter_async_context(running_server(catalog_app(CatalogSettings(**common, seed_demo=True))))
        dossier = await stack.enter_async_context(
            running_server(dossier_app(DossierSettings(**common, catalog_url=catalog))))
        await stack.enter_async_context(running_server(notification_app(NotificationSettings(**common))))
        gateway = await stack.enter_async_context(running_server(gateway_app(GatewaySettings(
            catalog_url=catalog, dossier_url=dossier, lookup_url="http://127.0.0.1:9", payment_url="http://127.0.0.1:9",
            notification_url="http://127.0.0.1:9", feedback_url="http://127.0.0.1:9"))))
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
            login = await client.post("/auth/dev/token", json={"username": "citizen1"})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            exporter.clear()
            r = await client.post("/api/v1/dossiers", **submission_form(), headers=headers)
            assert r.status_code == 201, r.text

        def consumed():
            return [s for s in exporter.get_finished_spans() if s.kind == SpanKind.CONSUMER
                    and s.attributes.get("messaging.consumer.group.name") == "notification"]

        consumer = (await eventually(consumed, timeout=30))[0]
        trace_id = consumer.context.trace_id
        in_trace = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
        names = {(s.kind, s.name) for s in in_trace}
        assert (SpanKind.SERVER, "POST /api/v1/dossiers") in names  # the gateway, named by its role-matrix route
        assert (SpanKind.CLIENT, "POST dossier") in names  # the gateway's call to the service
        assert (SpanKind.SERVER, "POST /dossiers") in names  # the dossier service
        assert (SpanKind.PRODUCER, "dossier.events publish") in names  # the outbox relay onto Kafka
        assert (SpanKind.CONSUMER, "dossier.events process") in names  # the notification consumer
        by_id = {s.context.span_id: s for s in in_trace}
        # The consumer hangs off the producer span, which hangs off the dossier request.
        producer = by_id[consumer.parent.span_id]
        assert producer.kind == SpanKind.PRODUCER
        assert by_id[producer.parent.span_id].name.startswith("POST /dossiers")
