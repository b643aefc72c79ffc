"""The lookup read model on every bus and cache adapter: rebuilt from the event log, and kept by
several replicas sharing one consumer group."""

import asyncio
import os
import subprocess
import sys

import pytest

from contracts import build
from contracts.dossier import TOPIC, DossierReceived, DossierSubmitted
from dossier.lookup.app import create_app as lookup_app
from dossier.lookup.projection import PREFIX
from dossier.lookup.rebuild import RebuildReport, rebuild
from dossier.security import hash_security_code
from dossier.settings import LookupSettings
from kit.bus.kafka import KafkaBus
from kit.bus.memory import MemoryBus
from kit.cache.redis import RedisCache
from kit.events import CloudEvent, utcnow
from kit.testing import KAFKA, REDIS, eventually, require_server, serving, unique

PEPPER = LookupSettings().security_pepper.get_secret_value()
DOSSIERS = {f"000.00.21.H49-261201-{n:04d}": f"K{n:07d}" for n in range(1, 13)}


def change(model, code: str, sequence: int, state: str, **extra) -> CloudEvent:
    data = model(code=code, sequence=sequence, state=state, status_code=sequence, procedure_code="1.000894",
                 procedure_name="Đăng ký kết hôn", agency_code="000.00.21.H49", channel="online",
                 occurred_at=utcnow(), security_code_hash=hash_security_code(PEPPER, code, DOSSIERS[code]),
                 result_channel="online", **extra)
    return build(data, source="/test", subject=code)


def submitted(code: str) -> CloudEvent:
    return change(DossierSubmitted, code, 1, "submitted")


def received(code: str) -> CloudEvent:
    return change(DossierReceived, code, 2, "received", received_by="reception1")


async def publish(bus, events: list[CloudEvent]) -> None:
    for event in events:
        await bus.publish(TOPIC, event, key=event.subject)


async def states(lookup) -> dict[str, str | None]:
    """Each dossier's state as the lookup answers it (None for "not found")."""
    answers = {}
    for code, security_code in DOSSIERS.items():
        r = await lookup.post("/lookup", json={"code": code, "security_code": security_code})
        answers[code] = r.json()["state"] if r.status_code == 200 else None
    return answers


def every(state: str | None) -> dict[str, str | None]:
    return dict.fromkeys(DOSSIERS, state)


async def shows(lookup, expected: dict) -> bool:
    return await states(lookup) == expected


# --- rebuild ---------------------------------------------------------------------------------

async def test_a_flushed_read_model_is_rebuilt_from_the_log(bus_factory, cache):
    writer = bus_factory()
    await writer.start()
    async with serving(lookup_app(LookupSettings(), bus=bus_factory(), cache=cache)) as lookup:
        await publish(writer, [submitted(code) for code in DOSSIERS])
        await publish(writer, [received(code) for code in list(DOSSIERS)[::2]])
        latest = {code: "received" if n % 2 == 0 else "submitted" for n, code in enumerate(DOSSIERS)}
        await eventually(lambda: shows(lookup, latest), timeout=30)

        await cache.delete_prefix(PREFIX)  # Redis lost its data
        assert await states(lookup) == every(None)

        # A separate client that was never started, as the rebuild command is.
        report = await rebuild(bus_factory(), cache)
        assert report == RebuildReport(events=18, dossiers=12)
        assert await states(lookup) == latest


async def test_a_fresh_rebuild_while_the_live_consumer_applies_newer_events_ends_on_the_newest(bus_factory, cache):
    writer = bus_factory()
    await writer.start()
    async with serving(lookup_app(LookupSettings(), bus=bus_factory(), cache=cache)) as lookup:
        await publish(writer, [submitted(code) for code in DOSSIERS])
        await eventually(lambda: shows(lookup, every("submitted")), timeout=30)
        report, _ = await asyncio.gather(rebuild(bus_factory(), cache, fresh=True),
                                         publish(writer, [received(code) for code in DOSSIERS]))
        assert report.events >= 12 and report.dossiers == 12
        await eventually(lambda: shows(lookup, every("received")), timeout=30)


