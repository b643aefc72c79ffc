"""The values a notification template may use, per event type, and how each is written for people. Pure.

A template says `{due_date}`; this module knows which events carry a due date, what it looks like in
Vietnamese and in English, and a realistic sample of it (to preview a template and to measure its SMS
before it is saved). A value the event did not carry is None, never "": rendering refuses it loudly."""

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from contracts import EventData
from contracts import dossier as ev
from contracts import feedback as fb
from contracts import payment as pay

from notification.domain import Language

# --- what each event type offers ---------------------------------------------------------------------

_DOSSIER = {
    "code": "Mã hồ sơ / Dossier code",
    "procedure": "Tên thủ tục hành chính / Name of the administrative procedure",
    "applicant_name": "Họ tên người nộp hồ sơ / Applicant's name",
    "agency": "Cơ quan đang giải quyết hồ sơ / Agency handling the dossier",
    "occurred_at": "Thời điểm xảy ra sự việc / When this happened",
    "lookup_link": "Đường dẫn tra cứu hồ sơ / Link to look the dossier up",
}
# Carried from receipt on: the legal clock runs and the appointment (hẹn trả) is set.
_RECEIVED = {
    "received_at": "Thời điểm tiếp nhận hồ sơ / When the dossier was received",
    "due_date": "Ngày hẹn trả kết quả / Appointment date for the result",
}
_REASON = {"reason": "Lý do (do cán bộ ghi) / Reason (as written by the officer)"}
_MISSING = {"missing_items": "Danh sách giấy tờ cần bổ sung / List of documents to supply"}
_PAYMENT = {
    "code": "Mã hồ sơ được nộp phí / Code of the dossier the fee is for",
    "amount": "Số tiền / Amount",
    "method": "Hình thức thanh toán / Payment method",
    "occurred_at": "Thời điểm xảy ra sự việc / When this happened",
    "lookup_link": "Đường dẫn tra cứu hồ sơ / Link to look the dossier up",
}


# A returned dossier's applicant is invited to rate the service (contact: the event's `applicant`).
_RATING = {
    "code": "Mã hồ sơ được mời đánh giá / Code of the dossier to rate",
    "procedure": "Tên thủ tục hành chính / Name of the administrative procedure",
    "applicant_name": "Họ tên người nộp hồ sơ / Applicant's name",
    "agency": "Cơ quan giải quyết hồ sơ / Agency competent for the dossier",
    "rate_link": "Đường dẫn đánh giá mức độ hài lòng, một lần bấm / One-click link to rate the service",
}
# Petitions (phản ánh, kiến nghị): the submitter is told (contact: the event's `submitter`).
_PETITION = {
    "petition_id": "Mã phản ánh, kiến nghị / Petition number",
    "applicant_name": "Họ tên người gửi phản ánh, kiến nghị / Name of the person who sent the petition",
    "occurred_at": "Thời điểm xảy ra sự việc / When this happened",
    "petition_link": "Đường dẫn xem phản ánh, kiến nghị và câu trả lời / Link to the petition and its answer",
}


def _petition(*extra: dict[str, str]) -> dict[str, str]:
    merged = dict(_PETITION)
    for part in extra:
        merged.update(part)
    return merged


def _dossier(*extra: dict[str, str]) -> dict[str, str]:
    merged = dict(_DOSSIER)
    for part in extra:
        merged.update(part)
    return merged


def _payment(*extra: dict[str, str]) -> dict[str, str]:
    merged = dict(_PAYMENT)
    for part in extra:
        merged.update(part)
    return merged


