"""HTTP routes of the dossier service."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from kit.identity import CurrentCaller

from dossier import handlers
from dossier.domain import LABELS, STATUS_CODE, Dossier, State
from dossier.handlers import Deps, OnlineSubmission

router = APIRouter(tags=["dossiers"])


def get_deps(request: Request) -> Deps:
    return request.app.state.deps


DepsDep = Annotated[Deps, Depends(get_deps)]


class DossierRead(BaseModel):
    code: str
    state: State
    status_code: int | None
    state_label_vi: str
    state_label_en: str
    procedure_code: str
    procedure_name: str
    agency_code: str
    channel: str
    submitted_at: datetime
    received_at: datetime | None
    due_at: datetime | None

    @classmethod
    def of(cls, d: Dossier) -> "DossierRead":
        vi, en = LABELS[d.state]
        return cls(code=d.code, state=d.state, status_code=STATUS_CODE.get(d.state), state_label_vi=vi,
                   state_label_en=en, procedure_code=d.procedure.code, procedure_name=d.procedure.name_vi,
                   agency_code=d.procedure.agency_code, channel=d.channel, submitted_at=d.submitted_at,
                   received_at=d.received_at, due_at=d.due_at)


class SubmissionReceipt(DossierRead):
    security_code: str


@router.post("/dossiers", response_model=SubmissionReceipt, status_code=201, summary="Submit a dossier online")
async def submit(deps: DepsDep, caller: CurrentCaller, submission: OnlineSubmission) -> SubmissionReceipt:
    caller.require("citizen")
    dossier, security_code = await handlers.submit_online(deps, submission=submission, caller=caller)
    return SubmissionReceipt(**DossierRead.of(dossier).model_dump(), security_code=security_code)


@router.get("/dossiers/{code}", response_model=DossierRead, summary="A dossier, for officers")
async def get(deps: DepsDep, caller: CurrentCaller, code: str) -> DossierRead:
    caller.require("reception_officer", "specialist", "leader", "admin")
    return DossierRead.of(await handlers.get_dossier(deps, code=code))


@router.post("/dossiers/{code}/receive", response_model=DossierRead, summary="Receive a dossier (the clock starts)")
async def receive(deps: DepsDep, caller: CurrentCaller, code: str) -> DossierRead:
    return DossierRead.of(await handlers.receive(deps, code=code, caller=caller))
