"""Intake: a dossier filed online by a citizen, or received at the counter by an officer."""

from pydantic import BaseModel, Field

from kit.events import utcnow
from kit.identity import Caller
from kit.problems import Conflict, Problem
from kit.store import DuplicateKey

from dossier import domain
from dossier.domain import Applicant, DomainError, Dossier, ProcedureRef, ProvidedDocument
from dossier.handlers import Deps, actor_of, problem_of
from dossier.security import hash_security_code, new_security_code


class OnlineSubmission(BaseModel):
    procedure_code: str = Field(pattern=r"^\d\.\d{6}$", examples=["1.000894"])
    applicant: Applicant
    documents: list[ProvidedDocument] = Field(default=[], max_length=100)
    result_channel: str = Field(default="online", pattern="^(counter|post|online)$")


class CounterIntake(OnlineSubmission):
    channel: str = Field(default="in_person", pattern="^(in_person|post)$")
    result_channel: str = Field(default="counter", pattern="^(counter|post|online)$")
    sets: int = Field(default=1, ge=1, le=20)


def check_documents(procedure: ProcedureRef, documents: list[ProvidedDocument]) -> None:
    known = {d.code for d in procedure.required_documents}
    unknown = [d.code for d in documents if d.code not in known]
    if unknown:
        raise Problem(422, "unknown-documents", "Documents not required by the procedure",
                      f"Procedure {procedure.code} does not list: {', '.join(unknown)}.", field="documents",
                      unknown=unknown, required=sorted(known))
    codes = [d.code for d in documents]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise Problem(422, "repeated-documents", "A document is listed twice",
                      f"List each document once: {', '.join(repeated)}.", field="documents", repeated=repeated)


async def _create(deps: Deps, *, procedure: ProcedureRef, make) -> tuple[Dossier, str]:
    """Allocate the next code of the day for the agency and store the new dossier with its events."""
    now = utcnow()
    local = now.astimezone(deps.timezone)
    policy = await deps.policy.current()
    for _ in range(5):
        sequence = await deps.dossiers.next_sequence(procedure.agency_code, f"{local:%y%m%d}")
        code = domain.dossier_code(procedure.agency_code, local, sequence)
        security_code = new_security_code()
        try:
            dossier, events = make(code, hash_security_code(deps.pepper, code, security_code), now, policy)
        except DomainError as exc:
            raise problem_of(exc) from None
        try:
            return await deps.dossiers.add(dossier, events), security_code
        except DuplicateKey:
            continue  # a counter reset by an operator: take the next number
    raise Conflict("code-exhausted", "Could not allocate a dossier code", "Try again.")


async def submit_online(deps: Deps, *, submission: OnlineSubmission, caller: Caller) -> tuple[Dossier, str]:
    """Returns the new dossier and its security code (shown once, never stored)."""
    caller.require("citizen")
    actor = actor_of(caller)
    procedure = await deps.procedures.get(submission.procedure_code)
    check_documents(procedure, submission.documents)
    return await _create(deps, procedure=procedure, make=lambda code, sc_hash, now, policy: domain.submit_online(
        code=code, security_code_hash=sc_hash, procedure=procedure, applicant=submission.applicant,
        documents=submission.documents, result_channel=submission.result_channel, actor=actor, at=now,
        policy=policy))


async def intake_at_counter(deps: Deps, *, intake: CounterIntake, caller: Caller) -> tuple[Dossier, str]:
    caller.require("reception_officer")
    actor = actor_of(caller)
    procedure = await deps.procedures.get(intake.procedure_code)
    check_documents(procedure, intake.documents)
    try:
        domain.check_complete(procedure, intake.documents)  # before a code is spent
    except DomainError as exc:
        raise problem_of(exc) from None
    return await _create(deps, procedure=procedure, make=lambda code, sc_hash, now, policy: domain.intake_at_counter(
        code=code, security_code_hash=sc_hash, procedure=procedure, applicant=intake.applicant,
        documents=intake.documents, channel=intake.channel, result_channel=intake.result_channel, sets=intake.sets,
        actor=actor, at=now, policy=policy))
