"""The durable timers on a real store: a dossier that passes its due date emits `dossier.overdue`
once, even after a restart of the service and with two replicas firing at the same moment."""

import asyncio
import contextlib
from datetime import datetime, timedelta

from kit.bus.memory import MemoryBus
from kit.testing import eventually, serving

from contracts.catalog import ProcessingTime, RequiredDocument
from dossier import domain
from dossier.app import create_app
from kit.calendar import TZ
from dossier.domain import Actor, Applicant, ProcedureRef, ProvidedDocument
from dossier.handlers import fire_due_timers
from dossier.settings import DossierSettings

OFFICER = Actor(subject="reception1", roles=frozenset({"reception_officer"}), agency="000.00.21.H49")
PROCEDURE = ProcedureRef(code="1.000894", version=1, name_vi="Đăng ký kết hôn", agency_code="000.00.21.H49",
                         required_documents=[RequiredDocument(code="TK", name="Tờ khai", originals=1)],
                         processing_times=[ProcessingTime(channel="in_person", value=3, unit="working_days")])
APPLICANT = Applicant(name="Nguyễn Văn An", id_number="022090001234", phone="0912345678", address="Hạ Long")


def received_dossier(code: str, at: datetime, policy):
    dossier, events = domain.intake_at_counter(
        code=code, security_code_hash="0" * 64, procedure=PROCEDURE, applicant=APPLICANT,
        documents=[ProvidedDocument(code="TK")], channel="in_person", result_channel="counter", sets=1,
        actor=OFFICER, at=at, policy=policy)
    return dossier, events


@contextlib.asynccontextmanager
async def service(store, bus):
    # The service also runs the job itself at start, on the real clock: the dates here lie in the future
    # so only the calls of the test, at chosen instants, can fire anything.
    app = create_app(DossierSettings(timer_poll_seconds=3600, outbox_poll_seconds=0.05), bus=bus, store=store)
    async with serving(app):
        yield app.state.deps


async def test_an_overdue_dossier_is_announced_once_across_a_restart_and_two_replicas(store):
    bus = MemoryBus()
    published: dict[str, set[str]] = {}  # event type -> distinct event ids

    async def collect(event):
        # Two replicas run two outbox relays: delivery is at least once, so count distinct events.
        published.setdefault(event.type, set()).add(event.id)

    bus.subscribe("dossier.events", "test-observer", collect)
    # Received Monday 18 Nov 2030 at 09:00 with 3 working days: due Thursday 21 Nov 09:00.
    received_at = datetime(2030, 11, 18, 9, 0, tzinfo=TZ)
    async with service(store, bus) as deps:
        dossier, events = received_dossier("000.00.21.H49-301118-0001", received_at, await deps.policy.current())
        assert dossier.due_at == datetime(2030, 11, 21, 9, 0, tzinfo=TZ)
        await deps.dossiers.add(dossier, events)
        # The due day itself: not overdue yet, but 3 working days without a move raise the stall alarm.
        assert await fire_due_timers(deps, now=datetime(2030, 11, 21, 23, 59, tzinfo=TZ)) == 1

    # A restart: a new service instance, same store. The timer is in the document, not in memory.
    async with service(store, bus) as first, service(store, bus) as second:
        midnight = datetime(2030, 11, 22, 0, 0, tzinfo=TZ)
        fired = await asyncio.gather(fire_due_timers(first, now=midnight), fire_due_timers(second, now=midnight))
        assert sum(fired) == 1  # the overdue event, by one replica only
        await eventually(lambda: "vn.motcua.dossier.overdue.v1" in published)
        assert await fire_due_timers(first, now=midnight + timedelta(days=3)) == 0
        await asyncio.sleep(0.3)
    assert len(published["vn.motcua.dossier.overdue.v1"]) == 1
    assert len(published["vn.motcua.dossier.stalled.v1"]) == 1
    await bus.stop()


async def test_the_timer_query_reads_only_dossiers_with_a_due_timer(store):
    bus = MemoryBus()
    async with service(store, bus) as deps:
        policy = await deps.policy.current()
        for n in range(1, 6):
            dossier, events = received_dossier(f"000.00.21.H49-301118-000{n}", datetime(2030, 11, 18, 9, tzinfo=TZ),
                                               policy)
            await deps.dossiers.add(dossier, events)
        # Before anything is due, the query comes back empty; at the first stall alarm all five are due.
        assert await deps.dossiers.due_timers(datetime(2030, 11, 18, 10, tzinfo=TZ)) == []
        due = await deps.dossiers.due_timers(datetime(2030, 11, 21, 9, 0, tzinfo=TZ))
        assert sorted(due) == [f"000.00.21.H49-301118-000{n}" for n in range(1, 6)]
    await bus.stop()
