"""Outbound webhooks: subscriptions, deliveries and their rules. Pure: no I/O.

A delivery is one event for one subscription. Its id derives from both, so however many times the bus
delivers an event, it is recorded (and sent) once per subscription."""

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from kit.events import CloudEvent
from kit.rules import RuleViolation
from pydantic import BaseModel, Field, SecretStr

DeliveryStatus = Literal["pending", "succeeded", "dead"]
PENDING: DeliveryStatus = "pending"
SUCCEEDED: DeliveryStatus = "succeeded"
DEAD: DeliveryStatus = "dead"
MAX_URL_LENGTH = 2048
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)
# A delivery replayed again and again keeps its history, up to this many attempts (the newest).
MAX_ATTEMPTS_KEPT = 100


# -- errors ---------------------------------------------------------------------------------------------


class InvalidWebhookUrl(RuleViolation):
    kind = "invalid-webhook-url"

    def __init__(self, detail: str):
        super().__init__(detail, field="url")


class UnknownEventType(RuleViolation):
    kind = "unknown-event-type"

    def __init__(self, unknown: list[str], known: list[str]):
        super().__init__(f"Unknown event type(s): {', '.join(map(repr, unknown))}. Known types: {', '.join(known)}.",
                         field="event_types", unknown=unknown, known=known)


class NoEventTypes(RuleViolation):
    kind = "no-event-types"

    def __init__(self) -> None:
        super().__init__("A subscription needs at least one event type.", field="event_types")


class SubscriptionInactive(RuleViolation):
    status, kind = 409, "subscription-inactive"

    def __init__(self, subscription_id: str):
        super().__init__(f"Subscription '{subscription_id}' is inactive: activate it before replaying its deliveries.",
                         subscription_id=subscription_id)


# -- validation -----------------------------------------------------------------------------------------


