"""Text as people search it: Vietnamese without diacritics, case or punctuation (catalogue and petitions)."""

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-z.]+")


def fold(text: str) -> str:
    """`Đăng ký  KẾT HÔN` → `dang ky ket hon`: no diacritics, lower case, single spaces."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(_NON_WORD.sub(" ", stripped.lower()).split())
