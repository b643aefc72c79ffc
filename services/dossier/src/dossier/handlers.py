"""Use cases of the dossier service: reading a dossier, every lifecycle command, and the timers."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from kit.blobs import BlobStore
from kit.events import CloudEvent, utcnow
from kit.identity import Caller
from kit.problems import Conflict, NotFound, Problem
from kit.store import VersionConflict

from contracts import UnknownEventType, parse
from contracts.dossier import DossierChange
from contracts.payment import PaymentSucceeded
from dossier.domain import SYSTEM_ACTOR, Actor, Dossier, Policy, State
from dossier.policy import PolicySource
from dossier.procedures import ProcedureCopy
from dossier.settings import DossierSettings
from dossier.store import DossierStore

log = logging.getLogger("dossier.handlers")

Command = Callable[[Dossier, Actor, datetime, Policy], list[DossierChange]]


@dataclass
class Deps:
    dossiers: DossierStore
    procedures: ProcedureCopy
    policy: PolicySource
    blobs: BlobStore
    settings: DossierSettings
    pepper: str
    timezone: ZoneInfo


def actor_of(caller: Caller) -> Actor:
    if caller.anonymous:
        raise Problem(401, "unauthenticated", "Sign-in required", "This action needs a signed-in user.")
    return Actor(subject=caller.subject, roles=caller.roles, agency=caller.agency, name=caller.name)


async def get_dossier(deps: Deps, *, code: str) -> Dossier:
    dossier = await deps.dossiers.get(code)
    if dossier is None:
        raise NotFound("Dossier", code)
    return dossier


async def act(deps: Deps, *, code: str, caller: Caller, command: Command) -> Dossier:
    """Apply one lifecycle command under optimistic concurrency: a lost race re-reads and re-judges."""
    actor = actor_of(caller)
    policy = await deps.policy.current()
    for _ in range(3):
        dossier = await get_dossier(deps, code=code)
        events = command(dossier, actor, utcnow(), policy)  # a refusal is a RuleViolation: a 4xx, nothing saved
        try:
            return await deps.dossiers.save(dossier, events)
        except VersionConflict:
            continue
    raise Conflict("concurrent-update", "The dossier is being changed by someone else", "Try again.")


async def fire_due_timers(deps: Deps, *, now: datetime | None = None) -> int:
    """Run the timers that are due (overdue, stalled, unanswered supplement). Safe on several replicas:
    a timer is disarmed in the same versioned write that emits its event, so it fires once."""
    now = now or utcnow()
    policy = await deps.policy.current()
    fired = 0
    for code in await deps.dossiers.due_timers(now):
        dossier = await deps.dossiers.get(code)
        if dossier is None:
            continue
        events = dossier.fire_timers(now=now, policy=policy)
        try:
            await deps.dossiers.save(dossier, events)
        except VersionConflict:
            continue  # another replica or an officer got there first; the next round looks again
        fired += len(events)
    if fired:
        log.info("timers fired", extra={"events": fired})
    return fired


async def on_payment_event(deps: Deps, event: CloudEvent) -> None:
    """A paid fee item moves its dossier out of "awaiting fees" (the system acts, as the law's
    obligation is met); other payment events change nothing here."""
    try:
        data = parse(event)
    except UnknownEventType:
        return
    if not isinstance(data, PaymentSucceeded):
        return
    policy = await deps.policy.current()
    for _ in range(5):
        dossier = await deps.dossiers.get(data.dossier_code)
        if (dossier is None or dossier.state is not State.AWAITING_FEES or dossier.fees is None
                or dossier.fees.item_id != data.item_id):
            return  # not waiting on this item (already moved on, or a fee paid at submission)
        events = dossier.record_fees_paid(actor=SYSTEM_ACTOR, at=utcnow(), policy=policy)
        try:
            await deps.dossiers.save(dossier, events)
            return
        except VersionConflict:
            continue
    raise VersionConflict(f"dossier {data.dossier_code} kept changing; the bus retries the event")
