"""Security codes printed on the receipt: random, shown once, kept only as a keyed hash (checked with
`kit.security_codes`, which the payment service shares)."""

import secrets

from kit.security_codes import hash_security_code, matches, normalise

__all__ = ["ALPHABET", "LENGTH", "hash_security_code", "matches", "new_security_code", "normalise"]

# No 0/O, 1/I/L: the code is read off paper and typed on a phone.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8


def new_security_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
