"""The payment service on the store under test, fed the way it is in production: catalogue and dossier events
on a bus. `other_store` opens a second adapter on the same database, as a second replica (another process)
would: its own connections and its own in-process locks."""

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import httpx
import pytest

from contracts import build, parse
from contracts.catalog import ProcedurePublished
from contracts.dossier import ApplicantContact, DossierFeesRequested, DossierReceived
from kit.bus.memory import MemoryBroker, MemoryBus
from kit.security_codes import hash_security_code
from kit.store import DocumentStore
from kit.store.mongodb import MongoStore
from kit.store.sqlite import SqliteStore
from kit.testing import MONGODB, as_user, eventually, serving
from payment.app import create_app
from payment.settings import PaymentSettings

PEPPER = "dev-only-pepper-change-me"  # PaymentSettings' default, as the dossier service's
CODE = "000.00.21.H49-261123-0003"
SECURITY_CODE = "7KQ3M9XA"
PROCEDURE = "1.009974"
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CASHIER = as_user("cashier1", "cashier")
ADMIN = as_user("admin1", "admin")
RECEPTION = as_user("reception1", "reception_officer")
CITIZEN = {**as_user("citizen1", "citizen"), "X-User-Name": "Nguy%E1%BB%85n%20V%C4%83n%20An"}
OTHER_CITIZEN = as_user("citizen2", "citizen")
ONLINE_FEE, REQUESTED_FEE = 75_000, 120_000


def procedure() -> ProcedurePublished:
    return ProcedurePublished(
        code=PROCEDURE, version=1, name_vi="Cấp giấy phép xây dựng", field_code="xay-dung", level="commune",
        agency_code="000.00.21.H49", online_level="partial",
        processing_times=[{"channel": "online", "value": 15, "unit": "days"}],
        fees=[{"channel": "online", "amount": ONLINE_FEE, "description": "Lệ phí cấp giấy phép xây dựng"},
              {"channel": "online", "amount": 10_000, "description": "Phí thẩm định"},
              {"channel": "in_person", "amount": 90_000, "description": "Lệ phí tại quầy"}],
        effective_from=date(2025, 7, 1))


def received(code: str = CODE) -> DossierReceived:
    return DossierReceived(code=code, sequence=2, state="received", status_code=2, procedure_code=PROCEDURE,
                           procedure_name="Cấp giấy phép xây dựng", agency_code="000.00.21.H49", channel="online",
                           occurred_at=AT, security_code_hash=hash_security_code(PEPPER, code, SECURITY_CODE),
                           applicant=ApplicantContact(name="Nguyễn Văn An"), received_at=AT, received_by="r1",
                           result_channel="online")


def fees_requested(code: str = CODE, n: int = 7) -> DossierFeesRequested:
    return DossierFeesRequested(code=code, sequence=n, state="awaiting_fees", status_code=6, procedure_code=PROCEDURE,
                                procedure_name="Cấp giấy phép xây dựng", agency_code="000.00.21.H49",
                                channel="online", occurred_at=AT, item_id=f"{code}/fees-{n}", amount=REQUESTED_FEE,
                                description="Lệ phí trước bạ")


def other_store(store: DocumentStore) -> DocumentStore | None:
    """A second adapter on the same database, as another replica (process) of the service has: its own
    connections and its own in-process locks. None for SQLite: the embedded store is one process's (one
    connection under one lock), so its replicas share the adapter."""
    if isinstance(store, MongoStore):
        return MongoStore(MONGODB, store.database_name)
    assert isinstance(store, SqliteStore)
    return None


@dataclass
class Service:
    client: httpx.AsyncClient
    bus: MemoryBus
    broker: MemoryBroker
    store: DocumentStore
    app: object
    replicas: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def deps(self):
        return self.app.state.deps

    async def events(self, type_suffix: str | None = None) -> list:
        """The payment events published so far, once each (a redelivery has the same id)."""
        seen: dict[str, object] = {}
        async for event in self.bus.read_all("payment.events"):
            if type_suffix is None or event.type.endswith(f".{type_suffix}.v1"):
                seen.setdefault(event.id, parse(event))
        return list(seen.values())

    async def wait_events(self, type_suffix: str, n: int) -> list:
        """Wait until `n` events of the type are published (and fail on more)."""

        async def enough():
            found = await self.events(type_suffix)
            assert len(found) <= n, found
            return found if len(found) == n else None

        return await eventually(enough)

    async def ledger_count(self) -> int:
        return await self.store.collection("payment_ledger").count()

    async def publish_dossier(self, data) -> None:
        await self.bus.publish("dossier.events", build(data, source="/dossier", subject=data.code), key=data.code)


async def feed(bus: MemoryBus, client: httpx.AsyncClient, store: DocumentStore, code: str = CODE) -> None:
    await bus.publish("catalog.events", build(procedure(), source="/catalog", subject=PROCEDURE), key=PROCEDURE)
    await eventually(lambda: store.collection("procedure_fees").get(PROCEDURE))
    for data in (received(code), fees_requested(code)):
        await bus.publish("dossier.events", build(data, source="/dossier", subject=code), key=code)

    async def items():
        r = await client.get(f"/payments/dossiers/{code}", headers=CASHIER)
        return r.status_code == 200 and len(r.json()["items"]) == 3

    await eventually(items)


def settings(**changes) -> PaymentSettings:
    return PaymentSettings(**{"outbox_poll_seconds": 0.05, **changes})


@pytest.fixture
async def service(store):
    broker = MemoryBroker()
    bus = MemoryBus(broker)
    app = create_app(settings(), bus=bus, store=store)
    async with serving(app) as client:
        await feed(bus, client, store)
        yield Service(client=client, bus=bus, broker=broker, store=store, app=app)
    await bus.stop()


@contextlib.asynccontextmanager
async def replica(service: Service, **changes):
    """A second replica of the service: its own store adapter on the same database, its own bus client on
    the same broker, its own relay and consumers."""
    store = other_store(service.store)
    if store is not None:
        await store.start()
    bus = MemoryBus(service.broker)
    try:
        async with serving(create_app(settings(**changes), bus=bus, store=store or service.store)) as client:
            yield client
    finally:
        await bus.stop()
        if store is not None:
            await store.stop()