def check_url(url: str, *, allow_plain_http: bool) -> str:
    """The URL deliveries are POSTed to: http(s) only, https unless allowed, a host, no credentials."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"The URL must have 1 to {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidWebhookUrl("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise InvalidWebhookUrl(f"The URL is not valid ({exc}).") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidWebhookUrl(f"The URL scheme must be https (or http where allowed), not '{scheme or 'none'}'.")
    if scheme == "http" and not allow_plain_http:
        raise InvalidWebhookUrl("The URL must use https: deliveries carry personal data and are signed in transit.")
    if parts.username is not None or parts.password is not None:
        # The URL shows in the API and the operator's screens: credentials there would leak.
        raise InvalidWebhookUrl("The URL must not contain a user name or password; the signature authenticates us.")
    if not parts.hostname:
        raise InvalidWebhookUrl("The URL has no host.")
    if not _valid_host(parts.hostname):
        raise InvalidWebhookUrl("The URL's host is not a valid host name or IP address.")
    if parts.port == 0:
        raise InvalidWebhookUrl("The URL's port must be 1 to 65535.")
    return url


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal (urlsplit dropped its brackets)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")  # Vietnamese domain names too
    except UnicodeError:
        return False
    return all(_LABEL.fullmatch(label) for label in ascii_host.removesuffix(".").split("."))


def check_event_types(event_types: Iterable[str], known: Iterable[str]) -> list[str]:
    """The subscribed types, in order and without repeats; every one must be a known CloudEvents type."""
    wanted = list(dict.fromkeys(t.strip() for t in event_types))
    if not wanted:
        raise NoEventTypes()
    known_types = sorted(set(known))
    unknown = [t for t in wanted if t not in known_types]
    if unknown:
        raise UnknownEventType(unknown, known_types)
    return wanted


def url_host(url: str) -> str:
    """What logs may show of a URL: its host (the path or query may carry an integration's token)."""
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def utc_key(at: datetime) -> str:
    """Fixed-width UTC text, so stored times order and compare correctly as strings."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- subscriptions --------------------------------------------------------------------------------------


class Subscription(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str = ""
    active: bool = True
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    # SecretStr: a subscription printed or logged by mistake shows '**********'.
    secret: SecretStr
    secret_rotated_at: datetime | None = None
    previous_secret: SecretStr | None = None
    previous_secret_expires_at: datetime | None = None

    def wants(self, event_type: str) -> bool:
        return self.active and event_type in self.event_types

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one while a rotation's grace period lasts."""
        secrets = [self.secret.get_secret_value()]
        grace_until = self.previous_secret_expires_at
        if self.previous_secret is not None and grace_until is not None and now < grace_until:
            secrets.append(self.previous_secret.get_secret_value())
        return secrets

    def rotated(self, new_secret: str, *, now: datetime, by: str, previous_valid_for: timedelta) -> "Subscription":
        keep_previous = previous_valid_for > timedelta(0)
        return self.model_copy(update={
            "secret": SecretStr(new_secret), "secret_rotated_at": now, "updated_at": now, "updated_by": by,
            "previous_secret": self.secret if keep_previous else None,
            "previous_secret_expires_at": now + previous_valid_for if keep_previous else None})


# -- deliveries -----------------------------------------------------------------------------------------


class WebhookAttempt(BaseModel):
    at: datetime
    status_code: int | None = Field(default=None, description="the receiver's HTTP status; none if no answer")
    error: str | None = None
    duration_ms: float
    replay: bool = Field(default=False, description="the first try after an operator's replay")
    replayed_by: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one POST to the receiver gave."""

    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    backoff_seconds: float
    max_backoff_seconds: float

    def delay(self, tries: int) -> timedelta:
        """The wait after the `tries`-th failed try: backoff, doubling, capped."""
        exponent = min(max(tries - 1, 0), 60)  # far beyond any cap: no float overflow
        return timedelta(seconds=min(self.backoff_seconds * 2 ** exponent, self.max_backoff_seconds))


def delivery_id(event_id: str, subscription_id: str) -> str:
    return hashlib.sha256(f"{event_id}\n{subscription_id}".encode()).hexdigest()[:32]


def structured(event: CloudEvent) -> dict[str, Any]:
    """The event in CloudEvents' structured JSON mode: attributes (extensions included) beside `data`."""
    body: dict[str, Any] = {"specversion": event.specversion, "id": event.id, "source": event.source,
                            "type": event.type}
    if event.subject is not None:
        body["subject"] = event.subject
    body["time"] = event.to_dict()["time"]
    body["datacontenttype"] = event.datacontenttype
    for name in ("traceparent", "tracestate"):
        if getattr(event, name):
            body[name] = getattr(event, name)
    body.update({k: v for k, v in event.extensions.items() if k not in body})
    body["data"] = event.data
    return body


class Delivery(BaseModel):
    id: str
    subscription_id: str
    event_id: str
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus = PENDING
    tries: int = Field(default=0, description="tries since the delivery was created or last replayed")
    attempts: list[WebhookAttempt] = Field(default_factory=list, description="every try, oldest first")
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None = None
    replay_by: str | None = Field(default=None, description="the operator whose replay the next try answers")

    @classmethod
    def new(cls, event: CloudEvent, subscription_id: str, *, now: datetime) -> "Delivery":
        return cls(id=delivery_id(event.id, subscription_id), subscription_id=subscription_id, event_id=event.id,
                   event_type=event.type, payload=structured(event), next_attempt_at=now, created_at=now)

    def claimed(self, *, until: datetime) -> "Delivery":
        """Taken by a worker: not due again before `until` (if the worker dies, another takes it then)."""
        return self.model_copy(update={"next_attempt_at": until})

    def recorded(self, outcome: Outcome, *, at: datetime, policy: RetryPolicy) -> "Delivery":
        """The delivery after one try: succeeded, due again after the backoff, or dead."""
        attempt = WebhookAttempt(at=at, status_code=outcome.status_code, error=outcome.error,
                          duration_ms=round(outcome.duration_ms, 1), replay=self.replay_by is not None,
                          replayed_by=self.replay_by)
        tries = self.tries + 1
        update: dict[str, Any] = {"tries": tries, "attempts": [*self.attempts, attempt][-MAX_ATTEMPTS_KEPT:],
                                  "replay_by": None}
        if outcome.succeeded:
            update |= {"status": SUCCEEDED, "next_attempt_at": None, "delivered_at": at}
        elif tries >= policy.attempts:
            update |= {"status": DEAD, "next_attempt_at": None}
        else:
            # The backoff counts from the answer (or the time-out), not from when the try began.
            answered = at + timedelta(milliseconds=outcome.duration_ms)
            update |= {"status": PENDING, "next_attempt_at": answered + policy.delay(tries)}
        return self.model_copy(update=update)

    def abandoned(self, reason: str, *, at: datetime) -> "Delivery":
        """Dead without a request (its subscription was deactivated or deleted since it was queued)."""
        attempt = WebhookAttempt(at=at, error=reason, duration_ms=0.0, replay=self.replay_by is not None,
                          replayed_by=self.replay_by)
        return self.model_copy(update={"status": DEAD, "next_attempt_at": None, "replay_by": None,
                                       "attempts": [*self.attempts, attempt][-MAX_ATTEMPTS_KEPT:]})

    def replayed(self, *, by: str, now: datetime) -> "Delivery":
        """An operator's replay: due now whatever its status, a fresh count of tries, the history kept."""
        return self.model_copy(update={"status": PENDING, "tries": 0, "next_attempt_at": now, "replay_by": by})
