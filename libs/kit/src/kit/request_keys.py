"""The `Idempotency-Key` header of writes a client may retry (DESIGN.md, Interfaces): its format, and
the fixed-width time text the services' key records expire by. Each service keeps its own records
(what a replay must return differs: a dossier's sealed security code, a payment's answer)."""

import re
from datetime import datetime, timezone

from kit.problems import Problem

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"  # set on an answer that repeats the first one
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def check_key(value: str | None) -> str | None:
    """The key as sent, or None when absent; a malformed key is a 400."""
    if value is None:
        return None
    if not KEY_PATTERN.fullmatch(value):
        raise Problem(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                      "An Idempotency-Key has 8–128 letters, digits, '-' or '_' (a UUID will do).", field=HEADER)
    return value


def time_key(at: datetime) -> str:
    """UTC text that orders like the instants it names, for expiry queries on the store."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
