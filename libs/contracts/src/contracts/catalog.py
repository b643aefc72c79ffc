"""Events of the procedure catalogue: what other services keep a copy of."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from contracts.base import EventData, contract

TOPIC = "catalog.events"

Channel = Literal["in_person", "online", "post"]
TimeUnit = Literal["hours", "days", "working_days", "months"]


class ProcessingTime(BaseModel):
    channel: Channel
    value: float = Field(gt=0)
    unit: TimeUnit


class Fee(BaseModel):
    channel: Channel
    case_code: str | None = Field(default=None, description="the case (trường hợp) it applies to; None: every case")
    amount: int = Field(ge=0, description="VND")
    description: str = ""


class Case(BaseModel):
    code: str = Field(min_length=1, max_length=20)
    name_vi: str = Field(min_length=2)
    name_en: str = ""


class RequiredDocument(BaseModel):
    code: str
    name: str
    originals: int = Field(default=0, ge=0)
    copies: int = Field(default=0, ge=0)
    form_code: str | None = Field(default=None, description="the downloadable form, GET /forms/{form_code}")


class ProcedureSnapshot(EventData):
    """What the dossier and payment services need of a procedure, as of one version."""

    code: str
    version: int
    name_vi: str
    name_en: str = ""
    field_code: str
    level: Literal["province", "district", "commune"]
    agency_code: str
    online_level: Literal["full", "partial"]
    cases: list[Case] = []
    processing_times: list[ProcessingTime]
    fees: list[Fee] = []
    required_documents: list[RequiredDocument] = []
    accepted_anywhere: bool = False
    immediate_result: bool = False
    effective_from: date


@contract("vn.motcua.procedure.published.v1", TOPIC, "A procedure was published (first version in force).")
class ProcedurePublished(ProcedureSnapshot):
    pass


@contract("vn.motcua.procedure.revised.v1", TOPIC, "A new version of a published procedure.")
class ProcedureRevised(ProcedureSnapshot):
    pass


@contract("vn.motcua.procedure.withdrawn.v1", TOPIC, "A procedure no longer accepts dossiers.")
class ProcedureWithdrawn(EventData):
    code: str
    version: int
    effective_from: date
    reason: str = ""
