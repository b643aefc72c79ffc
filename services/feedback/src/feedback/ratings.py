"""Satisfaction ratings of returned dossiers (DOMAIN.md sections 5 and 6): the citizen is invited once per
returned dossier, rates it from 1 to 5 in one click from the message, once; leaders read the shares.

The invitation link is the credential: its token is the dossier code and an HMAC of it under the rating
secret, so no sign-in is needed and nobody can rate a dossier they were not invited for. A token that does
not verify and a dossier that was never invited get the same 404: the answer reveals nothing.

The rules (token, reasons, score, comment, period) are pure functions; `Ratings` is the use-case class over
the store: two collections, each document holding its own outbox (invitation + `RatingInvited`, rating +
`RatingSubmitted`), and counts for the summary, never a read of every rating."""

import asyncio
import base64
import hashlib
import hmac
import logging
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from kit.events import CloudEvent, utcnow
from kit.outbox import outbox_entry
from kit.problems import Conflict, Problem
from kit.rules import RuleViolation
from kit.runtime import Runtime
from kit.store import DuplicateKey

from contracts import UnknownEventType, build, parse
from contracts.dossier import DossierReturned
from contracts.feedback import TOPIC, RatingInvited, RatingSubmitted
from feedback.rating_settings import RatingSettings

log = logging.getLogger("feedback.ratings")

INVITATIONS = "rating_invitations"  # one per returned dossier, `_id` = the dossier code
RATINGS = "ratings"  # one per rated dossier, `_id` = the dossier code
SOURCE = "/feedback"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # the local days of the summary
# The summary counts by agency and local day, and finds the agencies along the same index.
RATING_INDEXES = [["agency_code", "rated_on"], ["rated_on"]]

SCORES = (1, 2, 3, 4, 5)
SATISFIED_FROM = 4  # a score of 4 or 5 is "satisfied": what the satisfaction share counts
MAX_COMMENT = 1_000  # characters, after NFC normalisation
MAX_PERIOD_DAYS = 366
SUMMARY_ROLES = ("leader", "admin", "feedback_officer")

# Why a citizen was not (fully) satisfied: a fixed list, so it can be counted; "other" + the comment for the rest.
REASONS: dict[str, dict[str, str]] = {
    "slow": {"vi": "Giải quyết chậm, trễ hẹn", "en": "Slow, or later than the appointment"},
    "unclear_guidance": {"vi": "Hướng dẫn chưa rõ ràng, đầy đủ", "en": "Unclear or incomplete guidance"},
    "staff_attitude": {"vi": "Thái độ, tác phong của cán bộ", "en": "Staff attitude or conduct"},
    "many_trips": {"vi": "Phải đi lại nhiều lần", "en": "Had to come back several times"},
    "fees": {"vi": "Phí, lệ phí và chi phí", "en": "Fees and charges"},
    "online_system": {"vi": "Hệ thống dịch vụ công trực tuyến khó dùng hoặc bị lỗi",
                      "en": "The online service system is hard to use or faulty"},
    "other": {"vi": "Lý do khác", "en": "Other"},
}

# The same answer for a forged or garbled token and for a dossier never invited.
NOT_INVITED = Problem(404, "invitation-not-found", "Không tìm thấy lời mời đánh giá / Rating invitation not found",
                      "Đường dẫn đánh giá không hợp lệ. / This rating link is not valid.")


# --- the invitation token (pure) ---------------------------------------------------------------------

_CONTEXT = b"motcua/rating-invitation/v1:"  # domain separation: this key signs nothing else
_MAC_BYTES = 16  # 128 bits
_MAX_TOKEN = 200


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def invitation_token(secret: str, dossier_code: str) -> str:
    """`<dossier code, base64url>.<HMAC-SHA256 of it, first 128 bits, base64url>`: URL-safe, no padding."""
    mac = hmac.new(secret.encode(), _CONTEXT + dossier_code.encode(), hashlib.sha256).digest()[:_MAC_BYTES]
    return f"{_b64(dossier_code.encode())}.{_b64(mac)}"


