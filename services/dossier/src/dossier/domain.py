"""The dossier aggregate and its lifecycle (DOMAIN.md section 1). Pure: no I/O.

Each change returns the events it causes; the repository stores them in the document's outbox
in the same write."""

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from contracts import EventData
from contracts.dossier import ApplicantContact, DossierReceived, DossierSubmitted

CODE_PATTERN = r"^[0-9A-Z.]+-\d{6}-\d{4}$"


class State(StrEnum):
    SUBMITTED = "submitted"
    RECEIVED = "received"


# National (DVCQG) status codes, DOMAIN.md section 1.
STATUS_CODE = {State.SUBMITTED: 1, State.RECEIVED: 2}
LABELS = {
    State.SUBMITTED: ("Mới đăng ký", "Submitted"),
    State.RECEIVED: ("Đã tiếp nhận", "Received"),
}


class IllegalTransition(Exception):
    def __init__(self, state: State, action: str):
        super().__init__(f"cannot {action} a dossier in state {state}")
        self.state = state
        self.action = action


ALLOWED_ACTIONS: dict[State, list[str]] = {State.SUBMITTED: ["receive"], State.RECEIVED: []}


class Applicant(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    id_number: str = Field(pattern=r"^\d{12}$", description="12-digit citizen ID (CCCD)")
    phone: str = Field(pattern=r"^(\+84|0)\d{9,10}$")
    email: EmailStr | None = None
    address: str = Field(min_length=3, max_length=500)

    def contact(self) -> ApplicantContact:
        return ApplicantContact(name=self.name, phone=self.phone, email=self.email)


class ProvidedDocument(BaseModel):
    code: str = Field(min_length=1, max_length=50)
    originals: int = Field(default=1, ge=0)
    copies: int = Field(default=0, ge=0)


class ProcedureRef(BaseModel):
    """The dossier service's own copy of what it needs of a procedure."""

    code: str
    version: int
    name_vi: str
    agency_code: str
    required_documents: list[str] = []


class Transition(BaseModel):
    """One line of the control slip (Phiếu kiểm soát quá trình giải quyết hồ sơ)."""

    at: datetime
    actor: str
    from_state: State | None
    to_state: State
    action: str
    reason: str | None = None


class Dossier(BaseModel):
    code: str
    security_code_hash: str
    procedure: ProcedureRef
    applicant: Applicant
    documents: list[ProvidedDocument]
    channel: Literal["online", "in_person", "post"]
    result_channel: Literal["counter", "post", "online"]
    state: State
    submitted_at: datetime
    received_at: datetime | None = None
    due_at: datetime | None = None
    history: list[Transition] = []
    version: int = 0

    def _change(self, data_type: type[EventData], at: datetime, **extra) -> EventData:
        return data_type(code=self.code, sequence=self.version + 1, state=self.state.value,
                         status_code=STATUS_CODE.get(self.state), procedure_code=self.procedure.code,
                         procedure_name=self.procedure.name_vi, agency_code=self.procedure.agency_code,
                         channel=self.channel, occurred_at=at, due_at=self.due_at, **extra)

    def receive(self, *, officer: str, at: datetime) -> list[EventData]:
        if self.state is not State.SUBMITTED:
            raise IllegalTransition(self.state, "receive")
        self.history.append(Transition(at=at, actor=officer, from_state=self.state, to_state=State.RECEIVED,
                                       action="receive"))
        self.state = State.RECEIVED
        self.received_at = at
        return [self._change(DossierReceived, at, security_code_hash=self.security_code_hash,
                             applicant=self.applicant.contact(), received_at=at, received_by=officer)]


def submit_online(*, code: str, security_code_hash: str, procedure: ProcedureRef, applicant: Applicant,
                  documents: list[ProvidedDocument], result_channel: str, actor: str,
                  at: datetime) -> tuple[Dossier, list[EventData]]:
    dossier = Dossier(code=code, security_code_hash=security_code_hash, procedure=procedure, applicant=applicant,
                      documents=documents, channel="online", result_channel=result_channel, state=State.SUBMITTED,
                      submitted_at=at,
                      history=[Transition(at=at, actor=actor, from_state=None, to_state=State.SUBMITTED,
                                          action="submit_online")])
    event = dossier._change(DossierSubmitted, at, security_code_hash=security_code_hash,
                            applicant=applicant.contact(), result_channel=result_channel)
    return dossier, [event]


def dossier_code(agency_code: str, day: datetime, sequence: int) -> str:
    """[agency e-ID]-[yymmdd]-[4-digit daily sequence] (Decree 118 Art 28)."""
    if not 1 <= sequence <= 9999:
        raise ValueError("daily sequence exhausted")
    return f"{agency_code}-{day:%y%m%d}-{sequence:04d}"
