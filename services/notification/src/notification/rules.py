"""Notification rules: which event is told to whom, on which channels, with which template. Pure.

A rule is operator data, one per event type. It names a template by key, so it always uses that
template's current version; saving a rule or a template checks that the template only uses values the
rule's event carries (a rule that could never render is refused when saved, not when the event comes)."""

from typing import Annotated, Any, Literal

from contracts import REGISTRY
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, model_validator

from notification.domain import Channel
from notification.placeholders import PLACEHOLDERS
from notification.templates import (
    KEY_PATTERN,
    TemplateProblem,
    TemplateVersion,
    placeholders_in,
    unknown_placeholder_problem,
)

# applicant: the citizen (in-app inbox, e-mail, SMS); agency: the in-app inbox of the leader of the agency
# holding the dossier (the centre's before any transfer).
Audience = Literal["applicant", "agency"]


def _distinct(channels: list[Channel]) -> list[Channel]:
    doubled = sorted({c for c in channels if channels.count(c) > 1})
    if doubled:
        raise ValueError(f"each channel once: {', '.join(doubled)} is listed twice")
    return channels


Channels = Annotated[list[Channel], Field(min_length=1, max_length=3), AfterValidator(_distinct)]
TemplateKey = Annotated[str, Field(pattern=KEY_PATTERN)]


def check_audience(audience: Audience, channels: list[Channel]) -> None:
    if audience == "agency" and channels != ["in_app"]:
        raise ValueError("an agency is told in its in-app inbox only: channels must be [\"in_app\"]")


class Rule(BaseModel):
    event_type: str
    template: TemplateKey
    channels: Channels  # in order of preference
    audience: Audience
    enabled: bool = True
    version: int  # the store's version of the rule
    changed_by: str
    changed_at: AwareDatetime

    @model_validator(mode="after")
    def _audience_channels(self) -> "Rule":
        check_audience(self.audience, self.channels)
        return self


class RuleError(ValueError):
    """A rule that cannot be saved. `kind` is a stable slug; `details` say what to change."""

    def __init__(self, kind: str, message: str, **details: Any):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details


def known_event_types() -> list[str]:
    """Event types a rule may be written for: registered contracts whose placeholders are known."""
    return sorted(set(REGISTRY) & set(PLACEHOLDERS))


def check_event_type(event_type: str) -> None:
    if event_type not in REGISTRY or event_type not in PLACEHOLDERS:
        raise RuleError("unknown-event-type", f"Unknown event type '{event_type}'.", event_type=event_type,
                        known=known_event_types())


def check_rule(event_type: str, template_key: str, template: TemplateVersion | None) -> None:
    """The event type is known, the template exists (its current version is `template`), and the template
    only uses placeholders the event carries. Raises RuleError."""
    check_event_type(event_type)
    if template is None:
        raise RuleError("unknown-template", f"No template '{template_key}'.", template=template_key)
    lacking = placeholder_problems(event_type, placeholders_in(template.texts))
    if lacking:
        details = lacking[0].details
        names = ", ".join("{" + n + "}" for n in details["placeholders"])
        raise RuleError("unknown-placeholder",
                        f"Template '{template.key}' (version {template.version}) uses {names}, which "
                        f"{event_type} does not carry; allowed: {', '.join(details['allowed'])}.",
                        template=template.key, **details)


def placeholder_problems(event_type: str, used: set[str]) -> list[TemplateProblem]:
    """The placeholders among `used` that a rule for `event_type` could not fill (none: empty list)."""
    allowed = set(PLACEHOLDERS.get(event_type, {}))
    lacking = used - allowed
    return [unknown_placeholder_problem(lacking, allowed, rule=event_type)] if lacking else []
