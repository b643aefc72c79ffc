"""The administrative procedure (DOMAIN.md section 4) and the rules of publishing one. Pure."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from contracts.catalog import Fee, ProcessingTime, ProcedureSnapshot, RequiredDocument

CODE_PATTERN = r"^\d\.\d{6}$"  # national format, e.g. 1.001234


class ProcedureDraft(BaseModel):
    """A procedure as an administrator writes it."""

    code: str = Field(pattern=CODE_PATTERN, examples=["1.000894"])
    name_vi: str = Field(min_length=3)
    name_en: str = ""
    field_code: str = Field(min_length=1)
    field_name: str = Field(min_length=1)
    level: Literal["province", "district", "commune"]
    agency_code: str = Field(min_length=1)
    agency_name: str = Field(min_length=1)
    online_level: Literal["full", "partial"]
    processing_times: list[ProcessingTime] = Field(min_length=1)
    fees: list[Fee] = []
    required_documents: list[RequiredDocument] = []
    result: str = ""
    effective_from: date

    @field_validator("processing_times")
    @classmethod
    def one_time_per_channel(cls, times: list[ProcessingTime]) -> list[ProcessingTime]:
        channels = [t.channel for t in times]
        if len(set(channels)) != len(channels):
            raise ValueError("one processing time per channel")
        return times


class Procedure(ProcedureDraft):
    version: int = 1
    status: Literal["published", "withdrawn"] = "published"

    def snapshot(self) -> dict:
        fields = ProcedureSnapshot.model_fields.keys()
        return {k: v for k, v in self.model_dump(mode="json").items() if k in fields}
