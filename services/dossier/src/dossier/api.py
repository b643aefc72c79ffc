"""HTTP routes of the dossier service: reading a dossier, and one route per lifecycle action (intake and the
routes that take files are in api_intake.py)."""

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from kit.identity import CurrentCaller

from contracts.dossier import MissingItem
from dossier import handlers, receipts
from dossier.domain import (CODE_PATTERN, LABELS, STATUS_CODE, Action, Dossier, ProvidedDocument, RoutingStep,
                            State, SupplementRequest, Transition, allowed_actions)
from dossier.handlers import Deps

router = APIRouter(tags=["dossiers"])
OFFICERS = ("reception_officer", "specialist", "leader", "admin")


def get_deps(request: Request) -> Deps:
    return request.app.state.deps


DepsDep = Annotated[Deps, Depends(get_deps)]
Code = Annotated[str, Field(pattern=CODE_PATTERN)]


class DossierRead(BaseModel):
    code: str
    state: State
    status_code: int
    state_label_vi: str
    state_label_en: str
    allowed_actions: list[str]
    procedure_code: str
    procedure_name: str
    agency_code: str
    current_agency: str | None
    assignee: str | None
    channel: str
    result_channel: str
    submitted_at: datetime
    received_at: datetime | None
    due_at: datetime | None
    completed_at: datetime | None
    classification: str | None

    @classmethod
    def of(cls, d: Dossier) -> "DossierRead":
        vi, en = LABELS[d.state]
        return cls(code=d.code, state=d.state, status_code=STATUS_CODE[d.state], state_label_vi=vi,
                   state_label_en=en, allowed_actions=allowed_actions(d.state), procedure_code=d.procedure.code,
                   procedure_name=d.procedure.name_vi, agency_code=d.procedure.agency_code,
                   current_agency=d.current_agency, assignee=d.assignee, channel=d.channel,
                   result_channel=d.result_channel, submitted_at=d.submitted_at, received_at=d.received_at,
                   due_at=d.due_at, completed_at=d.completed_at, classification=d.classification)


class DossierDetail(DossierRead):
    """What an officer sees: the documents, the routing, the supplements and the control slip."""

    applicant_name: str
    documents: list[ProvidedDocument]
    missing_documents: list[str]
    steps: list[RoutingStep]
    supplements: list[SupplementRequest]
    extended: bool
    history: list[Transition]

    @classmethod
    def of(cls, d: Dossier) -> "DossierDetail":
        return cls(**DossierRead.of(d).model_dump(), applicant_name=d.applicant.name, documents=d.documents,
                   missing_documents=[r.code for r in d.missing_documents], steps=d.steps, supplements=d.supplements,
                   extended=d.extension is not None, history=d.history)


class NewDossier(DossierRead):
    security_code: str = Field(description="Shown once: only a keyed hash is kept")


@router.get("/dossiers/{code}", response_model=DossierDetail, summary="A dossier with its control slip, for officers")
async def get(deps: DepsDep, caller: CurrentCaller, code: str) -> DossierDetail:
    caller.require(*OFFICERS)
    return DossierDetail.of(await handlers.get_dossier(deps, code=code))


@router.post("/dossiers/{code}/receipt", summary="The receipt and appointment slip (PDF, with a QR code to the lookup)",
             response_class=Response, responses={200: {"content": {"application/pdf": {}}},
                                                 404: {"description": "no dossier matches the code and security code"}})
async def receipt(deps: DepsDep, code: str, body: receipts.ReceiptRequest) -> Response:
    pdf = await receipts.receipt_pdf(deps, code=code, security_code=body.security_code)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="bien-nhan-{code}.pdf"'})


# -- one route per lifecycle action --------------------------------------------------------------


class Reason(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)


class Required(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)


class IntakeSupplementBody(Required):
    items: list[MissingItem] = Field(default=[], max_length=100,
                                     description="faulty items besides the missing documents, which are listed for you")


class TransferBody(Reason):
    to_agency: str = Field(pattern=r"^[0-9A-Z.]{3,40}$", examples=["000.00.21.H49"])
    step_working_days: float | None = Field(default=None, gt=0, le=365,
                                            description="this agency's deadline (Phiếu chuyển xử lý)")


class AssignBody(BaseModel):
    specialist: str = Field(min_length=1, max_length=100)


class AppraiseBody(Required):
    proposal: Literal["approve", "refuse"]


class FeesBody(BaseModel):
    amount: int = Field(gt=0, le=10_000_000_000, description="VND")
    description: str = Field(min_length=2, max_length=500)


class SupplementBody(Required):
    items: list[MissingItem] = Field(min_length=1, max_length=100)


class ExtendBody(Required):
    new_due_on: date


class ResolveBody(BaseModel):
    result_number: str | None = Field(default=None, max_length=100)


class ReturnBody(BaseModel):
    method: Literal["counter", "post", "online"] | None = None


