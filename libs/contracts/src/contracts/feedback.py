"""Events of the feedback service: petitions (phản ánh, kiến nghị) and satisfaction ratings."""

from datetime import datetime
from typing import Literal

from contracts.base import EventData, contract
from contracts.dossier import ApplicantContact

TOPIC = "feedback.events"

Category = Literal["procedure", "conduct"]
Deadline = Literal["decision", "information", "answer", "publication"]


class PetitionChange(EventData):
    petition_id: str
    state: str
    category: Category
    agency_code: str | None = None  # the agency handling it (after assignment), or the one it names
    dossier_code: str | None = None
    procedure_code: str | None = None
    occurred_at: datetime
    actor: str | None = None  # the officer's subject; "system" for timers; None for the public
    due_at: datetime | None = None  # the deadline of the step the petition is now in


@contract("vn.motcua.feedback.received.v1", TOPIC, "A petition (phản ánh, kiến nghị) was received.")
class FeedbackReceived(PetitionChange):
    channel: str  # online / counter / hotline / comment_box / open311
    received_at: datetime


@contract("vn.motcua.feedback.accepted.v1", TOPIC, "The centre accepted a petition for handling.")
class FeedbackAccepted(PetitionChange):
    pass


@contract("vn.motcua.feedback.rejected.v1", TOPIC, "The centre rejected a petition, with the reason.")
class FeedbackRejected(PetitionChange):
    reason: str
    # Personal data, for the notification service only: the submitter is told why.
    submitter: ApplicantContact | None = None


@contract("vn.motcua.feedback.information_requested.v1", TOPIC, "More information was asked of the submitter.")
class FeedbackInformationRequested(PetitionChange):
    request: str
    submitter: ApplicantContact | None = None


@contract("vn.motcua.feedback.assigned.v1", TOPIC, "A petition was assigned, transferred or escalated to an agency.")
class FeedbackAssigned(PetitionChange):
    how: Literal["assigned", "transferred", "escalated"]
    from_agency: str | None = None


@contract("vn.motcua.feedback.answered.v1", TOPIC, "The agency answered a petition.")
class FeedbackAnswered(PetitionChange):
    answered_at: datetime
    submitter: ApplicantContact | None = None


@contract("vn.motcua.feedback.published.v1", TOPIC,
          "An answered petition was published (public questions and answers).")
class FeedbackPublished(PetitionChange):
    pass


@contract("vn.motcua.feedback.overdue.v1", TOPIC,
          "A petition passed the deadline of its step (emitted once per deadline).")
class FeedbackOverdue(PetitionChange):
    deadline: Deadline


@contract("vn.motcua.rating.invited.v1", TOPIC,
          "A returned dossier's applicant is invited to rate the service, in one click from the message.")
class RatingInvited(EventData):
    dossier_code: str
    agency_code: str
    procedure_name: str
    applicant: ApplicantContact | None = None
    rate_url: str  # the page to rate (carries a token: anyone holding it may rate this dossier, once)
    occurred_at: datetime


@contract("vn.motcua.rating.submitted.v1", TOPIC, "A citizen rated a returned dossier (1-5), once per dossier.")
class RatingSubmitted(EventData):
    dossier_code: str
    agency_code: str
    score: int
    reasons: list[str] = []
    satisfied: bool  # score >= 4: what the satisfaction share counts
    rated_at: datetime
