"""Security codes printed on the receipt: random, shown once, kept only as a keyed hash."""

import hashlib
import hmac
import secrets

# No 0/O, 1/I/L: the code is read off paper and typed on a phone.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8


def new_security_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def hash_security_code(pepper: str, dossier_code: str, security_code: str) -> str:
    message = f"{dossier_code}:{normalise(security_code)}".encode()
    return hmac.new(pepper.encode(), message, hashlib.sha256).hexdigest()


def matches(pepper: str, dossier_code: str, security_code: str, expected_hash: str | None) -> bool:
    """Constant time, and the same work whether or not the dossier exists."""
    candidate = hash_security_code(pepper, dossier_code, security_code)
    return hmac.compare_digest(candidate, expected_hash or "0" * 64) and expected_hash is not None
