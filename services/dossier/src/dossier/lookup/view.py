"""One dossier's entry in the lookup read model: the public view, shaped and serialised once when an
event is applied, so a lookup only compares the security code and sends the stored bytes."""

import json
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from contracts.dossier import DossierChange
from dossier.domain import LABELS

FORMAT = b"1"  # bump when the layout changes; entries of another layout read as absent until rebuilt


class StatusView(BaseModel):
    """What a citizen sees: the state, never who the applicant is."""

    code: str
    state: str
    status_code: int | None
    state_label_vi: str
    state_label_en: str
    procedure_code: str
    procedure_name: str
    agency_code: str
    due_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class Entry:
    sequence: int  # the aggregate version of the newest event applied
    security_code_hash: str | None
    public: bytes  # a StatusView as JSON, ready to send

    def encode(self) -> bytes:
        # A one-line header then the JSON: reading the hash needs no JSON parsing.
        return b"%s %d %s\n%s" % (FORMAT, self.sequence, (self.security_code_hash or "-").encode(), self.public)

    @classmethod
    def decode(cls, raw: bytes | None) -> "Entry | None":
        if not raw:
            return None
        header, _, public = raw.partition(b"\n")
        fields = header.split(b" ")
        if len(fields) != 3 or fields[0] != FORMAT:
            return None
        code_hash = fields[2].decode()
        return cls(int(fields[1]), None if code_hash == "-" else code_hash, public)


def shape(change: DossierChange, previous: Entry | None) -> Entry:
    """The entry after `change`. Works for any DossierChange: a state without a label shows its name."""
    before = json.loads(previous.public) if previous else {}
    vi, en = LABELS.get(change.state, (change.state, change.state))
    view = StatusView(
        code=change.code, state=change.state, status_code=change.status_code, state_label_vi=vi, state_label_en=en,
        procedure_code=change.procedure_code, procedure_name=change.procedure_name, agency_code=change.agency_code,
        due_at=change.due_at or before.get("due_at"), updated_at=change.occurred_at)
    # Only some events carry the hash (submission, receipt): the others keep the one already known.
    code_hash = getattr(change, "security_code_hash", None) or (previous.security_code_hash if previous else None)
    return Entry(change.sequence, code_hash, view.model_dump_json().encode())
