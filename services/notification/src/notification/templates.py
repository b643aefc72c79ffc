"""Notification templates: their texts per language and channel, the checks a text passes before it is
saved, and rendering. Pure.

Syntax: `{name}` is a placeholder (see placeholders.py), `{{` and `}}` are literal braces. Nothing else of
Python's format language is allowed (no `{a.b}`, `{a[0]}`, `{a!r}`, `{a:>5}`, `{}`): an operator writes
these, and a template must not reach into objects or depend on formatting rules nobody will read."""

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

from notification.domain import Language
from notification.placeholders import SAMPLE_VALUES, sample_values
from notification.sms.text import Encoding, encoded_length, segments, unaccent

LANGUAGES: tuple[Language, ...] = get_args(Language)
KEY_PATTERN = r"^[a-z][a-z0-9_.-]{1,63}$"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _nfc(text: str) -> str:
    # Precomposed Vietnamese: a decomposed "ễ" (macOS, some keyboards) would double an SMS's length.
    text = unicodedata.normalize("NFC", text)
    if not text.strip():
        raise ValueError("must not be blank")
    return text


def _one_line(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("must be one line (no line breaks or control characters)")
    return text


Text = Annotated[str, AfterValidator(_nfc)]


class ChannelTexts(BaseModel):
    """The texts of one language. `subject`: e-mail subject and in-app title; `body`: e-mail text and
    in-app body; `sms`: the SMS."""

    model_config = ConfigDict(extra="forbid")

    subject: Annotated[Text, Field(min_length=1, max_length=200), AfterValidator(_one_line)]
    body: Annotated[Text, Field(min_length=1, max_length=5000)]
    sms: Annotated[Text, Field(min_length=1, max_length=1000)]


def _both_languages(texts: dict[Language, ChannelTexts]) -> dict[Language, ChannelTexts]:
    missing = [lang for lang in LANGUAGES if lang not in texts]
    if missing:
        raise ValueError(f"texts are required in every language; missing: {', '.join(missing)}")
    return texts


Texts = Annotated[dict[Language, ChannelTexts], AfterValidator(_both_languages)]


class TemplateVersion(BaseModel):
    """One saved version of a template. Versions are immutable: a change is a new version."""

    key: Annotated[str, Field(pattern=KEY_PATTERN)]
    version: Annotated[int, Field(ge=1)]
    texts: Texts
    note: Annotated[str, Field(max_length=500)] = ""
    created_by: str
    created_at: AwareDatetime

    @field_validator("texts")
    @classmethod
    def _ordered(cls, texts: dict[Language, ChannelTexts]) -> dict[Language, ChannelTexts]:
        return {lang: texts[lang] for lang in LANGUAGES}


# --- syntax ------------------------------------------------------------------------------------------

ProblemKind = Literal["template-syntax", "unknown-placeholder", "sms-too-long"]


@dataclass(frozen=True)
class TemplateProblem:
    kind: ProblemKind
    where: str  # "vi.sms", or "" for the whole template
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "where": self.where, "message": self.message, **self.details}


