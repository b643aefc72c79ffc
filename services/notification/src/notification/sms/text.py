"""How long an SMS is: GSM-7 (unaccented) or UCS-2 (accented Vietnamese), and how many parts it takes.

A single GSM-7 SMS holds 160 septets and a UCS-2 one 70 UTF-16 code units; a concatenated message loses
7 septets / 3 code units per part to the UDH header (153 / 67). Characters of the GSM extension table take
two septets (escape + char) and are never split across parts; neither is a UTF-16 surrogate pair."""

import unicodedata
from typing import Literal, NamedTuple

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet (the escape 0x1B is not a character of its own).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


class Segments(NamedTuple):
    encoding: Encoding
    parts: int


def encoding_of(text: str) -> Encoding:
    return "GSM-7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else "UCS-2"


def _unit_length(ch: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # outside the BMP: a surrogate pair


def encoded_length(text: str) -> int:
    """Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes."""
    encoding = encoding_of(text)
    return sum(_unit_length(ch, encoding) for ch in text)


def segments(text: str) -> Segments:
    """The encoding an SMS of this text is sent with, and the number of parts it takes (at least 1)."""
    encoding = encoding_of(text)
    single, per_part = LIMITS[encoding]
    lengths = [_unit_length(ch, encoding) for ch in text]
    if sum(lengths) <= single:
        return Segments(encoding, 1)
    # Greedy fill, as a handset does: a two-unit character that does not fit starts the next part.
    parts, used = 1, 0
    for length in lengths:
        if used + length > per_part:
            parts, used = parts + 1, 0
        used += length
    return Segments(encoding, parts)


# Typography that has no GSM-7 form but a plain one.
_PLAIN = str.maketrans({"đ": "d", "Đ": "D", "“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-",
                        "…": "...", "\u00a0": " "})


def unaccent(text: str) -> str:
    """Vietnamese without diacritics ("Hồ sơ đã được tiếp nhận" → "Ho so da duoc tiep nhan"), for providers
    and brand-name rules that only take unaccented SMS, and to fit a text into GSM-7's longer parts."""
    decomposed = unicodedata.normalize("NFD", text.translate(_PLAIN))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)
