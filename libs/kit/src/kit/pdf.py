"""Printed documents in Vietnamese (the dossier receipt, the payment e-receipt): A4 PDFs made with fpdf2
and the bundled DejaVu fonts. Needs the `pdf` extra (`kit[pdf]`); nothing else in the kit imports it.

Pure apart from reading the fonts: a document in, bytes out."""

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from pydantic import AfterValidator

# Next to this module, so they ship in the wheel and are found in any install layout.
FONTS = Path(__file__).parent / "fonts"
SANS, MONO = "DejaVu", "DejaVuMono"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MOTTO_COUNTRY = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"

# Precomposed (NFC) text only: fpdf2 does not shape, so a decomposed "ễ" (as macOS file names
# and some keyboards send it) would print its marks beside the letter instead of on it.
Text = Annotated[str, AfterValidator(lambda s: unicodedata.normalize("NFC", s))]


def local_time(moment: datetime) -> str:
    """`14 giờ 05 phút, ngày 23/11/2026`, in Vietnam's time whatever the input's zone."""
    t = moment.astimezone(TZ)
    return f"{t:%H} giờ {t:%M} phút, ngày {t:%d/%m/%Y}"


def vnd(amount: int) -> str:
    """`1.250.000 đồng`: Vietnamese thousands separator."""
    return f"{amount:,} đồng".replace(",", ".")


class DocumentPdf(FPDF):
    """A4 with the margins of official documents, the fonts registered, and a footer on every page
    naming what the document is about (a long document runs over pages)."""

    def __init__(self, footer_label: str):
        super().__init__(format="A4", unit="mm")
        self.footer_label = footer_label
        # Official documents (Decree 30/2020) use a wider left margin for binding.
        self.set_margins(left=20, top=15, right=15)
        self.set_auto_page_break(True, margin=18)
        self.add_font(SANS, "", FONTS / "DejaVuSans.ttf")
        self.add_font(SANS, "B", FONTS / "DejaVuSans-Bold.ttf")
        self.add_font(MONO, "", FONTS / "DejaVuSansMono.ttf")
        # The mono font lacks some Vietnamese capitals; a file name may need them.
        self.set_fallback_fonts([SANS], exact_match=False)
        self.set_lang("vi")
        self.set_creator("Một Cửa")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(SANS, "", 7)
        self.set_text_color(110)
        self.cell(self.epw / 2, 4, self.footer_label)
        self.cell(self.epw / 2, 4, f"Trang {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)


def rule(pdf: FPDF, centre_x: float, y: float, width: float) -> None:
    pdf.set_line_width(0.3)
    pdf.line(centre_x - width / 2, y, centre_x + width / 2, y)


def national_header(pdf: FPDF, *, organisation: str, contact: str) -> None:
    """The issuing body on the left (name, rule, address), the national motto on the right (Decree 30/2020)."""
    top, left_w = pdf.get_y(), 80
    right_x, right_w = pdf.l_margin + left_w, pdf.epw - left_w

    pdf.set_font(SANS, "B", 9)
    pdf.multi_cell(left_w, 4.5, organisation.upper(), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    rule(pdf, pdf.l_margin + left_w / 2, pdf.get_y() + 1, 25)
    pdf.set_y(pdf.get_y() + 2.5)
    pdf.set_font(SANS, "", 7.5)
    pdf.multi_cell(left_w, 3.5, contact, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()

    pdf.set_xy(right_x, top)
    pdf.set_font(SANS, "B", 9)
    pdf.cell(right_w, 4.5, MOTTO_COUNTRY, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(SANS, "B", 10)
    pdf.cell(right_w, 5, MOTTO, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    rule(pdf, right_x + right_w / 2, pdf.get_y() + 0.5, pdf.get_string_width(MOTTO))

    pdf.set_xy(pdf.l_margin, max(left_bottom, pdf.get_y()) + 6)


def field(pdf: FPDF, label: str, value: str, *, bold: bool = True, size: float = 10) -> None:
    """`label: value` as flowing text, wrapping at the margins."""
    pdf.set_font(SANS, "", size)
    pdf.write(size * 0.52, f"{label}: ")
    pdf.set_font(SANS, "B" if bold else "", size)
    pdf.write(size * 0.52, value)
    pdf.ln(size * 0.56)