class TemplateError(ValueError):
    """The template cannot be saved (or used). `problems` lists every one found, the gravest kind first."""

    def __init__(self, problems: list[TemplateProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.where}: {p.message}" if p.where else p.message for p in problems))

    @property
    def kind(self) -> ProblemKind:
        return self.problems[0].kind


def _snippet(text: str, at: int) -> str:
    return text[max(at - 10, 0):at + 10]


def _unbalanced(text: str, error: ValueError) -> str:
    """Where Python's parser gave up on a brace, told the way an operator can find it."""
    i = 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in ("{{", "}}"):
            i += 2
        elif text[i] == "{":
            end = text.find("}", i)
            if end < 0:
                return f"'{{' opened and never closed, near '{_snippet(text, i)}'"
            i = end + 1
        elif text[i] == "}":
            return f"a single '}}' (write '}}}}' for a literal brace), near '{_snippet(text, i)}'"
        else:
            i += 1
    return f"the braces do not balance ({error})"


def _parse(text: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The pieces of a text (literal, placeholder name or None) and the syntax errors found."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [], [_unbalanced(text, exc)]
    pieces: list[tuple[str, str | None]] = []
    errors: list[str] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        whole = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name == "":
            errors.append("'{}' has no name: write a placeholder such as {code}")
        elif conversion:
            errors.append(f"'{whole}': conversions (!{conversion}) are not allowed, write {{{name}}}")
        elif spec:
            errors.append(f"'{whole}': format specifications (:{spec}) are not allowed, write {{{name}}}")
        elif not _NAME.match(name):
            errors.append(f"'{whole}': a placeholder is a lowercase name; attribute or index access and "
                          "spaces are not allowed")
        pieces.append((literal, name))
    return pieces, errors


def _fields(texts: ChannelTexts) -> dict[str, str]:
    return {"subject": texts.subject, "body": texts.body, "sms": texts.sms}


def _all_texts(texts: "str | ChannelTexts | Mapping[Language, ChannelTexts]") -> dict[str, str]:
    if isinstance(texts, str):
        return {"": texts}
    if isinstance(texts, ChannelTexts):
        return _fields(texts)
    return {f"{lang}.{part}": text for lang, channel in texts.items() for part, text in _fields(channel).items()}


def syntax_problems(texts: "str | ChannelTexts | Mapping[Language, ChannelTexts]") -> list[TemplateProblem]:
    return [TemplateProblem("template-syntax", where, error)
            for where, text in _all_texts(texts).items() for error in _parse(text)[1]]


def placeholders_in(texts: "str | ChannelTexts | Mapping[Language, ChannelTexts]") -> set[str]:
    """Every placeholder name used. TemplateError if the syntax is wrong."""
    problems = syntax_problems(texts)
    if problems:
        raise TemplateError(problems)
    return {name for text in _all_texts(texts).values() for _, name in _parse(text)[0] if name}


# --- checks before saving ----------------------------------------------------------------------------


class SmsForm(BaseModel):
    encoding: Encoding
    parts: int
    length: int  # GSM-7 septets or UCS-2 code units


class SmsLength(BaseModel):
    """How long the SMS of one language is, rendered with the sample values."""

    sample: str
    accented: SmsForm
    unaccented: SmsForm

    @property
    def parts(self) -> int:
        """What it costs when sent the cheaper way (the SMS channel unaccents a text that is too long)."""
        return min(self.accented.parts, self.unaccented.parts)


def sms_length(text: str) -> SmsLength:
    def form(t: str) -> SmsForm:
        encoding, parts = segments(t)
        return SmsForm(encoding=encoding, parts=parts, length=encoded_length(t))

    return SmsLength(sample=text, accented=form(text), unaccented=form(unaccent(text)))


def unknown_placeholder_problem(names: Iterable[str], allowed: Iterable[str], where: str = "",
                                rule: str | None = None) -> TemplateProblem:
    names, allowed = sorted(names), sorted(allowed)
    listed = ", ".join("{" + n + "}" for n in names)
    by = f"rule {rule} (whose event does not carry it)" if rule else "this template"
    message = f"{listed} cannot be used by {by}; allowed: {', '.join(allowed)}"
    details: dict[str, Any] = {"placeholders": names, "allowed": allowed}
    if rule:
        details["rule"] = rule
    return TemplateProblem("unknown-placeholder", where, message, details)


def check_template(texts: Mapping[Language, ChannelTexts], *, allowed: set[str] | None,
                   sms_max_parts: int) -> dict[Language, SmsLength]:
    """Check texts before they are saved. `allowed`: the placeholders available (None: any name some event
    carries). Raises TemplateError; otherwise answers each language's SMS length, rendered with the sample
    values as that language shows them (SAMPLE_VALUES for Vietnamese).

    An SMS is refused only if it takes more than `sms_max_parts` both accented (UCS-2) and unaccented
    (GSM-7): the SMS channel sends a too-long accented text unaccented."""
    problems = syntax_problems(texts)
    if problems:
        raise TemplateError(problems)
    known = set(SAMPLE_VALUES) if allowed is None else set(allowed)
    for lang, channel in texts.items():
        for part, text in _fields(channel).items():
            unknown = {name for _, name in _parse(text)[0] if name} - known
            if unknown:
                problems.append(unknown_placeholder_problem(unknown, known, f"{lang}.{part}"))
    if problems:
        raise TemplateError(problems)
    lengths = {lang: sms_length(_fill(channel.sms, sample_values(lang))) for lang, channel in texts.items()}
    for lang, length in lengths.items():
        if length.parts > sms_max_parts:
            problems.append(TemplateProblem(
                "sms-too-long", f"{lang}.sms",
                f"the SMS takes {length.accented.parts} parts accented and {length.unaccented.parts} unaccented "
                f"with the sample values; at most {sms_max_parts} are allowed",
                {"max_parts": sms_max_parts, "accented_parts": length.accented.parts,
                 "unaccented_parts": length.unaccented.parts}))
    if problems:
        raise TemplateError(problems)
    return lengths


# --- rendering ---------------------------------------------------------------------------------------


class MissingValues(Exception):
    """The event lacks a value the template needs: nothing is rendered with a blank in its place."""

    def __init__(self, names: Iterable[str], template: str = ""):
        self.names = sorted(set(names))
        super().__init__(f"no value for {', '.join(self.names)}" + (f" (template {template})" if template else ""))


class Rendered(NamedTuple):
    subject: str
    body: str
    sms: str


def _fill(text: str, values: Mapping[str, str | None]) -> str:
    return "".join(literal + (values[name] if name else "") for literal, name in _parse(text)[0])


def render(template: TemplateVersion, lang: Language, values: Mapping[str, str | None]) -> Rendered:
    texts = template.texts[lang]
    used = placeholders_in(texts)
    missing = {name for name in used if values.get(name) is None or not str(values[name]).strip()}
    if missing:
        raise MissingValues(missing, f"{template.key}@{template.version}")
    # A value with a line break must not break the subject (an e-mail header) onto a second line.
    subject = " ".join(_fill(texts.subject, values).split())
    return Rendered(subject=subject, body=_fill(texts.body, values), sms=_fill(texts.sms, values))