@pytest.mark.integration
async def test_the_rebuild_command_on_kafka_and_redis():
    require_server("Kafka", KAFKA)
    require_server("Redis", REDIS)
    topic_prefix, cache_prefix = unique("t") + ".", unique("t") + ":"
    writer = KafkaBus(KAFKA, client_id="test", topic_prefix=topic_prefix)
    cache = RedisCache(REDIS, prefix=cache_prefix)
    await writer.start()
    await cache.start()
    try:
        await publish(writer, [submitted(code) for code in DOSSIERS] + [received(next(iter(DOSSIERS)))])
        await cache.set(PREFIX + "000.00.21.H49-000000-0000", b"an entry no event explains")
        env = {**os.environ, "MOTCUA_BUS": "kafka", "MOTCUA_KAFKA_BOOTSTRAP": KAFKA,
               "MOTCUA_TOPIC_PREFIX": topic_prefix, "MOTCUA_CACHE": "redis", "MOTCUA_REDIS_URL": REDIS,
               "MOTCUA_CACHE_PREFIX": cache_prefix}
        done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "dossier.lookup", "rebuild", "--fresh"],
                                       env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "13 events read, 12 dossiers in the read model" in done.stdout
        assert "events applied" in done.stderr  # the progress bar
        assert await cache.get(PREFIX + "000.00.21.H49-000000-0000") is None  # --fresh removed it
        async with serving(lookup_app(LookupSettings(), bus=MemoryBus(), cache=cache)) as lookup:
            assert await states(lookup) == {code: "received" if n == 0 else "submitted"
                                            for n, code in enumerate(DOSSIERS)}
    finally:
        await cache.delete_prefix("")
        await cache.stop()
        await writer.stop()


# --- replicas --------------------------------------------------------------------------------

def owned_partitions(bus) -> set[int]:
    """The partitions of dossier.events this client consumes in group "lookup" now."""
    if isinstance(bus, KafkaBus):
        return {tp.partition for consumer in bus.consumers for tp in consumer.assignment()}
    assert isinstance(bus, MemoryBus)
    members = {member for sub, member in bus.subscriptions if sub.group == "lookup"}
    return {p for p in range(bus.broker.partition_count) if bus.broker.owner("lookup", TOPIC, p) in members}


async def test_two_replicas_split_the_partitions_and_both_answer_every_dossier(bus_factory, cache):
    first, second, writer = bus_factory(), bus_factory(), bus_factory()
    await writer.start()
    async with (serving(lookup_app(LookupSettings(), bus=first, cache=cache)) as one,
                serving(lookup_app(LookupSettings(), bus=second, cache=cache)) as two):

        def split() -> bool:
            mine, theirs = owned_partitions(first), owned_partitions(second)
            return bool(mine) and bool(theirs) and not mine & theirs and len(mine | theirs) == 3

        await eventually(split, timeout=60)  # the group has rebalanced: each replica has its share
        await publish(writer, [submitted(code) for code in DOSSIERS])
        for replica in (one, two):
            await eventually(lambda: shows(replica, every("submitted")), timeout=30)

        await publish(writer, [received(code) for code in DOSSIERS])
        for replica in (one, two):
            await eventually(lambda: shows(replica, every("received")), timeout=30)


# --- embedded mode ---------------------------------------------------------------------------

async def test_after_a_restart_the_embedded_lookup_answers_from_the_journaled_log(tmp_path):
    from kit.bus.memory import MemoryBroker
    from kit.cache.memory import MemoryCache

    journal = tmp_path / "bus.sqlite3"
    broker = MemoryBroker(journal=journal)
    bus = MemoryBus(broker)
    async with serving(lookup_app(LookupSettings(), bus=bus, cache=MemoryCache())) as lookup:
        await publish(bus, [submitted(code) for code in DOSSIERS])
        await eventually(lambda: shows(lookup, every("submitted")))
    await bus.stop()
    await publish(bus, [received(code) for code in DOSSIERS])  # relayed while the lookup was down
    broker.close()

    # The process restarts: a new broker from the file, an empty in-memory read model.
    broker = MemoryBroker(journal=journal)
    bus = MemoryBus(broker)
    async with serving(lookup_app(LookupSettings(), bus=bus, cache=MemoryCache())) as lookup:
        assert await states(lookup) == every("received")  # rebuilt before the first request is served
    await bus.stop()
    broker.close()
