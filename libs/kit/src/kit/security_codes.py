"""Checking a dossier's security code (printed on its receipt) against the keyed hash the dossier service
publishes: the credential of the public lookup, the receipt reprint and paying a dossier's fees. The hash is
an HMAC under the platform's security pepper, so only a service holding the pepper can check a code."""

import hashlib
import hmac


def normalise(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def hash_security_code(pepper: str, dossier_code: str, security_code: str) -> str:
    # surrogatepass: JSON can carry an unpaired surrogate, which must not match (nor fail) rather than raise.
    message = f"{dossier_code}:{normalise(security_code)}".encode("utf-8", "surrogatepass")
    return hmac.new(pepper.encode(), message, hashlib.sha256).hexdigest()


def matches(pepper: str, dossier_code: str, security_code: str, expected_hash: str | None) -> bool:
    """Constant time, and the same work whether or not the dossier exists."""
    candidate = hash_security_code(pepper, dossier_code, security_code)
    return hmac.compare_digest(candidate, expected_hash or "0" * 64) and expected_hash is not None
