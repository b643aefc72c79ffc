"""Petitions (phản ánh, kiến nghị), DOMAIN.md section 6. Pure."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field


class Submitter(BaseModel):
    """Kept confidential: never shown to the public nor to the officer complained about."""

    name: str = Field(min_length=2, max_length=200)
    phone: str | None = Field(default=None, pattern=r"^(\+84|0)\d{9,10}$")
    email: EmailStr | None = None


class PetitionDraft(BaseModel):
    category: Literal["procedure", "conduct"]
    title: str = Field(min_length=5, max_length=200)
    content: str = Field(min_length=10, max_length=10_000)
    dossier_code: str | None = Field(default=None, max_length=64)
    submitter: Submitter


class Petition(PetitionDraft):
    id: str
    state: Literal["received"] = "received"
    received_at: datetime


class PetitionPublic(BaseModel):
    """What the submitter gets back: no personal data echoed."""

    id: str
    state: str
    category: str
    title: str
    received_at: datetime