def dossier_of_token(secret: str, token: str) -> str | None:
    """The dossier code a token was made for, or None if it does not verify (constant-time comparison)."""
    if not token or len(token) > _MAX_TOKEN or token.count(".") != 1:
        return None
    encoded = token.split(".", 1)[0]
    try:
        code = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    # Rebuilt and compared whole: a non-canonical encoding of the same code does not verify either.
    expected = invitation_token(secret, code)
    return code if hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace")) else None


# --- the rating's rules (pure) -----------------------------------------------------------------------


class UnknownReason(RuleViolation):
    kind = "unknown-reason"


class CommentTooLong(RuleViolation):
    kind = "comment-too-long"


def is_satisfied(score: int) -> bool:
    return score >= SATISFIED_FROM


def check_reasons(reasons: list[str]) -> list[str]:
    """Known codes only, each once, in the order given; an unknown one is refused, naming it."""
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        raise UnknownReason(f"Unknown reason code(s): {', '.join(repr(r) for r in unknown)}.", field="reasons",
                            reasons=unknown, known=list(REASONS))
    return list(dict.fromkeys(reasons))


def clean_comment(comment: str | None) -> str | None:
    """NFC-normalised and trimmed; blank is no comment; at most MAX_COMMENT characters."""
    if comment is None:
        return None
    text = unicodedata.normalize("NFC", comment).strip()
    if len(text) > MAX_COMMENT:
        raise CommentTooLong(f"The comment has {len(text)} characters; at most {MAX_COMMENT} are allowed.",
                             field="comment", max_length=MAX_COMMENT)
    return text or None


def local_day(at: datetime) -> str:
    return at.astimezone(TZ).date().isoformat()


def check_period(start: date, end: date, *, max_days: int = MAX_PERIOD_DAYS) -> None:
    if start > end:
        raise Problem(422, "invalid-period", "The period ends before it starts",
                      f"'from' ({start}) must be on or before 'to' ({end}).", field="from")
    if (end - start).days + 1 > max_days:
        raise Problem(422, "period-too-long", "The period is too long",
                      f"A summary covers at most {max_days} days; ask for it in parts.", field="to",
                      max_days=max_days)


# --- what the API reads and answers ------------------------------------------------------------------


