"""Use cases of the dossier service."""

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from kit.events import utcnow
from kit.identity import Caller
from kit.problems import Conflict, NotFound, Problem
from kit.store import DuplicateKey, VersionConflict

from dossier import domain
from dossier.domain import ALLOWED_ACTIONS, Applicant, Dossier, IllegalTransition, ProvidedDocument
from dossier.procedures import ProcedureCopy
from dossier.security import hash_security_code, new_security_code
from dossier.store import DossierStore


class OnlineSubmission(BaseModel):
    procedure_code: str = Field(pattern=r"^\d\.\d{6}$", examples=["1.000894"])
    applicant: Applicant
    documents: list[ProvidedDocument] = Field(default=[], max_length=100)
    result_channel: str = Field(default="online", pattern="^(counter|post|online)$")


@dataclass
class Deps:
    dossiers: DossierStore
    procedures: ProcedureCopy
    pepper: str
    timezone: ZoneInfo


async def submit_online(deps: Deps, *, submission: OnlineSubmission, caller: Caller) -> tuple[Dossier, str]:
    """Returns the new dossier and its security code (shown once, never stored)."""
    procedure = await deps.procedures.get(submission.procedure_code)
    known = set(procedure.required_documents)
    unknown = [d.code for d in submission.documents if d.code not in known]
    if unknown:
        raise Problem(422, "unknown-documents", "Documents not required by the procedure",
                      f"Procedure {procedure.code} does not list: {', '.join(unknown)}.", field="documents",
                      unknown=unknown, required=sorted(known))
    now = utcnow()
    local = now.astimezone(deps.timezone)
    for _ in range(5):
        sequence = await deps.dossiers.next_sequence(procedure.agency_code, f"{local:%y%m%d}")
        code = domain.dossier_code(procedure.agency_code, local, sequence)
        security_code = new_security_code()
        dossier, events = domain.submit_online(
            code=code, security_code_hash=hash_security_code(deps.pepper, code, security_code), procedure=procedure,
            applicant=submission.applicant, documents=submission.documents, result_channel=submission.result_channel,
            actor=caller.subject or "anonymous", at=now)
        try:
            return await deps.dossiers.add(dossier, events), security_code
        except DuplicateKey:
            continue  # a counter reset by an operator: take the next number
    raise Conflict("code-exhausted", "Could not allocate a dossier code", "Try again.")


async def get_dossier(deps: Deps, *, code: str) -> Dossier:
    dossier = await deps.dossiers.get(code)
    if dossier is None:
        raise NotFound("Dossier", code)
    return dossier


async def receive(deps: Deps, *, code: str, caller: Caller) -> Dossier:
    caller.require("reception_officer")
    for _ in range(3):
        dossier = await get_dossier(deps, code=code)
        try:
            events = dossier.receive(officer=caller.subject or "", at=utcnow())
        except IllegalTransition as exc:
            raise Conflict("illegal-transition", "Action not allowed in this state",
                           f"Dossier {code} is '{exc.state}'; '{exc.action}' is not allowed.",
                           state=exc.state.value, allowed_actions=ALLOWED_ACTIONS[exc.state]) from None
        try:
            return await deps.dossiers.save(dossier, events)
        except VersionConflict:
            continue  # someone else changed it: re-read and re-check the rules
    raise Conflict("concurrent-update", "The dossier is being changed by someone else", "Try again.")
