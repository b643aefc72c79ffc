"""The receipt and appointment slip (Form 01, Circular 01/2018/TT-VPCP) as an A4 PDF.

Pure: a `Receipt` in, PDF bytes out; the only I/O is reading the bundled fonts. An online
submission that has not been received yet (no appointment) gets the acknowledgement variant.
"""

from typing import Literal

import segno
from fpdf import FPDF, FontFace
from fpdf.enums import PathPaintRule, XPos, YPos
from pydantic import AwareDatetime, BaseModel, Field

from kit.pdf import MONO, SANS, DocumentPdf, Text, field, local_time, national_header

from dossier.security import LENGTH as SECURITY_CODE_LENGTH

TITLE = "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ"
ACK_TITLE = "PHIẾU XÁC NHẬN NỘP HỒ SƠ TRỰC TUYẾN"
NOT_YET = "Sẽ được thông báo khi hồ sơ được tiếp nhận"
CHANNELS = {
    "counter": "Nhận tại Bộ phận Một cửa",
    "post": "Nhận qua dịch vụ bưu chính",
    "online": "Nhận trực tuyến",
}


class ReceiptFile(BaseModel):
    filename: Text
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class ReceiptDocument(BaseModel):
    name: Text
    originals: int = Field(default=0, ge=0)
    copies: int = Field(default=0, ge=0)
    files: list[ReceiptFile] = []


class Receipt(BaseModel):
    centre_name: Text
    centre_address: Text
    centre_phone: Text | None = None
    dossier_code: str
    security_code: str = Field(min_length=SECURITY_CODE_LENGTH, max_length=SECURITY_CODE_LENGTH)
    applicant_name: Text
    applicant_address: Text
    applicant_phone: Text
    applicant_email: Text | None = None
    procedure_code: Text
    procedure_name: Text
    documents: list[ReceiptDocument]
    sets: int = Field(default=1, ge=1)
    processing_time: Text
    submitted_at: AwareDatetime
    received_at: AwareDatetime | None = None
    received_by: Text | None = None
    appointment_at: AwareDatetime | None = None
    result_channel: Literal["counter", "post", "online"]
    ledger_entry: Text = Field(description="The whole 'Vào Sổ theo dõi hồ sơ…' line, printed as is")
    fee_status: Text | None = None
    lookup_url: str


def render_receipt(receipt: Receipt) -> bytes:
    # The footer of every page says which dossier it belongs to: a long document list runs over pages.
    pdf = DocumentPdf(f"Mã hồ sơ: {receipt.dossier_code}")
    # Pin the dates to the submission so the same receipt always gives the same bytes.
    pdf.set_creation_date(receipt.submitted_at)
    pdf.set_title(f"{_title(receipt)} {receipt.dossier_code}")
    pdf.add_page()
    _header(pdf, receipt)
    _title_block(pdf, receipt)
    _lookup_panel(pdf, receipt)
    _body(pdf, receipt)
    _signatures(pdf, receipt)
    return bytes(pdf.output())


def _title(r: Receipt) -> str:
    return TITLE if r.appointment_at else ACK_TITLE


def _header(pdf: FPDF, r: Receipt) -> None:
    contact = r.centre_address + (f"\nĐiện thoại: {r.centre_phone}" if r.centre_phone else "")
    national_header(pdf, organisation=r.centre_name, contact=contact)