class RatingCreate(BaseModel):
    """The citizen's rating, sent from the invitation's page."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(strict=True, ge=1, le=5, description="1 (very unsatisfied) to 5 (very satisfied)")
    reasons: list[str] = Field(default_factory=list, max_length=len(REASONS),
                               description="codes from the invitation's `reasons`, each once")
    # The limit counts characters after NFC normalisation (checked by the rule); this bound only stops
    # absurd bodies early.
    comment: str | None = Field(default=None, max_length=4 * MAX_COMMENT,
                                description=f"free text, at most {MAX_COMMENT} characters")


class ReasonRead(BaseModel):
    code: str
    label_vi: str
    label_en: str


def reason_list() -> list[ReasonRead]:
    return [ReasonRead(code=code, label_vi=labels["vi"], label_en=labels["en"]) for code, labels in REASONS.items()]


class InvitationRead(BaseModel):
    """What the public page shows: no personal data (the link alone opens it)."""

    dossier_code: str
    procedure_name: str
    agency_code: str
    rated: bool
    scores: list[int] = list(SCORES)
    reasons: list[ReasonRead]


class RatingRead(BaseModel):
    dossier_code: str
    score: int
    reasons: list[str]
    satisfied: bool
    rated_at: datetime


class ReasonCount(ReasonRead):
    count: int


class RatingFigures(BaseModel):
    agency: str | None = Field(description="the agency competent for the dossiers; null on the total row")
    count: int
    average: float | None = Field(description="mean score, 2 decimals; null without ratings")
    satisfied: int = Field(description=f"ratings of {SATISFIED_FROM} or 5")
    satisfied_share: float | None = Field(description="satisfied / count, 4 decimals; null without ratings")
    distribution: dict[str, int] = Field(description="ratings per score, '1' to '5'")
    reasons: list[ReasonCount] = Field(description="how many ratings gave each reason")

    @classmethod
    def of(cls, agency: str | None, by_score: dict[int, int], by_reason: dict[str, int]) -> "RatingFigures":
        count = sum(by_score.values())
        satisfied = sum(n for score, n in by_score.items() if is_satisfied(score))
        return cls(agency=agency, count=count,
                   average=round(sum(s * n for s, n in by_score.items()) / count, 2) if count else None,
                   satisfied=satisfied, satisfied_share=round(satisfied / count, 4) if count else None,
                   distribution={str(s): by_score.get(s, 0) for s in SCORES},
                   reasons=[ReasonCount(**r.model_dump(), count=by_reason.get(r.code, 0)) for r in reason_list()])


class RatingSummary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period_from: date = Field(alias="from")
    period_to: date = Field(alias="to")
    rows: list[RatingFigures] = Field(description="one per agency with ratings in the period (or the one asked)")
    total: RatingFigures


# --- the use cases -----------------------------------------------------------------------------------


class Ratings:
    def __init__(self, runtime: Runtime, settings: RatingSettings, *, clock: Callable[[], datetime] = utcnow):
        self.runtime = runtime
        self.settings = settings
        self.invitations = runtime.store.collection(INVITATIONS)
        self.ratings = runtime.store.collection(RATINGS)
        self.clock = clock
        self._secret = settings.rating_secret.get_secret_value()

    async def ensure_indexes(self) -> None:
        for fields in RATING_INDEXES:
            await self.ratings.ensure_index(fields)

    def token_for(self, dossier_code: str) -> str:
        return invitation_token(self._secret, dossier_code)

    def rate_url(self, dossier_code: str) -> str:
        return self.settings.rating_url_template.format(token=self.token_for(dossier_code))

    # --- invitations ----------------------------------------------------------------------------------

    async def on_dossier_event(self, event: CloudEvent) -> None:
        """A returned dossier: one invitation, with its `RatingInvited` in the same document's outbox. The
        insert is keyed by the dossier code, so a redelivery or a second return never invites twice."""
        try:
            data = parse(event)
        except UnknownEventType:
            return
        if not isinstance(data, DossierReturned):
            return
        now = self.clock()
        invited = RatingInvited(dossier_code=data.code, agency_code=data.agency_code,
                                procedure_name=data.procedure_name, applicant=data.applicant,
                                rate_url=self.rate_url(data.code), occurred_at=now)
        # The applicant's contact travels in the event only (for the notification service), not in the document.
        doc = {"_id": data.code, "agency_code": data.agency_code, "procedure_code": data.procedure_code,
               "procedure_name": data.procedure_name, "returned_at": data.occurred_at.isoformat(),
               "invited_at": now.isoformat()}
        try:
            await self.invitations.insert(doc, [outbox_entry(TOPIC, build(invited, source=SOURCE, subject=data.code),
                                                             data.code)])
        except DuplicateKey:
            log.info("rating invitation exists already", extra={"dossier_code": data.code})
            return
        self.runtime.notify_outbox()
        log.info("rating invitation recorded", extra={"dossier_code": data.code, "agency_code": data.agency_code})

    async def _invitation(self, token: str) -> dict:
        code = dossier_of_token(self._secret, token)
        invitation = await self.invitations.get(code) if code is not None else None
        if invitation is None:
            raise NOT_INVITED
        return invitation

    async def invitation(self, token: str) -> InvitationRead:
        invitation = await self._invitation(token)
        rated = await self.ratings.get(invitation["_id"]) is not None
        return InvitationRead(dossier_code=invitation["_id"], procedure_name=invitation["procedure_name"],
                              agency_code=invitation["agency_code"], rated=rated, reasons=reason_list())

    # --- rating ---------------------------------------------------------------------------------------

    async def rate(self, token: str, *, score: int, reasons: list[str], comment: str | None) -> RatingRead:
        """The one rating of the invited dossier, with its `RatingSubmitted`; a second one is a 409."""
        invitation = await self._invitation(token)
        code = invitation["_id"]
        if score not in SCORES:
            raise RuleViolation(f"The score must be one of {list(SCORES)}.", field="score")
        reasons = check_reasons(reasons)
        comment = clean_comment(comment)
        now = self.clock()
        submitted = RatingSubmitted(dossier_code=code, agency_code=invitation["agency_code"], score=score,
                                    reasons=reasons, satisfied=is_satisfied(score), rated_at=now)
        doc = {"_id": code, "agency_code": invitation["agency_code"],
               "procedure_code": invitation.get("procedure_code"), "score": score, "satisfied": submitted.satisfied,
               "reasons": reasons, "reason": {r: True for r in reasons},  # one flag per reason: countable
               "comment": comment, "rated_at": now.isoformat(), "rated_on": local_day(now)}
        try:
            await self.ratings.insert(doc, [outbox_entry(TOPIC, build(submitted, source=SOURCE, subject=code), code)])
        except DuplicateKey:
            raise Conflict("already-rated", "Hồ sơ đã được đánh giá / This dossier was already rated",
                           f"Hồ sơ {code} đã được đánh giá; mỗi hồ sơ được đánh giá một lần. / "
                           f"Dossier {code} was already rated; a dossier is rated once.", dossier_code=code) from None
        self.runtime.notify_outbox()
        log.info("rating recorded", extra={"dossier_code": code, "agency_code": invitation["agency_code"],
                                           "score": score})
        return RatingRead(dossier_code=code, score=score, reasons=reasons, satisfied=submitted.satisfied, rated_at=now)

    # --- the summary ----------------------------------------------------------------------------------

    async def summary(self, start: date, end: date, agency: str | None = None) -> RatingSummary:
        """Ratings given on local days `start` to `end` (inclusive): one row per agency (or the one asked)
        and the total. Every figure is a count over the (agency, day) index."""
        check_period(start, end)
        first, last = start.isoformat(), end.isoformat()
        agencies = [agency] if agency else await self._agencies(first, last)
        rows = [await self._figures(a, first, last) for a in agencies]
        total_scores = {s: sum(r.distribution[str(s)] for r in rows) for s in SCORES}
        total_reasons = {code: sum(next(c.count for c in r.reasons if c.code == code) for r in rows)
                         for code in REASONS}
        return RatingSummary(period_from=start, period_to=end, rows=rows,
                             total=RatingFigures.of(None, total_scores, total_reasons))

    async def _agencies(self, first: str, last: str) -> list[str]:
        """Agencies with a rating in the period: one indexed seek per agency (the store has no distinct)."""
        found: list[str] = []
        while True:
            docs = await self.ratings.find({"agency_code": {"$gt": found[-1] if found else ""},
                                            "rated_on": {"$gte": first, "$lte": last}},
                                           sort=[("agency_code", 1)], limit=1)
            if not docs:
                return found
            found.append(docs[0]["agency_code"])

    async def _figures(self, agency: str, first: str, last: str) -> RatingFigures:
        base = {"agency_code": agency, "rated_on": {"$gte": first, "$lte": last}}
        by_score, by_reason = await asyncio.gather(
            asyncio.gather(*(self.ratings.count({**base, "score": s}) for s in SCORES)),
            asyncio.gather(*(self.ratings.count({**base, f"reason.{code}": True}) for code in REASONS)))
        return RatingFigures.of(agency, dict(zip(SCORES, by_score, strict=True)),
                                dict(zip(REASONS, by_reason, strict=True)))
