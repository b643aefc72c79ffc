"""The signature of a webhook request, Stripe-style, so a receiver can check who sent it and refuse replays:

    X-MotCua-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.".encode() + body)>

During a secret rotation the header carries one `v1=` per valid secret; a receiver accepts the request
when any of them matches the secret it holds. Pure: no I/O."""

import hashlib
import hmac
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "X-MotCua-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | Sequence[str], body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp`, with one signature per secret given."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys or not all(keys):
        raise ValueError("at least one non-empty secret is needed to sign")
    return ",".join([f"t={int(timestamp)}", *(f"{SCHEME}={_digest(key, body, int(timestamp))}" for key in keys)])


def verify(secret: str, body: bytes, header: str | None, now: float | None = None,
           tolerance: float = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """True when `header` signs `body` with `secret` at a time within `tolerance` seconds of `now`.
    Never raises: a missing or malformed header is simply not valid."""
    if not secret or not header:
        return False
    timestamp, signatures = _parse(header)
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, body, timestamp).encode()
    matched = False
    for given in signatures:  # every one compared, in constant time each
        matched |= hmac.compare_digest(expected, given.encode("utf-8", "replace"))
    return matched


def _parse(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit() or len(value) > 12:
                return None, []  # two timestamps, or not a number: refuse rather than guess
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value.strip().lower())
    return timestamp, signatures
