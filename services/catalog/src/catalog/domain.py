"""The administrative procedure (DOMAIN.md section 4), its versions and its publication. Pure.

A procedure is one aggregate holding every version; a change to a published procedure adds a
version with its own effective date, and a read asks for the version in force on a date."""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts import EventData
from contracts.catalog import (Case, Fee, ProcedurePublished, ProcedureRevised, ProcedureSnapshot, ProcedureWithdrawn,
                               ProcessingTime, RequiredDocument)

CODE_PATTERN = r"^\d\.\d{6}$"  # national format, e.g. 1.001234
Level = Literal["province", "district", "commune"]  # district: kept for history (no district tier since 1 Jul 2025)
Status = Literal["draft", "published", "withdrawn"]


class LegalBasis(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=500)


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(default=None, max_length=50)
    name: str = Field(min_length=1, max_length=500)


class ProcedureDraft(BaseModel):
    """A procedure as an administrator writes it (one version)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN, examples=["1.000894"])
    name_vi: str = Field(min_length=3, max_length=500)
    name_en: str = Field(default="", max_length=500)
    field_code: str = Field(min_length=1, max_length=100)
    level: Level
    agency_code: str = Field(min_length=1, max_length=50)
    target_applicants: list[Literal["citizen", "business", "organisation"]] = Field(min_length=1)
    cases: list[Case] = []
    processing_times: list[ProcessingTime] = Field(min_length=1)
    fees: list[Fee] = []
    required_documents: list[RequiredDocument] = []
    conditions: list[str] = []
    result: Result | None = None
    legal_basis: list[LegalBasis] = []
    online_level: Literal["full", "partial"]
    accepted_anywhere: bool = False
    immediate_result: bool = False
    effective_from: date

    @model_validator(mode="after")
    def consistent(self) -> "ProcedureDraft":
        channels = [t.channel for t in self.processing_times]
        if len(set(channels)) != len(channels):
            raise ValueError("processing_times: one processing time per channel")
        case_codes = [c.code for c in self.cases]
        if len(set(case_codes)) != len(case_codes):
            raise ValueError("cases: case codes must be unique")
        doc_codes = [d.code for d in self.required_documents]
        if len(set(doc_codes)) != len(doc_codes):
            raise ValueError("required_documents: document codes must be unique")
        for i, fee in enumerate(self.fees):
            if fee.channel not in channels:
                raise ValueError(f"fees.{i}.channel: no processing time is given for channel '{fee.channel}'")
            if fee.case_code is not None and fee.case_code not in case_codes:
                raise ValueError(f"fees.{i}.case_code: '{fee.case_code}' is not one of the procedure's cases")
        return self


class ProcedureVersion(ProcedureDraft):
    version: int
    published_at: datetime | None = None


class IllegalChange(Exception):
    def __init__(self, status: str, action: str):
        super().__init__(f"cannot {action} a procedure that is {status}")
        self.status = status
        self.action = action


class Procedure(BaseModel):
    """The aggregate: every version of one procedure and its status."""

    code: str
    status: Status = "draft"
    versions: list[ProcedureVersion]
    withdrawn_from: date | None = None
    withdrawal_reason: str | None = None
    version: int = 0  # the store's optimistic-concurrency version, not a procedure version

    @property
    def latest(self) -> ProcedureVersion:
        return self.versions[-1]

    def in_force(self, on: date) -> ProcedureVersion | None:
        """The published version in force on `on`: the latest to have taken effect by then."""
        if self.status == "draft" or (self.withdrawn_from is not None and on >= self.withdrawn_from):
            return None
        candidates = [v for v in self.versions if v.published_at is not None and v.effective_from <= on]
        return max(candidates, key=lambda v: (v.effective_from, v.version), default=None)

    def publish(self, *, at: datetime) -> list[EventData]:
        if self.status != "draft":
            raise IllegalChange(self.status, "publish")
        self.status = "published"
        self.latest.published_at = at
        return [ProcedurePublished(**snapshot(self.latest))]

    def revise(self, draft: ProcedureDraft, *, at: datetime) -> list[EventData]:
        if self.status == "withdrawn":
            raise IllegalChange(self.status, "revise")
        if self.status == "draft":  # an unpublished draft is edited in place
            self.versions[-1] = ProcedureVersion(**draft.model_dump(), version=self.latest.version)
            return []
        version = ProcedureVersion(**draft.model_dump(), version=self.latest.version + 1, published_at=at)
        self.versions.append(version)
        return [ProcedureRevised(**snapshot(version))]

    def withdraw(self, *, effective_from: date, reason: str) -> list[EventData]:
        if self.status != "published":
            raise IllegalChange(self.status, "withdraw")
        self.status = "withdrawn"
        self.withdrawn_from = effective_from
        self.withdrawal_reason = reason
        return [ProcedureWithdrawn(code=self.code, version=self.latest.version, effective_from=effective_from,
                                   reason=reason)]


def new_procedure(draft: ProcedureDraft) -> Procedure:
    return Procedure(code=draft.code, versions=[ProcedureVersion(**draft.model_dump(), version=1)])


def snapshot(version: ProcedureVersion) -> dict:
    fields = ProcedureSnapshot.model_fields.keys()
    return {k: v for k, v in version.model_dump(mode="json").items() if k in fields}


class ProcedureField(BaseModel):
    """A field (lĩnh vực) of procedures, e.g. Hộ tịch."""

    code: str
    name_vi: str
    name_en: str = ""


class Agency(BaseModel):
    code: str
    name_vi: str
    name_en: str = ""
    level: Level
    parent_code: str | None = None


class Centre(BaseModel):
    code: str
    name_vi: str
    name_en: str = ""
    level: Level
    address: str
    phones: list[str] = []
    hotline: str | None = None
    fax: str | None = None
    email: str | None = None
    opening_hours: str | None = None
