"""The outbox: events written with the state change, published by the relay, then removed."""

import asyncio

from kit.bus.memory import MemoryBus
from kit.events import CloudEvent
from kit.idempotency import AppliedEvents
from kit.outbox import OutboxRelay, outbox_entry
from kit.testing import SwitchableBus, eventually


def ev(n: int) -> CloudEvent:
    return CloudEvent(source="/dossier", type="vn.motcua.dossier.changed.v1", subject="D1", data={"n": n})


async def test_the_relay_publishes_in_order_then_empties_the_outbox(store):
    bus = MemoryBus()
    got: list[int] = []

    async def handler(e):
        got.append(e.data["n"])

    bus.subscribe("dossier.events", "g", handler)
    await bus.start()
    coll = store.collection("dossiers")
    doc = await coll.insert({"_id": "D1", "state": "submitted"}, [outbox_entry("dossier.events", ev(1), "D1")])
    await coll.save({**doc, "state": "received"}, 1, [outbox_entry("dossier.events", ev(2), "D1")])
    relay = OutboxRelay(bus, [coll], poll_seconds=0.05)
    await relay.start()
    await eventually(lambda: got == [1, 2])
    await eventually(lambda: _empty(coll))
    assert (await coll.get("D1"))["state"] == "received"
    await relay.stop()
    await bus.stop()


async def _empty(coll):
    return await coll.with_outbox() == []


async def test_events_wait_in_the_outbox_while_the_broker_is_down_and_leave_once_it_is_back(store):
    bus = SwitchableBus()
    bus.down = True
    got = []

    async def handler(e):
        got.append(e.data["n"])

    bus.subscribe("dossier.events", "g", handler)
    await bus.start()
    coll = store.collection("dossiers")
    await coll.insert({"_id": "D1"}, [outbox_entry("dossier.events", ev(1), "D1")])
    relay = OutboxRelay(bus, [coll], poll_seconds=0.05)
    await relay.start()
    await asyncio.sleep(0.3)
    assert got == [] and len((await coll.get("D1"))["outbox"]) == 1
    bus.down = False
    await eventually(lambda: got == [1], timeout=10)
    await relay.stop()
    await bus.stop()


async def test_a_relay_crash_between_publish_and_removal_publishes_again_but_applies_once(store):
    bus = MemoryBus()
    effects = []

    async def apply(e):
        effects.append(e.data["n"])

    bus.subscribe("dossier.events", "notification", AppliedEvents(store, "notification").guard(apply))
    await bus.start()
    coll = store.collection("dossiers")
    await coll.insert({"_id": "D1"}, [outbox_entry("dossier.events", ev(1), "D1")])
    # The relay published but died before removing the event: simulate by publishing it by hand.
    pending = (await coll.get("D1"))["outbox"][0]
    await bus.publish("dossier.events", CloudEvent.from_dict(pending["event"]), "D1")
    relay = OutboxRelay(bus, [coll], poll_seconds=0.05)
    await relay.run_once()
    await eventually(lambda: len(bus.broker.topic("dossier.events")[0].records
                                 + bus.broker.topic("dossier.events")[1].records
                                 + bus.broker.topic("dossier.events")[2].records) == 2)
    await asyncio.sleep(0.2)
    assert effects == [1]
    await bus.stop()