# Only names the event can carry. `due_date` is left out where the date the event holds is void:
# before receipt (no clock yet), on a supplement request (the clock restarts when it is answered), and
# on `stalled` (which also fires on dossiers still waiting at intake).
PLACEHOLDERS: dict[str, dict[str, str]] = {
    ev.DossierSubmitted.event_type: _dossier(),
    ev.DossierIntakeSupplementRequested.event_type: _dossier(_REASON, _MISSING),
    ev.DossierResubmitted.event_type: _dossier(),
    ev.DossierRefusedAtIntake.event_type: _dossier(_REASON),
    ev.DossierReceived.event_type: _dossier(_RECEIVED),
    ev.DossierTransferred.event_type: _dossier(_RECEIVED),
    ev.DossierAssigned.event_type: _dossier(_RECEIVED),
    ev.DossierAppraised.event_type: _dossier(_RECEIVED, _REASON),
    ev.DossierApproved.event_type: _dossier(_RECEIVED),
    ev.DossierFeesRequested.event_type: _dossier(_RECEIVED, {
        "amount": "Số tiền phí, lệ phí phải nộp / Fee amount to pay",
        "fee_description": "Nội dung khoản phí, lệ phí / What the fee is for",
        "payment_link": "Đường dẫn nộp phí trực tuyến / Link to pay online",
    }),
    ev.DossierFeesPaid.event_type: _dossier(_RECEIVED),
    ev.DossierSupplementRequested.event_type: _dossier({"received_at": _RECEIVED["received_at"]}, _REASON, _MISSING, {
        "respond_by": "Hạn cuối nộp bổ sung / Deadline to supply the documents",
    }),
    ev.DossierSupplementProvided.event_type: _dossier({
        "received_at": _RECEIVED["received_at"],
        "due_date": "Ngày hẹn trả kết quả mới (tính lại từ khi bổ sung) / New appointment date (clock restarted)",
    }),
    ev.DossierRefused.event_type: _dossier(_RECEIVED, _REASON),
    ev.DossierExtended.event_type: _dossier(_RECEIVED, _REASON, {
        "due_date": "Ngày hẹn trả kết quả mới / New appointment date",
        "previous_due_date": "Ngày hẹn trả kết quả cũ / Previous appointment date",
    }),
    ev.DossierWithdrawalRequested.event_type: _dossier(_RECEIVED, _REASON),
    ev.DossierWithdrawalCancelled.event_type: _dossier(_RECEIVED),
    ev.DossierStopped.event_type: _dossier(_RECEIVED, {
        "reason": "Lý do dừng (có thể trống khi công dân rút hồ sơ) / Why it stopped (absent on a plain withdrawal)",
    }),
    ev.DossierResolved.event_type: _dossier(_RECEIVED, {
        "result_number": "Số, ký hiệu văn bản kết quả (nếu có) / Number of the result document (if any)",
    }),
    ev.DossierReturned.event_type: _dossier(_RECEIVED, {
        "return_method": "Hình thức trả kết quả / How the result was returned",
    }),
    ev.DossierOverdue.event_type: _dossier(_RECEIVED, {
        "due_on": "Ngày đến hạn đã bị quá / The due date that passed",
    }),
    ev.DossierStalled.event_type: _dossier({
        "idle_since": "Thời điểm hồ sơ dừng tiến triển / Since when the dossier has not moved",
    }),
    pay.PaymentSucceeded.event_type: _payment({"paid_at": "Thời điểm thanh toán / When it was paid"}),
    pay.PaymentFailed.event_type: _payment({
        "reason": "Lý do không thành công (nếu cổng thanh toán cho biết) / Why it failed (if the gateway said)",
        "payment_link": "Đường dẫn nộp phí lại / Link to pay again",
    }),
    pay.PaymentRefunded.event_type: _payment({"refunded": "Số tiền hoàn lần này / Amount refunded this time"}),
    fb.RatingInvited.event_type: dict(_RATING),
    fb.FeedbackAnswered.event_type: _petition(),
    fb.FeedbackRejected.event_type: _petition({
        "reason": "Lý do không tiếp nhận (do cán bộ ghi) / Why it was not accepted (as written by the officer)",
    }),
    fb.FeedbackInformationRequested.event_type: _petition({
        "request": "Thông tin cần cung cấp thêm (do cán bộ ghi) / Information asked for (as written by the officer)",
    }),
}

# Realistic and at the long end of typical, in Vietnamese: an SMS that fits with these fits in practice.
SAMPLE_VALUES: dict[str, str] = {
    "code": "000.00.21.H49-261123-0007",
    "procedure": "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
    "applicant_name": "Nguyễn Thị Thanh Hương",
    "agency": "Sở Nông nghiệp và Môi trường tỉnh Quảng Ninh",
    "occurred_at": "14:35 ngày 23/11/2026",
    "lookup_link": "https://dichvucong.quangninh.gov.vn/tra-cuu?ma=000.00.21.H49-261123-0007",
    "received_at": "08:15 ngày 23/11/2026",
    "due_date": "17:00 ngày 30/11/2026",
    "reason": "Bản sao Căn cước công dân bị mờ, không đọc được số định danh cá nhân",
    "missing_items": "Bản sao Căn cước công dân (bản chụp mờ); Tờ khai đăng ký (thiếu chữ ký)",
    "respond_by": "17:00 ngày 14/12/2026",
    "amount": "1.250.000 đồng",
    "fee_description": "Lệ phí cấp giấy chứng nhận quyền sử dụng đất",
    "payment_link": "https://dichvucong.quangninh.gov.vn/thanh-toan?khoan=000.00.21.H49-261123-0007%2Ffees-12",
    "previous_due_date": "17:00 ngày 30/11/2026",
    "result_number": "1234/QĐ-UBND",
    "return_method": "qua dịch vụ bưu chính công ích",
    "idle_since": "09:40 ngày 20/11/2026",
    "due_on": "30/11/2026",
    "paid_at": "10:05 ngày 27/11/2026",
    "method": "Nộp trực tiếp tại Bộ phận Một cửa",
    "refunded": "1.250.000 đồng",
    "rate_link": "https://dichvucong.quangninh.gov.vn/danh-gia?t=MDAwLjAwLjIxLkg0OS0yNjExMjMtMDAwNw.Z9B5nH1k0pI0a3JzV92gcA",
    "petition_id": "PAKN-261123-3F9A0C7B",
    "petition_link": "https://dichvucong.quangninh.gov.vn/phan-anh-kien-nghi?ma=PAKN-261123-3F9A0C7B",
    "request": "Đề nghị cho biết ngày đến nộp hồ sơ và tên cán bộ tiếp nhận để xác minh",
}

