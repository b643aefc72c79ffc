"""Cursor paging: `limit` plus an opaque `cursor` that encodes where the last page stopped."""

import base64
import json
from typing import Any

from kit.problems import Problem


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(position, dict):
            raise ValueError("not an object")
        return position
    except (ValueError, UnicodeDecodeError) as exc:
        # A bad query parameter, like a bad limit: 422 (FastAPI's own answer for those).
        raise Problem(422, "invalid-cursor", "Invalid cursor",
                      "The cursor is not one this API returned; start again without it.", field="cursor") from exc
