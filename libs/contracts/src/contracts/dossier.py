"""Events of the dossier lifecycle (DOMAIN.md section 1). One event type per transition; every one
carries the fields of `DossierChange`, so a consumer can keep a read model from any of them."""

from datetime import date, datetime

from pydantic import BaseModel

from contracts.base import EventData, contract

TOPIC = "dossier.events"


class ApplicantContact(BaseModel):
    """Who to tell. Personal data: never logged."""

    name: str
    phone: str | None = None
    email: str | None = None
    # The citizen account that filed the dossier online (None at the counter): its notification
    # preferences (channels, language) apply, and its in-app inbox gets the messages.
    account: str | None = None


class DossierChange(EventData):
    code: str
    sequence: int  # the aggregate's version after the change: consumers drop stale updates
    action: str = ""  # the command that caused it, as in the audit trail
    state: str
    status_code: int | None  # the national (DVCQG) status code, where there is one
    procedure_code: str
    procedure_name: str
    agency_code: str  # the agency responsible for the procedure (the dossier code's prefix)
    current_agency: str | None = None  # the agency handling the current step
    assignee: str | None = None
    channel: str
    applicant: ApplicantContact | None = None
    occurred_at: datetime
    actor: str | None = None  # the officer's or citizen's subject; "system" for timers
    reason: str | None = None
    received_at: datetime | None = None
    due_at: datetime | None = None


def _dossier_event(name: str, summary: str):
    return contract(f"vn.motcua.dossier.{name}.v1", TOPIC, summary)


@_dossier_event("submitted", "A citizen submitted a dossier online; staff must act within 8 working hours.")
class DossierSubmitted(DossierChange):
    security_code_hash: str
    result_channel: str


class MissingItem(BaseModel):
    code: str | None = None  # a required document's code, or None for a free-text item
    name: str
    note: str = ""


@_dossier_event("intake_supplement_requested",
                "Before receipt, the counter asked once for every missing or faulty document; the clock has not started.")
class DossierIntakeSupplementRequested(DossierChange):
    items: list[MissingItem]


@_dossier_event("resubmitted", "The citizen supplied what the counter asked for; the dossier is back at intake.")
class DossierResubmitted(DossierChange):
    pass


@_dossier_event("refused_at_intake", "The counter refused the dossier (Phiếu từ chối); the reason is given.")
class DossierRefusedAtIntake(DossierChange):
    pass


@_dossier_event("received", "A complete dossier was received: the receipt is issued and the legal clock starts.")
class DossierReceived(DossierChange):
    security_code_hash: str
    received_by: str
    result_channel: str
    case_code: str | None = None  # the procedure's case (trường hợp) the dossier is filed under: fees differ


@_dossier_event("transferred", "Sent to the competent agency, or between agencies with this step's deadline.")
class DossierTransferred(DossierChange):
    from_agency: str | None
    to_agency: str
    step_due_at: datetime | None


@_dossier_event("assigned", "The agency head assigned the dossier to a specialist.")
class DossierAssigned(DossierChange):
    pass


@_dossier_event("appraised", "The specialist appraised the dossier and proposed a decision.")
class DossierAppraised(DossierChange):
    proposal: str


@_dossier_event("approved", "The leader approved the proposed decision.")
class DossierApproved(DossierChange):
    pass


@_dossier_event("fees_requested", "The citizen must pay fees or meet obligations before the result is issued.")
class DossierFeesRequested(DossierChange):
    item_id: str  # what the payment service's fee item is called: "<code>/fees-<n>"
    amount: int
    description: str


@_dossier_event("fees_paid", "The fees asked for are paid; processing resumes.")
class DossierFeesPaid(DossierChange):
    pass


@_dossier_event("supplement_requested",
                "After appraisal the agency asked for more documents; the clock restarts once they arrive.")
class DossierSupplementRequested(DossierChange):
    items: list[MissingItem]
    respond_by: datetime


@_dossier_event("supplement_provided", "The citizen supplied the documents; the clock restarted with a new due date.")
class DossierSupplementProvided(DossierChange):
    pass


@_dossier_event("refused", "Refused after appraisal (Phiếu từ chối), with the reason.")
class DossierRefused(DossierChange):
    pass


@_dossier_event("extended", "The one extension: an apology and a new appointment (Phiếu đề nghị gia hạn).")
class DossierExtended(DossierChange):
    previous_due_at: datetime


@_dossier_event("withdrawal_requested", "The citizen asked to withdraw the dossier.")
class DossierWithdrawalRequested(DossierChange):
    pass


@_dossier_event("withdrawal_cancelled", "The citizen took back the withdrawal request; processing resumes.")
class DossierWithdrawalCancelled(DossierChange):
    pass


@_dossier_event("stopped", "Processing stopped: withdrawal confirmed, or no answer to a supplement request in time.")
class DossierStopped(DossierChange):
    pass


@_dossier_event("resolved", "The result was signed and issued.")
class DossierResolved(DossierChange):
    result_number: str | None = None
    classification: str | None = None  # early / on_time / late


@_dossier_event("returned", "The result was handed to the citizen (at the counter, by post or online).")
class DossierReturned(DossierChange):
    method: str


@_dossier_event("overdue", "An open dossier passed its due date (emitted once per due date).")
class DossierOverdue(DossierChange):
    due_on: date


@_dossier_event("stalled", "A dossier has not moved for the set number of working hours; its agency's leader is told.")
class DossierStalled(DossierChange):
    idle_since: datetime
