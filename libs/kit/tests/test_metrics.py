"""`/metrics` of a service built on the kit: the named metrics are there and move when work happens,
on each bus (in-process and Kafka) and each store (SQLite and the MongoDB-compatible one)."""

import asyncio

import pytest
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families

from kit.events import CloudEvent
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.settings import PlatformSettings
from kit.testing import FAST_RETRY, SwitchableBus, eventually, serving, unique


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when there is none)."""
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()))


def has(text: str, name: str, **labels: str) -> bool:
    return any(sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
               for family in text_string_to_metric_families(text) for sample in family.samples)


def thing_service(runtime: Runtime, topic: str) -> APIRouter:
    router = APIRouter()
    things = runtime.store.collection("things")

    @router.post("/things/{name}", status_code=201)
    async def create(name: str) -> dict:
        event = CloudEvent(source="/things", type="vn.motcua.test.thing.created.v1", subject=name, data={})
        await things.insert({"_id": name}, [{"id": event.id, "topic": topic, "key": name, "event": event.to_dict()}])
        runtime.notify_outbox()
        return {"name": name}

    return router


def app_for(runtime: Runtime, topic: str):
    return create_service_app(runtime, title="things", description="a test service",
                              routers=[thing_service(runtime, topic)])


async def test_requests_events_retries_and_dead_letters_are_counted(bus_factory, store):
    topic = unique("things")
    runtime = Runtime(PlatformSettings(service_name="things", outbox_poll_seconds=0.05), bus=bus_factory(FAST_RETRY),
                      store=store)
    runtime.outbox("things")
    flaky_calls = []

    async def fine(event):
        return None

    async def flaky(event):  # fails the first time only
        flaky_calls.append(event.id)
        if len(flaky_calls) == 1:
            raise RuntimeError("transient")

    async def poison(event):
        raise ValueError("never handled")

    runtime.subscribe(topic, "fine", fine, idempotent=False)
    runtime.subscribe(topic, "flaky", flaky, idempotent=False)
    runtime.subscribe(topic, "poison", poison, idempotent=False)
    async with serving(app_for(runtime, topic)) as client:
        before = (await client.get("/metrics")).text
        assert (await client.post(f"/things/{unique('n')}")).status_code == 201
        assert (await client.post("/things")).status_code in (404, 405)  # no route: counted, but not by its path

        async def scraped():
            text = (await client.get("/metrics")).text
            done = value(text, "motcua_events_dead_lettered_total", topic=topic, group="poison") == 1
            return text if done and value(text, "motcua_events_consumed_total", topic=topic, group="flaky") else None

        after = await eventually(scraped, timeout=30)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("motcua_http_server_requests_total", service="things", method="POST", route="/things/{name}",
                 status="201") == 1
    assert moved("motcua_http_server_requests_total", route="(unmatched)") == 1
    assert moved("motcua_http_server_duration_seconds_count", route="/things/{name}") == 1
    assert 'route="/things/' not in after.replace('route="/things/{name}"', "")  # never a raw path
    assert moved("motcua_events_published_total", topic=topic) == 1
    assert moved("motcua_events_consumed_total", topic=topic, group="fine", outcome="handled") == 1
    assert moved("motcua_events_consumed_total", topic=topic, group="flaky", outcome="handled") == 1
    assert moved("motcua_events_retries_total", topic=topic, group="flaky") == 1
    assert moved("motcua_events_retries_total", topic=topic, group="poison") == FAST_RETRY.attempts - 1
    assert moved("motcua_events_consumed_total", topic=topic, group="poison", outcome="dead_lettered") == 1
    assert has(after, "motcua_outbox_backlog", collection="things", service="things")
    assert value(after, "motcua_outbox_backlog", collection="things", service="things") == 0  # all published
    assert "process_resident_memory_bytes" in after  # the process collector, for the memory targets


async def test_consumer_lag_rises_while_a_handler_is_stuck_and_falls_when_it_catches_up(bus_factory, store):
    topic = unique("slow")
    runtime = Runtime(PlatformSettings(service_name="slow"), bus=bus_factory(FAST_RETRY), store=store)
    release = asyncio.Event()

    async def stuck(event):
        await release.wait()

    runtime.subscribe(topic, "stuck", stuck, idempotent=False)
    async with serving(app_for(runtime, topic)) as client:
        for n in range(4):  # one key: one partition, in order, behind the first
            await runtime.bus.publish(topic, CloudEvent(source="/t", type="vn.motcua.test.v1", subject="k", data={"n": n}),
                                      key="k")

        async def lag():
            return value((await client.get("/metrics")).text, "motcua_consumer_lag", topic=topic, group="stuck")

        assert await eventually(lambda: _at_least(lag, 3), timeout=30)
        release.set()
        assert await eventually(lambda: _is_zero(lag), timeout=30)


async def _at_least(read, n):
    return await read() >= n


async def _is_zero(read):
    return await read() == 0


async def _equals(read, n):
    return await read() == n


async def test_the_outbox_backlog_counts_what_waits_for_the_broker(store):
    topic = unique("held")
    bus = SwitchableBus()
    bus.down = True
    runtime = Runtime(PlatformSettings(service_name="held", outbox_poll_seconds=0.05), bus=bus, store=store)
    runtime.outbox("things")
    async with serving(app_for(runtime, topic)) as client:
        for n in range(2):
            assert (await client.post(f"/things/{unique('n')}")).status_code == 201

        async def backlog():
            return value((await client.get("/metrics")).text, "motcua_outbox_backlog", collection="things", service="held")

        # Store-read gauges are refreshed at most every MIN_REFRESH_SECONDS: the figure follows within that.
        assert await eventually(lambda: _equals(backlog, 2), timeout=30)
        bus.down = False
        assert await eventually(lambda: _is_zero(backlog), timeout=30)


async def test_a_metrics_token_keeps_metrics_private(store):
    runtime = Runtime(PlatformSettings(service_name="private", metrics_token="s3cret-token"), store=store)
    async with serving(app_for(runtime, unique("p"))) as client:
        refused = await client.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
        allowed = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert allowed.status_code == 200
        assert allowed.headers["content-type"].startswith("text/plain")
        assert "motcua_http_server_requests_total" in allowed.text


@pytest.fixture(autouse=True)
def _no_leftover_refreshers():
    from kit import metrics

    before = list(metrics._refreshers)
    yield
    assert metrics._refreshers == before  # a stopped runtime no longer reads its store on a scrape
