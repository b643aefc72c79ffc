"""Dossiers placed at chosen dates for the queue and report tests: built by the aggregate's own
commands at chosen `at=` times (so every computed field is the real one) and stored through
`DossierStore.add`; and the running service (catalogue included) to ask about them over HTTP."""

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from asgi_lifespan import LifespanManager

from catalog.app import create_app as catalog_app
from catalog.settings import CatalogSettings
from contracts.catalog import ProcessingTime, RequiredDocument
from contracts.dossier import DossierChange, MissingItem
from dossier import domain
from dossier.app import create_app as dossier_app
from dossier.domain import Actor, Applicant, Dossier, Policy, ProcedureRef, ProvidedDocument
from dossier.handlers import Deps
from dossier.settings import DossierSettings
from kit.bus.memory import MemoryBus
from kit.store.sqlite import SqliteStore
from kit.testing import serving

AGENCY = "000.00.21.H49"
OTHER_AGENCY = "000.00.13.H49"
RECEPTION = Actor(subject="reception1", roles=frozenset({"reception_officer"}), agency=AGENCY)
CITIZEN = Actor(subject="citizen1", roles=frozenset({"citizen"}))
APPLICANT = Applicant(name="Nguyễn Văn An", id_number="022090001234", phone="0912345678", address="Hạ Long")


def leader(agency: str = AGENCY) -> Actor:
    return Actor(subject=f"leader-{agency}", roles=frozenset({"leader"}), agency=agency)


def specialist(subject: str = "specialist1", agency: str = AGENCY) -> Actor:
    return Actor(subject=subject, roles=frozenset({"specialist"}), agency=agency)


def procedure(agency: str = AGENCY, working_days: float = 3) -> ProcedureRef:
    times = [ProcessingTime(channel=c, value=working_days, unit="working_days") for c in ("in_person", "online")]
    return ProcedureRef(code="1.000894", version=1, name_vi="Đăng ký kết hôn", agency_code=agency,
                        required_documents=[RequiredDocument(code="TK", name="Tờ khai", originals=1)],
                        processing_times=times)


@dataclass
class Planted:
    """One dossier and every event its commands caused, to be stored in one write."""

    dossier: Dossier
    events: list[DossierChange]
    policy: Policy

    def to_agency(self, at: datetime, agency: str | None = None) -> "Planted":
        agency = agency or self.dossier.procedure.agency_code
        self.events += self.dossier.transfer(actor=RECEPTION, at=at, policy=self.policy, to_agency=agency)
        return self

    def assign(self, at: datetime, subject: str = "specialist1") -> "Planted":
        agency = self.dossier.current_agency
        self.events += self.dossier.assign(actor=leader(agency), at=at, policy=self.policy, specialist=subject)
        return self

    def request_supplement(self, at: datetime) -> "Planted":
        actor = specialist(self.dossier.assignee, self.dossier.current_agency)
        self.events += self.dossier.request_supplement(actor=actor, at=at, policy=self.policy,
                                                       reason="Thiếu bản sao",
                                                       items=[MissingItem(code="TK", name="Tờ khai")])
        return self

    def resolve(self, at: datetime) -> "Planted":
        """Through the agency: transfer, assign, appraise, approve, resolve, all at `at`."""
        if self.dossier.current_agency is None:
            self.to_agency(at)
        if self.dossier.assignee is None:
            self.assign(at)
        d, p, boss = self.dossier, self.policy, leader(self.dossier.current_agency)
        self.events += d.appraise(actor=specialist(d.assignee, d.current_agency), at=at, policy=p, proposal="approve",
                                  reason="Đủ điều kiện")
        self.events += d.approve(actor=boss, at=at, policy=p)
        self.events += d.resolve(actor=boss, at=at, policy=p)
        return self

    async def store(self, deps: Deps) -> Dossier:
        return await deps.dossiers.add(self.dossier, self.events)


def received(code: str, at: datetime, policy: Policy, *, channel: str = "in_person", agency: str = AGENCY,
             working_days: float = 3) -> Planted:
    """Received at `at`: at the counter, or (online) submitted half an hour before and received then."""
    ref = procedure(agency, working_days)
    common = dict(code=code, security_code_hash="0" * 64, procedure=ref, applicant=APPLICANT,
                  documents=[ProvidedDocument(code="TK")], policy=policy)
    if channel == "online":
        dossier, events = domain.submit_online(**common, result_channel="online", actor=CITIZEN,
                                               at=at - timedelta(minutes=30))
        events += dossier.receive(actor=RECEPTION, at=at, policy=policy)
    else:
        dossier, events = domain.intake_at_counter(**common, channel=channel, result_channel="counter", sets=1,
                                                   actor=RECEPTION, at=at)
    return Planted(dossier, events, policy)


def submitted(code: str, at: datetime, policy: Policy, *, agency: str = AGENCY) -> Planted:
    dossier, events = domain.submit_online(code=code, security_code_hash="0" * 64, procedure=procedure(agency),
                                           applicant=APPLICANT, documents=[ProvidedDocument(code="TK")],
                                           result_channel="online", actor=CITIZEN, at=at, policy=policy)
    return Planted(dossier, events, policy)


@dataclass
class Service:
    client: httpx.AsyncClient
    deps: Deps


@contextlib.asynccontextmanager
async def running(store, tmp_path, **settings):
    """The real catalogue and the dossier service on the store under test, with the service's deps at
    hand. The timer job runs once at start and then hourly, so it never moves planted dossiers."""
    bus = MemoryBus()
    catalog_store = SqliteStore(tmp_path / "catalog.sqlite3")
    async with contextlib.AsyncExitStack() as stack:
        manager = await stack.enter_async_context(
            LifespanManager(catalog_app(CatalogSettings(seed_demo=True), bus=bus, store=catalog_store)))
        catalog_client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://catalog"))
        app = dossier_app(DossierSettings(catalog_url="http://catalog", timer_poll_seconds=3600, **settings),
                          bus=bus, store=store, catalog_client=catalog_client)
        client = await stack.enter_async_context(serving(app))
        yield Service(client, app.state.deps)
    await bus.stop()
    await catalog_store.stop()