def _title_block(pdf: FPDF, r: Receipt) -> None:
    pdf.set_font(SANS, "B", 14)
    pdf.multi_cell(0, 7, _title(r), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(SANS, "B", 11)
    pdf.cell(0, 6, f"Mã hồ sơ: {r.dossier_code}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)


def _lookup_panel(pdf: FPDF, r: Receipt) -> None:
    """A framed box: the QR code on the left, the security code and the link on the right."""
    x, y, qr_size, pad = pdf.l_margin, pdf.get_y(), 30.0, 3.0
    _qr(pdf, r.lookup_url, x + pad, y + pad, qr_size)
    pdf.link(x + pad, y + pad, qr_size, qr_size, r.lookup_url)

    # Each line is placed explicitly: ln() would send x back to the left margin.
    text_x = x + qr_size + 2 * pad + 2
    text_w = pdf.epw - (text_x - x) - pad

    def line(height: float) -> None:
        pdf.set_xy(text_x, pdf.get_y() + height)

    pdf.set_xy(text_x, y + pad + 1)
    pdf.set_font(SANS, "", 9.5)
    pdf.cell(text_w, 5, "Mã bảo mật (dùng để tra cứu):")
    line(6)
    pdf.set_font(SANS, "B", 15)
    pdf.set_line_width(0.4)
    pdf.cell(pdf.get_string_width(r.security_code) + 10, 9, r.security_code, border=1, align="C")
    line(11)
    pdf.set_font(SANS, "", 9)
    pdf.cell(text_w, 4.5, "Quét mã QR để tra cứu tình trạng hồ sơ")
    line(4.5)
    pdf.set_font(SANS, "", 8)
    pdf.set_text_color(0, 0, 160)
    pdf.multi_cell(text_w, 4, r.lookup_url, link=r.lookup_url, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(0)

    bottom = max(y + qr_size + 2 * pad, pdf.get_y() + pad)
    pdf.set_line_width(0.2)
    pdf.rect(x, y, pdf.epw, bottom - y)
    pdf.set_xy(x, bottom + 4)


def _qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    """Drawn as vectors (one filled path) so it stays sharp in print and at any zoom."""
    rows = [list(row) for row in segno.make(url, error="m", micro=False).matrix_iter(border=0)]
    module = size / len(rows)
    with pdf.new_path() as path:
        path.style.fill_color = "#000000"
        path.style.paint_rule = PathPaintRule.FILL_NONZERO
        for j, row in enumerate(rows):
            i = 0
            while i < len(row):  # one rectangle per run of dark modules
                if not row[i]:
                    i += 1
                    continue
                start = i
                while i < len(row) and row[i]:
                    i += 1
                path.rectangle(x + start * module, y + j * module, (i - start) * module, module)


def _body(pdf: FPDF, r: Receipt) -> None:
    # Until it is received, an online submission has an applicant but no intake yet.
    field(pdf, "Tiếp nhận hồ sơ của" if r.appointment_at else "Người nộp hồ sơ", r.applicant_name)
    field(pdf, "Địa chỉ", r.applicant_address, bold=False)
    contact = r.applicant_phone + (f"     Email: {r.applicant_email}" if r.applicant_email else "")
    field(pdf, "Số điện thoại", contact, bold=False)
    field(pdf, "Nội dung yêu cầu giải quyết", f"{r.procedure_name} (mã thủ tục {r.procedure_code})")

    pdf.set_font(SANS, "", 10)
    pdf.cell(0, 6, "1. Thành phần hồ sơ nộp gồm:", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _documents(pdf, r.documents)

    # Numbered as on the form; the optional lines close up the numbering when absent.
    items = [("Số lượng hồ sơ", f"{r.sets} bộ"),
             ("Thời gian giải quyết hồ sơ theo quy định", r.processing_time),
             ("Thời gian nộp hồ sơ", local_time(r.submitted_at))]
    if r.received_at:
        items.append(("Thời gian tiếp nhận hồ sơ", local_time(r.received_at)))
    items.append(("Thời gian trả kết quả giải quyết hồ sơ",
                  local_time(r.appointment_at) if r.appointment_at else NOT_YET))
    items.append(("Hình thức nhận kết quả", CHANNELS[r.result_channel]))
    if r.fee_status:
        items.append(("Phí, lệ phí", r.fee_status))
    for number, (label, value) in enumerate(items, start=2):
        field(pdf, f"{number}. {label}", value)
    pdf.ln(1)
    pdf.set_font(SANS, "", 10)
    pdf.multi_cell(0, 5.5, r.ledger_entry, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _documents(pdf: FPDF, documents: list[ReceiptDocument]) -> None:
    # The digest column is wide enough for 64 hex digits on one line at 6 pt, so a digest
    # reads (and copies) as one word; fpdf2 breaks rows across pages and repeats the heading.
    pdf.set_font(SANS, "", 8.5)
    digest = FontFace(family=MONO, size_pt=6)
    with pdf.table(col_widths=(10, 52, 14, 14, 85), width=pdf.epw, align="LEFT", line_height=3.6, padding=1.2,
                   text_align=("CENTER", "LEFT", "CENTER", "CENTER", "LEFT"), v_align="TOP",
                   headings_style=FontFace(emphasis="BOLD", fill_color=235)) as table:
        table.row(["STT", "Tên giấy tờ", "Bản chính", "Bản sao", "Tệp đính kèm (tên tệp, SHA-256)"])
        for number, doc in enumerate(documents, start=1):
            row = table.row()
            row.cell(str(number))
            row.cell(doc.name)
            row.cell(str(doc.originals))
            row.cell(str(doc.copies))
            row.cell("\n".join(f"{f.filename} ({_size(f.size)})\n{f.sha256}" for f in doc.files), style=digest)
    pdf.ln(2)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value, unit = (n / 1024, "KB") if n < 1024**2 else (n / 1024**2, "MB")
    return f"{value:.1f} {unit}".replace(".", ",")  # Vietnamese decimal comma


def _signatures(pdf: FPDF, r: Receipt) -> None:
    if pdf.get_y() + 34 > pdf.page_break_trigger:  # never split the signature blocks
        pdf.add_page()
    pdf.ln(3)
    top, half = pdf.get_y(), pdf.epw / 2
    for i, (role, name) in enumerate([("NGƯỜI NỘP HỒ SƠ", r.applicant_name),
                                      ("NGƯỜI TIẾP NHẬN HỒ SƠ", r.received_by)]):
        x = pdf.l_margin + i * half
        pdf.set_xy(x, top)
        pdf.set_font(SANS, "B", 10)
        pdf.cell(half, 5, role, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(SANS, "", 8.5)
        pdf.cell(half, 4.5, "(Ký và ghi rõ họ tên)", align="C")
        if name:  # below the room left for the handwritten signature
            pdf.set_xy(x, top + 25)
            pdf.set_font(SANS, "B", 10)
            pdf.multi_cell(half, 5, name, align="C")