def _route(action: Action, summary: str, body_type: type[BaseModel] | None, call) -> None:
    """Register POST /dossiers/{code}/{action}: parse, let the aggregate judge, answer the new state."""
    path = f"/dossiers/{{code}}/{action.value.replace('_', '-')}"

    if body_type is None:
        async def endpoint(deps: DepsDep, caller: CurrentCaller, code: str) -> DossierRead:
            return DossierRead.of(await handlers.act(deps, code=code, caller=caller,
                                                     command=lambda d, a, at, p: call(d, a, at, p, None)))
    elif any(f.is_required() for f in body_type.model_fields.values()):
        async def endpoint(deps: DepsDep, caller: CurrentCaller, code: str, body: body_type) -> DossierRead:  # type: ignore[valid-type]
            return DossierRead.of(await handlers.act(deps, code=code, caller=caller,
                                                     command=lambda d, a, at, p: call(d, a, at, p, body)))
    else:  # every field optional: the body may be left out
        async def endpoint(deps: DepsDep, caller: CurrentCaller, code: str,
                           body: body_type | None = None) -> DossierRead:  # type: ignore[valid-type]
            given = body or body_type()
            return DossierRead.of(await handlers.act(deps, code=code, caller=caller,
                                                     command=lambda d, a, at, p: call(d, a, at, p, given)))

    endpoint.__name__ = action.value
    router.add_api_route(path, endpoint, methods=["POST"], response_model=DossierRead, summary=summary,
                         responses={403: {"description": "wrong role or agency"},
                                    409: {"description": "not allowed in the current state (lists allowed_actions)"},
                                    422: {"description": "invalid command (e.g. a missing reason)"}})


def _kw(a, at, p):
    return {"actor": a, "at": at, "policy": p}


_route(Action.REQUEST_INTAKE_SUPPLEMENT, "Ask once for every missing item before receipt", IntakeSupplementBody,
       lambda d, a, at, p, b: d.request_intake_supplement(**_kw(a, at, p), reason=b.reason, extra_items=b.items))
_route(Action.REFUSE_INTAKE, "Refuse at intake, with the reason", Required,
       lambda d, a, at, p, b: d.refuse_intake(**_kw(a, at, p), reason=b.reason))
_route(Action.RECEIVE, "Receive a complete dossier (the clock starts)", None,
       lambda d, a, at, p, b: d.receive(**_kw(a, at, p)))
_route(Action.TRANSFER, "Send to the competent agency, or on to another agency", TransferBody,
       lambda d, a, at, p, b: d.transfer(**_kw(a, at, p), to_agency=b.to_agency,
                                         step_working_days=b.step_working_days, reason=b.reason))
_route(Action.ASSIGN, "Assign to a specialist", AssignBody,
       lambda d, a, at, p, b: d.assign(**_kw(a, at, p), specialist=b.specialist))
_route(Action.APPRAISE, "Appraise and propose a decision", AppraiseBody,
       lambda d, a, at, p, b: d.appraise(**_kw(a, at, p), proposal=b.proposal, reason=b.reason))
_route(Action.APPROVE, "Approve the proposed decision", Reason,
       lambda d, a, at, p, b: d.approve(**_kw(a, at, p), reason=b.reason))
_route(Action.REQUEST_FEES, "Ask for fees or obligations before the result", FeesBody,
       lambda d, a, at, p, b: d.request_fees(**_kw(a, at, p), amount=b.amount, description=b.description))
_route(Action.RECORD_FEES_PAID, "Record that the fees are paid", None,
       lambda d, a, at, p, b: d.record_fees_paid(**_kw(a, at, p)))
_route(Action.REQUEST_SUPPLEMENT, "Ask for a supplement after appraisal", SupplementBody,
       lambda d, a, at, p, b: d.request_supplement(**_kw(a, at, p), reason=b.reason, items=b.items))
_route(Action.REFUSE, "Refuse after appraisal, with the reason", Required,
       lambda d, a, at, p, b: d.refuse(**_kw(a, at, p), reason=b.reason))
_route(Action.EXTEND, "Extend once, with an apology and a new appointment", ExtendBody,
       lambda d, a, at, p, b: d.extend(**_kw(a, at, p), reason=b.reason, new_due_on=b.new_due_on))
_route(Action.REQUEST_WITHDRAWAL, "Ask to withdraw the dossier", Required,
       lambda d, a, at, p, b: d.request_withdrawal(**_kw(a, at, p), reason=b.reason))
_route(Action.CONFIRM_WITHDRAWAL, "Confirm a withdrawal: processing stops", Reason,
       lambda d, a, at, p, b: d.confirm_withdrawal(**_kw(a, at, p), reason=b.reason))
_route(Action.CANCEL_WITHDRAWAL, "Take back a withdrawal request: processing resumes", Reason,
       lambda d, a, at, p, b: d.cancel_withdrawal(**_kw(a, at, p), reason=b.reason))
_route(Action.RESOLVE, "Sign and issue the result", ResolveBody,
       lambda d, a, at, p, b: d.resolve(**_kw(a, at, p), result_number=b.result_number))
_route(Action.RETURN_RESULT, "Hand the result to the citizen", ReturnBody,
       lambda d, a, at, p, b: d.return_result(**_kw(a, at, p), method=b.method))
