"""Intake: a dossier filed online by a citizen, or received at the counter by an officer, with the files
of its documents; and the documents supplied later (after an intake or appraisal supplement request).

A dossier is saved only after every file is stored, and the files are stored under ids derived from
its code (see attachments.py): no dossier without its files, no file without its dossier."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from kit.events import utcnow
from kit.identity import Caller
from kit.problems import Conflict, Problem
from kit.store import DuplicateKey

from dossier import domain, handlers
from dossier.attachments import Attachments, Upload, assign, clean_filename
from dossier.domain import (CITIZEN, RECEPTION, Action, Applicant, Attachment, Dossier, ProcedureRef,
                            ProvidedDocument)
from dossier.handlers import Deps, actor_of
from dossier.security import hash_security_code, new_security_code

# Called with the code and security code of a dossier about to be inserted (the Idempotency-Key record
# keeps them, so that the answer survives a crash right after the insert).
Prepare = Callable[[str, str], Awaitable[None]]


def _filename(value: str) -> str:
    name = clean_filename(value)  # compared in Unicode NFC, as the uploaded names are
    if name is None or "/" in value or "\\" in value:
        raise ValueError("a file name has 1–255 characters, no path and no control characters")
    return name


Filename = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_filename)]


class SubmittedDocument(BaseModel):
    """A document as the client lists it, with its files by name: the `files` parts of the request."""

    code: str = Field(min_length=1, max_length=50, examples=["TK"])
    originals: int = Field(default=1, ge=0, le=100)
    copies: int = Field(default=0, ge=0, le=100)
    files: list[Filename] = Field(default=[], max_length=100, examples=[["to-khai.pdf"]],
                                  description="names of the uploaded files (parts named 'files') of this document")

    def provided(self, stored: dict[str, Attachment] | None = None) -> ProvidedDocument:
        """The document as the dossier keeps it: its files as stored (none before they are)."""
        return ProvidedDocument(code=self.code, originals=self.originals, copies=self.copies,
                                attachments=[stored[name] for name in self.files] if stored else [])


class OnlineSubmission(BaseModel):
    procedure_code: str = Field(pattern=r"^\d\.\d{6}$", examples=["1.000894"])
    applicant: Applicant
    documents: list[SubmittedDocument] = Field(default=[], max_length=100)
    result_channel: str = Field(default="online", pattern="^(counter|post|online)$")
    case_code: str | None = Field(default=None, max_length=20,
                                  description="the procedure's case (trường hợp), where it lists several")


class CounterIntake(OnlineSubmission):
    channel: str = Field(default="in_person", pattern="^(in_person|post)$")
    result_channel: str = Field(default="counter", pattern="^(counter|post|online)$")
    sets: int = Field(default=1, ge=1, le=20)


class DocumentsSubmission(BaseModel):
    """The documents supplied after a supplement request, with their files."""

    documents: list[SubmittedDocument] = Field(min_length=1, max_length=100)


def check_documents(procedure: ProcedureRef, documents: list[SubmittedDocument]) -> None:
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


def check_files(documents: list[SubmittedDocument], uploads: list[Upload], *, files_required: bool) -> None:
    assign(((d.code, d.files) for d in documents), uploads, files_required=files_required)


async def _create(deps: Deps, attachments: Attachments, *, procedure: ProcedureRef,
                  documents: list[SubmittedDocument], uploads: list[Upload], make,
                  prepare: Prepare | None) -> tuple[Dossier, str]:
    """Allocate the next code of the day for the agency, store the files under it, then store the new
    dossier with its events. If the insert fails, its files are deleted before the error goes on."""
    now = utcnow()
    local = now.astimezone(deps.timezone)
    policy = await deps.policy.current()
    for _ in range(5):
        sequence = await deps.dossiers.next_sequence(procedure.agency_code, f"{local:%y%m%d}")
        code = domain.dossier_code(procedure.agency_code, local, sequence)
        security_code = new_security_code()
        if prepare is not None:
            await prepare(code, security_code)
        try:
            async with attachments.staged(code, uploads) as stored:
                provided = [d.provided(stored) for d in documents]
                dossier, events = make(code, hash_security_code(deps.pepper, code, security_code), now, policy,
                                           provided)
                return await deps.dossiers.add(dossier, events), security_code
        except DuplicateKey:
            continue  # a counter reset by an operator: take the next number
    raise Conflict("code-exhausted", "Could not allocate a dossier code", "Try again.")


async def submit_online(deps: Deps, attachments: Attachments, *, submission: OnlineSubmission, uploads: list[Upload],
                        caller: Caller, prepare: Prepare | None = None) -> tuple[Dossier, str]:
    """Returns the new dossier and its security code (shown once, never stored). Every listed document
    comes with at least one file."""
    caller.require(CITIZEN)
    actor = actor_of(caller)
    procedure = await deps.procedures.get(submission.procedure_code)
    check_documents(procedure, submission.documents)
    domain.resolve_case(procedure, submission.case_code)
    check_files(submission.documents, uploads, files_required=True)
    return await _create(deps, attachments, procedure=procedure, documents=submission.documents, uploads=uploads,
                         prepare=prepare, make=lambda code, sc_hash, now, policy, documents: domain.submit_online(
                             code=code, security_code_hash=sc_hash, procedure=procedure,
                             applicant=submission.applicant, documents=documents,
                             result_channel=submission.result_channel, actor=actor, at=now, policy=policy,
                             case_code=submission.case_code))


async def intake_at_counter(deps: Deps, attachments: Attachments, *, intake: CounterIntake, uploads: list[Upload],
                            caller: Caller, prepare: Prepare | None = None) -> tuple[Dossier, str]:
    """A paper dossier received at the counter; its scans are optional (the officer may scan later)."""
    caller.require(RECEPTION)
    actor = actor_of(caller)
    procedure = await deps.procedures.get(intake.procedure_code)
    check_documents(procedure, intake.documents)
    domain.resolve_case(procedure, intake.case_code)
    check_files(intake.documents, uploads, files_required=False)
    domain.check_complete(procedure, [d.provided() for d in intake.documents])  # before a code is spent
    return await _create(deps, attachments, procedure=procedure, documents=intake.documents, uploads=uploads,
                         prepare=prepare, make=lambda code, sc_hash, now, policy, documents: domain.intake_at_counter(
                             code=code, security_code_hash=sc_hash, procedure=procedure, applicant=intake.applicant,
                             documents=documents, channel=intake.channel, result_channel=intake.result_channel,
                             sets=intake.sets, actor=actor, at=now, policy=policy, case_code=intake.case_code))


SUPPLY_ACTIONS = (Action.RESUBMIT, Action.PROVIDE_SUPPLEMENT)


async def supply_documents(deps: Deps, attachments: Attachments, *, code: str, action: Action,
                           submission: DocumentsSubmission, uploads: list[Upload], caller: Caller) -> Dossier:
    """Resubmit after an intake supplement request, or provide a supplement after appraisal: the
    aggregate judges the command first (state, role, owner), then the files are stored and the
    dossier saved. A citizen attaches files to every document; an officer at the counter may not."""
    if action not in SUPPLY_ACTIONS:
        raise ValueError(action)
    actor = actor_of(caller)
    dossier = await handlers.get_dossier(deps, code=code)
    check_documents(dossier.procedure, submission.documents)
    check_files(submission.documents, uploads,
                files_required=CITIZEN in actor.roles and RECEPTION not in actor.roles)

    def command(d: Dossier, a, at, p, documents: list[ProvidedDocument]):
        method = d.resubmit if action is Action.RESUBMIT else d.provide_supplement
        return method(actor=a, at=at, policy=p, documents=[x.model_copy(deep=True) for x in documents])

    # Judged on a copy before any file is stored: a wrong state, role or owner changes nothing.
    command(dossier.model_copy(deep=True), actor, utcnow(), await deps.policy.current(),
            [d.provided() for d in submission.documents])
    async with attachments.staged(dossier.code, uploads) as stored:
        provided = [d.provided(stored) for d in submission.documents]
        return await handlers.act(deps, code=dossier.code, caller=caller,
                                  command=lambda d, a, at, p: command(d, a, at, p, provided))
