"""The e-receipt of a paid fee (biên lai điện tử) as an A4 PDF: payer, dossier, item, amount in digits and in
words, method, transaction reference, time; refunds made since, if any. Pure: an `EReceipt` in, bytes out
(the fonts and page furniture are the kit's, shared with the dossier receipt)."""

from typing import Literal

from fpdf.enums import XPos, YPos
from pydantic import AwareDatetime, BaseModel, Field

from kit.pdf import SANS, DocumentPdf, Text, field, local_time, national_header, vnd

TITLE = "BIÊN LAI THU PHÍ, LỆ PHÍ"
SUBTITLE = "(Biên lai điện tử / E-receipt)"
METHODS = {
    "vnpay": "Thanh toán trực tuyến qua cổng VNPAY",
    "counter": "Nộp tiền mặt tại Bộ phận Một cửa",
}

_DIGITS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
_GROUPS = ["", "nghìn", "triệu"]  # then tỷ, read recursively: 2.500 tỷ is "hai nghìn năm trăm tỷ"
BILLION = 1_000_000_000


def _three(n: int, *, full: bool) -> str:
    """0-999 in words; `full` (a group after a higher one) reads the hundreds and the 'linh' even when zero."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if full or hundreds:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and (full or hundreds):
            words.append("linh")
    elif tens == 1:
        words.append("mười")
    else:
        words += [_DIGITS[tens], "mươi"]
    if units:
        if units == 1 and tens > 1:
            words.append("mốt")
        elif units == 5 and tens > 0:
            words.append("lăm")
        else:
            words.append(_DIGITS[units])
    return " ".join(words)


def _words(n: int, *, full: bool) -> str:
    """1 and up in words; zero groups are left out, and the group after a higher one is read in full."""
    if n >= BILLION:
        billions, rest = divmod(n, BILLION)
        head = f"{_words(billions, full=full)} tỷ"
        return f"{head} {_words(rest, full=True)}" if rest else head
    groups = [n // 1_000_000, n // 1000 % 1000, n % 1000]
    words: list[str] = []
    for index, value in enumerate(groups):
        if value == 0:
            continue
        words.append(_three(value, full=full or bool(words)))
        if _GROUPS[2 - index]:
            words.append(_GROUPS[2 - index])
    return " ".join(words)


def vnd_in_words(amount: int) -> str:
    """`75000` → `Bảy mươi lăm nghìn đồng`, as amounts are written out on Vietnamese receipts."""
    if amount < 0:
        raise ValueError("an amount in words is not negative")
    text = (_words(amount, full=False) if amount else "không") + " đồng"
    return text[0].upper() + text[1:]


class ReceiptRefund(BaseModel):
    amount: int
    at: AwareDatetime
    reference: str | None = None


class EReceipt(BaseModel):
    centre_name: Text
    centre_address: Text
    centre_phone: Text | None = None
    payment_id: str
    payer_name: Text | None
    dossier_code: str
    procedure_name: Text | None = None
    item_id: str
    item_description: Text
    amount: int = Field(gt=0)
    method: str
    provider_transaction: str | None = None
    paid_at: AwareDatetime
    collected_by: Text | None = None  # the cashier, for cash
    refunds: list[ReceiptRefund] = []
    status: Literal["paid", "partially_refunded", "refunded"] = "paid"


def render_e_receipt(r: EReceipt) -> bytes:
    pdf = DocumentPdf(f"Biên lai {r.payment_id} — Mã hồ sơ: {r.dossier_code}")
    pdf.set_creation_date(r.paid_at)  # the same receipt always gives the same bytes
    pdf.set_title(f"{TITLE} {r.payment_id}")
    pdf.add_page()
    contact = r.centre_address + (f"\nĐiện thoại: {r.centre_phone}" if r.centre_phone else "")
    national_header(pdf, organisation=r.centre_name, contact=contact)

    pdf.set_font(SANS, "B", 14)
    pdf.cell(0, 7, TITLE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(SANS, "", 9)
    pdf.cell(0, 5, SUBTITLE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(SANS, "B", 10)
    pdf.cell(0, 6, f"Số: {r.payment_id}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    field(pdf, "Người nộp", r.payer_name or "—")
    field(pdf, "Mã hồ sơ", r.dossier_code)
    if r.procedure_name:
        field(pdf, "Thủ tục", r.procedure_name, bold=False)
    field(pdf, "Khoản thu", f"{r.item_description} (mã khoản: {r.item_id})")
    field(pdf, "Số tiền", vnd(r.amount))
    field(pdf, "Bằng chữ", vnd_in_words(r.amount), bold=False)
    field(pdf, "Hình thức thanh toán", METHODS.get(r.method, r.method))
    field(pdf, "Mã giao dịch", r.provider_transaction or r.payment_id)
    field(pdf, "Thời gian thanh toán", local_time(r.paid_at))
    if r.collected_by:
        field(pdf, "Người thu", r.collected_by)
    if r.refunds:
        pdf.ln(2)
        refunded = sum(x.amount for x in r.refunds)
        field(pdf, "Đã hoàn trả", f"{vnd(refunded)} ({vnd_in_words(refunded).lower()})")
        for refund in r.refunds:
            reference = f", mã hoàn tiền {refund.reference}" if refund.reference else ""
            field(pdf, "  •", f"{vnd(refund.amount)} lúc {local_time(refund.at)}{reference}", bold=False, size=9)
    pdf.ln(4)
    pdf.set_font(SANS, "", 8.5)
    pdf.multi_cell(0, 4.5, "Biên lai được lập tự động từ hệ thống Một Cửa; tra cứu bằng số biên lai và mã hồ sơ. / "
                           "This receipt was issued electronically by the Một Cửa platform.",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