# The same samples as an English text shows them (free text typed by officers stays Vietnamese).
_SAMPLE_VALUES_EN: dict[str, str] = {
    "occurred_at": "14:35 on 23/11/2026",
    "received_at": "08:15 on 23/11/2026",
    "due_date": "17:00 on 30/11/2026",
    "respond_by": "17:00 on 14/12/2026",
    "amount": "1,250,000 VND",
    "previous_due_date": "17:00 on 30/11/2026",
    "return_method": "by public postal service",
    "idle_since": "09:40 on 20/11/2026",
    "paid_at": "10:05 on 27/11/2026",
    "method": "Paid at the one-stop counter",
    "refunded": "1,250,000 VND",
}


def sample_values(lang: Language) -> dict[str, str]:
    """SAMPLE_VALUES as a reader of `lang` would see them."""
    return dict(SAMPLE_VALUES) if lang == "vi" else {**SAMPLE_VALUES, **_SAMPLE_VALUES_EN}


# --- links -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Links:
    """Where a citizen looks a dossier up, pays a fee item and reads a petition's answer: URL templates with
    `{code}` / `{item}` / `{id}`, e.g. `http://127.0.0.1:8000/tra-cuu?ma={code}` (like the dossier service's
    lookup_url_template)."""

    lookup_url: str
    payment_url: str
    # The public page of a petition (phản ánh, kiến nghị) and its answer.
    petition_url: str = "http://127.0.0.1:8000/phan-anh-kien-nghi?ma={id}"

    def __post_init__(self) -> None:
        for name, allowed in (("lookup_url", {"code"}), ("payment_url", {"code", "item"}), ("petition_url", {"id"})):
            fields = {f for _, f, _, _ in string.Formatter().parse(getattr(self, name)) if f is not None}
            if not fields <= allowed:
                raise ValueError(f"{name} may only use {sorted(allowed)}, not {sorted(fields - allowed)}")

    def lookup(self, code: str) -> str:
        return self.lookup_url.format(code=quote(code, safe=""))

    def payment(self, code: str, item: str) -> str:
        return self.payment_url.format(code=quote(code, safe=""), item=quote(item, safe=""))

    def petition(self, petition_id: str) -> str:
        return self.petition_url.format(id=quote(petition_id, safe=""))


# --- formatting for people ---------------------------------------------------------------------------

RETURN_METHODS: dict[str, dict[Language, str]] = {
    "counter": {"vi": "trực tiếp tại Bộ phận Một cửa", "en": "in person at the one-stop counter"},
    "post": {"vi": "qua dịch vụ bưu chính công ích", "en": "by public postal service"},
    "online": {"vi": "trực tuyến trên Cổng Dịch vụ công", "en": "online on the Public Service Portal"},
}
PAYMENT_METHODS: dict[str, dict[Language, str]] = {
    "vnpay": {"vi": "Cổng thanh toán VNPAY", "en": "VNPAY payment gateway"},
    "counter": {"vi": "Nộp trực tiếp tại Bộ phận Một cửa", "en": "Paid at the one-stop counter"},
}


def moment(at: datetime | None, lang: Language, tz: ZoneInfo) -> str | None:
    """`17:00 ngày 24/11/2026` / `17:00 on 24/11/2026`, in the centre's time zone."""
    if at is None:
        return None
    local = at.astimezone(tz)
    return f"{local:%H:%M} {'ngày' if lang == 'vi' else 'on'} {local:%d/%m/%Y}"


def day(on: date | None) -> str | None:
    return f"{on:%d/%m/%Y}" if on is not None else None


def money(amount: int | None, lang: Language) -> str | None:
    """`1.250.000 đồng` / `1,250,000 VND`."""
    if amount is None:
        return None
    return f"{amount:,} đồng".replace(",", ".") if lang == "vi" else f"{amount:,} VND"


