"""The event-bus contract: the same tests, unchanged, on the in-process adapter and on Kafka."""

import asyncio

import pytest

from kit.bus.base import DLQ_ERROR, DLQ_GROUP
from kit.events import CloudEvent
from kit.idempotency import AppliedEvents
from kit.store.sqlite import SqliteStore
from kit.testing import eventually

TOPIC = "dossier.events"


def event(subject: str, n: int, **data) -> CloudEvent:
    return CloudEvent(source="/test", type="vn.motcua.test.happened.v1", subject=subject, data={"n": n, **data})


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing retries or commits."""


@pytest.fixture
async def applied_store(tmp_path):
    store = SqliteStore(tmp_path / "applied.sqlite3")
    await store.start()
    yield store
    await store.stop()


async def test_events_of_one_key_arrive_in_order(bus_factory):
    bus = bus_factory()
    seen: dict[str, list[int]] = {}

    async def handler(ev: CloudEvent) -> None:
        seen.setdefault(ev.subject, []).append(ev.data["n"])

    bus.subscribe(TOPIC, "lookup", handler)
    await bus.start()
    keys = [f"H49-261123-{i:04d}" for i in range(1, 6)]
    for n in range(20):
        for key in keys:
            await bus.publish(TOPIC, event(key, n), key=key)
    await eventually(lambda: sum(len(v) for v in seen.values()) == 100, timeout=30)
    for key in keys:
        assert seen[key] == list(range(20)), key


async def test_every_consumer_group_gets_every_event(bus_factory):
    bus = bus_factory()
    got: dict[str, list[int]] = {"notification": [], "lookup": []}

    def recorder(group):
        async def handler(ev):
            got[group].append(ev.data["n"])
        return handler

    for group in got:
        bus.subscribe(TOPIC, group, recorder(group))
    await bus.start()
    for n in range(10):
        await bus.publish(TOPIC, event("D", n), key="D")
    await eventually(lambda: len(got["notification"]) == 10 and len(got["lookup"]) == 10, timeout=30)
    assert got["notification"] == got["lookup"] == list(range(10))


async def test_a_consumer_dying_after_its_handler_but_before_commit_does_not_apply_twice(bus_factory, applied_store):
    effects: list[int] = []

    async def apply(ev: CloudEvent) -> None:
        effects.append(ev.data["n"])

    guard = AppliedEvents(applied_store, "notification").guard
    crashed = asyncio.Event()
    guarded = guard(apply)

    async def dies_before_commit(ev: CloudEvent) -> None:
        await guarded(ev)  # the effect is applied and recorded...
        crashed.set()
        raise Crash()  # ...then the process dies before the offset is committed

    first = bus_factory()
    first.subscribe(TOPIC, "notification", dies_before_commit)
    await first.start()
    await first.publish(TOPIC, event("D1", 1), key="D1")
    await asyncio.wait_for(crashed.wait(), timeout=30)
    await first.stop()
    assert effects == [1]

    restarted = bus_factory()
    restarted.subscribe(TOPIC, "notification", guard(apply))
    await restarted.start()
    await restarted.publish(TOPIC, event("D1", 2), key="D1")
    await eventually(lambda: 2 in effects, timeout=30)
    await asyncio.sleep(0.3)
    assert effects == [1, 2]  # event 1 was redelivered (uncommitted) and skipped


async def test_a_failing_event_is_retried_then_parked_on_the_dlq_and_the_partition_keeps_flowing(bus_factory):
    bus = bus_factory()
    handled: list[int] = []
    attempts: dict[int, int] = {}
    fixed = False

    async def handler(ev: CloudEvent) -> None:
        n = ev.data["n"]
        attempts[n] = attempts.get(n, 0) + 1
        if ev.data.get("poison") and not fixed:
            raise ValueError("procedure 9.999999 is unknown")
        handled.append(n)

    parked: list[CloudEvent] = []

    async def dlq_watcher(ev: CloudEvent) -> None:
        parked.append(ev)

    bus.subscribe(TOPIC, "dossier", handler)
    bus.subscribe(TOPIC + ".dlq", "operator", dlq_watcher)
    await bus.start()
    await bus.publish(TOPIC, event("D", 1), key="D")
    await bus.publish(TOPIC, event("D", 2, poison=True), key="D")
    await bus.publish(TOPIC, event("D", 3), key="D")

    await eventually(lambda: handled == [1, 3] and len(parked) == 1, timeout=30)
    assert attempts[2] == bus.retry.attempts  # retried, then given up
    dead = parked[0]
    assert dead.data["n"] == 2
    assert "procedure 9.999999 is unknown" in dead.extensions[DLQ_ERROR]
    assert dead.extensions[DLQ_GROUP] == "dossier"

    fixed = True
    assert await bus.replay_dlq(TOPIC) == 1
    await eventually(lambda: handled == [1, 3, 2], timeout=30)
    assert await bus.replay_dlq(TOPIC) == 0  # nothing replayed twice


async def test_trace_context_travels_with_the_event(bus_factory):
    from opentelemetry.sdk.trace import TracerProvider

    from kit import telemetry

    telemetry.setup_tracing("test")
    bus = bus_factory()
    received: list[CloudEvent] = []

    async def handler(ev):
        received.append(ev)

    bus.subscribe(TOPIC, "g", handler)
    await bus.start()
    with telemetry.tracer.start_as_current_span("request") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        from kit.events import new_event
        await bus.publish(TOPIC, new_event(source="/t", type="vn.motcua.t.v1", subject="D", data={}), key="D")
    await eventually(lambda: received, timeout=30)
    assert received[0].traceparent.split("-")[1] == trace_id
    assert isinstance(telemetry.trace.get_tracer_provider(), TracerProvider)


async def test_ping(bus_factory):
    bus = bus_factory()
    await bus.start()
    await bus.ping()
