"""Events of the dossier lifecycle (DOMAIN.md section 1)."""

from datetime import datetime

from pydantic import BaseModel

from contracts.base import EventData, contract

TOPIC = "dossier.events"


class ApplicantContact(BaseModel):
    """Who to tell. Personal data: never logged."""

    name: str
    phone: str | None = None
    email: str | None = None


class DossierChange(EventData):
    """Fields every dossier event carries, so a consumer can keep a read model from any of them."""

    code: str
    sequence: int  # the aggregate's version after the change: consumers drop stale updates
    state: str
    status_code: int | None  # the national (DVCQG) status code, where there is one
    procedure_code: str
    procedure_name: str
    agency_code: str
    channel: str
    occurred_at: datetime
    due_at: datetime | None = None


@contract("vn.motcua.dossier.submitted.v1", TOPIC, "A citizen submitted a dossier online; staff must act within 8 working hours.")
class DossierSubmitted(DossierChange):
    security_code_hash: str
    applicant: ApplicantContact
    result_channel: str


@contract("vn.motcua.dossier.received.v1", TOPIC, "A complete dossier was received: the legal clock starts.")
class DossierReceived(DossierChange):
    security_code_hash: str
    applicant: ApplicantContact
    received_at: datetime
    received_by: str
