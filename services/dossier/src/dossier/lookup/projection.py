"""Keeps the lookup read model: one small JSON value per dossier, written only if newer."""

import json

from kit.cache import Cache
from kit.events import CloudEvent

from contracts import UnknownEventType, parse
from contracts.dossier import DossierChange
from dossier.domain import LABELS, State

PREFIX = "lookup:"


def key(code: str) -> str:
    return PREFIX + code


class LookupProjection:
    def __init__(self, cache: Cache):
        self.cache = cache

    async def apply(self, event: CloudEvent) -> None:
        try:
            change = parse(event)
        except UnknownEventType:
            return  # an event type this version does not know: nothing to show
        if not isinstance(change, DossierChange):
            return
        current_raw = await self.cache.get(key(change.code))
        current = json.loads(current_raw) if current_raw else {}
        if current.get("sequence", 0) >= change.sequence:
            return  # a duplicate or a stale replay: the read model is already newer
        try:
            vi, en = LABELS[State(change.state)]
        except (ValueError, KeyError):
            vi = en = change.state
        view = {
            "code": change.code,
            "state": change.state,
            "status_code": change.status_code,
            "state_label_vi": vi,
            "state_label_en": en,
            "procedure_code": change.procedure_code,
            "procedure_name": change.procedure_name,
            "agency_code": change.agency_code,
            "due_at": change.due_at.isoformat() if change.due_at else current.get("due_at"),
            "updated_at": change.occurred_at.isoformat(),
            "sequence": change.sequence,
            "sc": getattr(change, "security_code_hash", None) or current.get("sc"),
        }
        await self.cache.set(key(change.code), json.dumps(view, ensure_ascii=False).encode())