def missing_list(items: list[ev.MissingItem]) -> str | None:
    """`Bản sao CCCD (bản chụp mờ); Tờ khai`."""
    named = [f"{i.name} ({i.note.strip()})" if i.note.strip() else i.name for i in items]
    return "; ".join(named) or None


def _translated(table: dict[str, dict[Language, str]], key: str, lang: Language) -> str:
    return table.get(key, {}).get(lang, key)  # a method the table does not know yet: shown as sent


def _text(value: str | None) -> str | None:
    """A blank string is no value: the template must not render around it."""
    return value if value and value.strip() else None


def values_for(data: EventData, *, lang: Language, tz: ZoneInfo, links: Links,
               agency_names: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Every placeholder of `data.event_type`, written for a reader of `lang`. `agency_names` maps agency
    codes to names (the event carries only codes); a code without a name is shown as the code."""
    names = PLACEHOLDERS.get(data.event_type)
    if names is None:
        raise KeyError(f"no placeholders for {data.event_type}")
    compute: dict[str, Callable[[], str | None]] = {}
    if isinstance(data, ev.DossierChange):
        agency = data.current_agency or data.agency_code
        compute.update(
            code=lambda: data.code,
            procedure=lambda: _text(data.procedure_name),
            applicant_name=lambda: _text(data.applicant.name) if data.applicant else None,
            agency=lambda: (agency_names or {}).get(agency, agency),
            occurred_at=lambda: moment(data.occurred_at, lang, tz),
            lookup_link=lambda: links.lookup(data.code),
            received_at=lambda: moment(data.received_at, lang, tz),
            due_date=lambda: moment(data.due_at, lang, tz),
            reason=lambda: _text(data.reason),
        )
    if isinstance(data, ev.DossierIntakeSupplementRequested | ev.DossierSupplementRequested):
        compute["missing_items"] = lambda: missing_list(data.items)
    if isinstance(data, ev.DossierSupplementRequested):
        compute["respond_by"] = lambda: moment(data.respond_by, lang, tz)
    if isinstance(data, ev.DossierFeesRequested):
        compute.update(amount=lambda: money(data.amount, lang), fee_description=lambda: _text(data.description),
                       payment_link=lambda: links.payment(data.code, data.item_id))
    if isinstance(data, ev.DossierExtended):
        compute["previous_due_date"] = lambda: moment(data.previous_due_at, lang, tz)
    if isinstance(data, ev.DossierResolved):
        compute["result_number"] = lambda: _text(data.result_number)
    if isinstance(data, ev.DossierReturned):
        compute["return_method"] = lambda: _translated(RETURN_METHODS, data.method, lang)
    if isinstance(data, ev.DossierOverdue):
        compute["due_on"] = lambda: day(data.due_on)
    if isinstance(data, ev.DossierStalled):
        compute["idle_since"] = lambda: moment(data.idle_since, lang, tz)
    if isinstance(data, pay.PaymentChange):
        compute.update(
            code=lambda: data.dossier_code,
            amount=lambda: money(data.amount, lang),
            method=lambda: _translated(PAYMENT_METHODS, data.method, lang),
            occurred_at=lambda: moment(data.occurred_at, lang, tz),
            lookup_link=lambda: links.lookup(data.dossier_code),
        )
    if isinstance(data, pay.PaymentSucceeded):
        compute["paid_at"] = lambda: moment(data.paid_at, lang, tz)
    if isinstance(data, pay.PaymentFailed):
        compute.update(reason=lambda: _text(data.reason),
                       payment_link=lambda: links.payment(data.dossier_code, data.item_id))
    if isinstance(data, pay.PaymentRefunded):
        compute["refunded"] = lambda: money(data.refunded, lang)
    if isinstance(data, fb.RatingInvited):
        compute.update(
            code=lambda: data.dossier_code,
            procedure=lambda: _text(data.procedure_name),
            applicant_name=lambda: _text(data.applicant.name) if data.applicant else None,
            agency=lambda: (agency_names or {}).get(data.agency_code, data.agency_code),
            rate_link=lambda: _text(data.rate_url),
        )
    if isinstance(data, fb.PetitionChange):
        submitter = getattr(data, "submitter", None)  # carried by the events that tell the submitter
        compute.update(
            petition_id=lambda: data.petition_id,
            applicant_name=lambda: _text(submitter.name) if submitter else None,
            occurred_at=lambda: moment(data.occurred_at, lang, tz),
            petition_link=lambda: links.petition(data.petition_id),
        )
    if isinstance(data, fb.FeedbackRejected):
        compute["reason"] = lambda: _text(data.reason)
    if isinstance(data, fb.FeedbackInformationRequested):
        compute["request"] = lambda: _text(data.request)
    return {name: compute[name]() if name in compute else None for name in names}
