"""The memory broker's journal: what the embedded mode's bus keeps across a restart of the process."""

import asyncio

from kit.bus.memory import MemoryBroker, MemoryBus
from kit.events import CloudEvent
from kit.testing import FAST_RETRY, eventually

TOPIC = "dossier.events"


def event(subject: str, n: int) -> CloudEvent:
    return CloudEvent(source="/test", type="vn.motcua.test.happened.v1", subject=subject, data={"n": n})


async def test_a_restarted_broker_keeps_its_log_and_each_group_resumes_after_its_last_commit(tmp_path):
    journal = tmp_path / "bus.sqlite3"
    broker = MemoryBroker(journal=journal)
    bus = MemoryBus(broker, retry=FAST_RETRY)
    got: list[int] = []

    async def handler(ev: CloudEvent) -> None:
        got.append(ev.data["n"])

    bus.subscribe(TOPIC, "lookup", handler)
    await bus.start()
    for n in range(3):
        await bus.publish(TOPIC, event("D", n), key="D")
    await eventually(lambda: got == [0, 1, 2])
    await bus.stop()
    # Published while no consumer ran (relayed, not yet consumed), then the process stops.
    for n in range(3, 5):
        await bus.publish(TOPIC, event("D", n), key="D")
    await bus.publish(TOPIC, event("E", 9), key="E")
    broker.close()

    restarted = MemoryBroker(journal=journal)
    assert sorted(ev.data["n"] for ev in [e async for e in MemoryBus(restarted).read_all(TOPIC)]) == [0, 1, 2, 3, 4, 9]
    after: list[int] = []

    async def resumed(ev: CloudEvent) -> None:
        after.append(ev.data["n"])

    bus = MemoryBus(restarted, retry=FAST_RETRY)
    bus.subscribe(TOPIC, "lookup", resumed)
    await bus.start()
    await eventually(lambda: sorted(after) == [3, 4, 9])
    await bus.publish(TOPIC, event("D", 5), key="D")  # new records go after the reloaded ones
    await eventually(lambda: 5 in after)
    await asyncio.sleep(0.2)
    assert [n for n in after if n != 9] == [3, 4, 5]
    await bus.stop()
    restarted.close()


async def test_a_replayed_dlq_is_not_replayed_again_after_a_restart(tmp_path):
    journal = tmp_path / "bus.sqlite3"
    broker = MemoryBroker(journal=journal)
    bus = MemoryBus(broker)
    await bus.publish(TOPIC + ".dlq", event("D", 1), key="D")
    assert await bus.replay_dlq(TOPIC) == 1
    broker.close()

    restarted = MemoryBroker(journal=journal)
    assert await MemoryBus(restarted).replay_dlq(TOPIC) == 0
    assert [ev.data["n"] async for ev in MemoryBus(restarted).read_all(TOPIC)] == [1]
    restarted.close()
