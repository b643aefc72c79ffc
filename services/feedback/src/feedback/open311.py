"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) over petitions: the mapping and the rendering. Pure.

Services are the two petition categories; a service request is a petition. What the public sees of a
petition is what the centre would publish anyway: never the submitter (name, phone, e-mail), and, until the
centre publishes a moderated question and answer, only the petition's title, not its full text.

Conventions of the spec followed here: every text is UTF-8 and the XML starts with a declaration naming
it; XML is schemaless, without namespace, element names and order as in the spec's examples; JSON is the
Spark-convention mapping of that XML (a list for a plural root, `null` for an empty element); datetimes are
W3C (ISO 8601 with an offset), shown in Asia/Ho_Chi_Minh; an empty parameter is the same as an absent one;
errors are a list of {code, description}, with HTTP 404 for what does not exist and 400 for the rest.
"""

import json
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from feedback.petitions import Petition, PetitionDraft

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PREFIX = "/open311/v2"
DEFAULT_JURISDICTION = "quangninh.gov.vn"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
MAX_RESULTS = 1000  # "first 1000 requests returned" (Response Volume)
WINDOW = timedelta(days=90)  # the default and the longest range of GET requests
TITLE_LENGTH = 80
MIN_DESCRIPTION = 10
CLOSED_STATES = ("rejected", "answered", "published")
OPEN_STATES = ("received", "accepted", "info_requested", "assigned")


# ---- errors ----------------------------------------------------------------------------------------------

class Open311Error(Exception):
    """An error answered as the spec's `errors` list, in the requested format, with this HTTP status."""

    def __init__(self, status: int, *descriptions: str, headers: Mapping[str, str] | None = None):
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions or ("Lỗi / Error",)
        self.headers = dict(headers or {})

    def body(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": text} for text in self.descriptions]


def invalid(name: str, why_vi: str, why_en: str) -> str:
    """One error description naming the parameter: Vietnamese first, English second."""
    return f"{name}: {why_vi} / {why_en}"


# ---- services ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attribute:
    code: str
    description: str
    datatype_description: str
    order: int
    datatype: str = "string"
    required: bool = False
    variable: bool = True


@dataclass(frozen=True)
class Service:
    code: str
    category: str
    name: str
    description: str
    keywords: tuple[str, ...]
    group: str = "Phản ánh, kiến nghị"
    type: str = "realtime"
    attributes: tuple[Attribute, ...] = field(default=())


ATTRIBUTES = (
    Attribute("dossier_code", "Mã hồ sơ (dossier code), nếu phản ánh về một hồ sơ đã nộp",
              "Mã trên giấy tiếp nhận hồ sơ và hẹn trả kết quả, ví dụ 000.00.12.H40-261123-0001", 1),
    Attribute("procedure_code", "Mã thủ tục hành chính (procedure code)",
              "Mã thủ tục trên Cổng Dịch vụ công quốc gia, ví dụ 1.001234", 2),
    Attribute("agency_code", "Mã cơ quan được phản ánh (agency code)",
              "Mã định danh điện tử của cơ quan, đơn vị, ví dụ 000.00.12.H40", 3),
)

SERVICES = (
    Service("PAKN-TTHC", "procedure", "Phản ánh, kiến nghị về quy định hành chính, thủ tục hành chính",
            "Phản ánh, kiến nghị về quy định hành chính, thủ tục hành chính: thành phần hồ sơ, thời hạn, phí, "
            "lệ phí, cách thực hiện. / Feedback and recommendations on administrative regulations and procedures.",
            ("thủ tục hành chính", "quy định hành chính", "hồ sơ", "phí", "lệ phí", "thời hạn",
             "administrative procedure", "regulation"), attributes=ATTRIBUTES),
    Service("PAKN-CB", "conduct", "Phản ánh về hành vi, thái độ của cán bộ, công chức",
            "Phản ánh về hành vi, thái độ, tinh thần trách nhiệm của cán bộ, công chức khi giải quyết thủ tục "
            "hành chính (gây phiền hà, nhũng nhiễu, chậm trễ). / Complaints about the conduct and attitude of "
            "civil servants.",
            ("cán bộ", "công chức", "thái độ", "hành vi", "gây phiền hà", "nhũng nhiễu", "civil servant",
             "conduct"), attributes=ATTRIBUTES),
)
BY_CODE = {s.code: s for s in SERVICES}
BY_CATEGORY = {s.category: s for s in SERVICES}


def service_entry(service: Service) -> dict[str, Any]:
    return {"service_code": service.code, "service_name": service.name, "description": service.description,
            "metadata": bool(service.attributes), "type": service.type, "keywords": ", ".join(service.keywords),
            "group": service.group}


def service_list() -> list[dict[str, Any]]:
    return [service_entry(s) for s in SERVICES]


def service_of(code: str) -> Service:
    service = BY_CODE.get(code.strip())
    if service is None:
        raise Open311Error(404, invalid("service_code", f"không có dịch vụ '{code}'", f"no service '{code}'"))
    return service


def service_definition(code: str) -> dict[str, Any]:
    service = service_of(code)
    return {"service_code": service.code,
            "attributes": [{"variable": a.variable, "code": a.code, "datatype": a.datatype, "required": a.required,
                            "datatype_description": a.datatype_description, "order": a.order,
                            "description": a.description} for a in service.attributes]}


# ---- parameters --------------------------------------------------------------------------------------------

def format_of(fmt: str) -> str:
    """`json` or `xml` (any case); anything else is a 400, answered in XML (the spec's required format)."""
    lowered = fmt.lower()
    if lowered not in CONTENT_TYPES:
        raise Open311Error(400, invalid("format", f"định dạng '{fmt}' không được hỗ trợ, dùng .json hoặc .xml",
                                        f"format '{fmt}' is not supported, use .json or .xml"))
    return lowered


def check_jurisdiction(given: str | None, ours: str) -> None:
    """Optional (one jurisdiction per endpoint), but a jurisdiction that is not ours is a 404."""
    if given is None or not given.strip():
        return
    if given.strip().lower().removeprefix("www.") != ours.lower():
        raise Open311Error(404, invalid("jurisdiction_id", f"không có đơn vị '{given.strip()}' (đơn vị: {ours})",
                                        f"jurisdiction '{given.strip()}' not found (this is {ours})"))


def _text(value: str | None) -> str | None:
    """A parameter's text, NFC-normalised (clients may send decomposed Vietnamese); empty means absent."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return value or None


def _joined(values: Iterable[str]) -> list[str]:
    """`a,b` and repeated parameters alike: the non-empty items, in order, once each."""
    items: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item and item not in items:
                items.append(item)
    return items


def parse_datetime(name: str, value: str) -> datetime:
    """A W3C datetime with its offset (`2026-11-01T00:00:00Z`, `…+07:00`); a bare date is local midnight."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=TZ)
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        parsed = None
    if parsed is None or "T" not in text.upper():
        raise Open311Error(400, invalid(name, f"'{text}' không phải thời điểm W3C, ví dụ 2026-11-01T00:00:00+07:00",
                                        f"'{text}' is not a W3C datetime, e.g. 2026-11-01T00:00:00Z"))
    if parsed.tzinfo is None:
        raise Open311Error(400, invalid(name, "thiếu múi giờ (Z hoặc +07:00)",
                                        "the time zone (Z or +07:00) is missing"))
    return parsed


@dataclass(frozen=True)
class Query:
    """GET requests, as the `find` of the feedback handlers takes it."""

    ids: list[str] | None = None
    categories: list[str] | None = None
    states: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = MAX_RESULTS

    def arguments(self) -> dict[str, Any]:
        return {"ids": self.ids, "categories": self.categories, "states": self.states, "start": self.start,
                "end": self.end, "limit": self.limit}


def parse_query(params: Mapping[str, Sequence[str]], now: datetime) -> Query:
    """`service_request_id` (comma list) overrides every other argument; otherwise `service_code`, `status`
    (comma lists) and a `start_date`..`end_date` window of at most 90 days, by default the last 90."""
    ids = _joined(params.get("service_request_id", ()))
    if ids:
        if len(ids) > MAX_RESULTS:
            raise Open311Error(400, invalid("service_request_id", f"tối đa {MAX_RESULTS} mã mỗi lần",
                                            f"at most {MAX_RESULTS} ids at once"))
        return Query(ids=ids)
    errors: list[str] = []
    categories = None
    codes = _joined(params.get("service_code", ()))
    if codes:
        unknown = [c for c in codes if c not in BY_CODE]
        if unknown:
            errors.append(invalid("service_code", f"không có dịch vụ {', '.join(unknown)}",
                                  f"no service {', '.join(unknown)}"))
        categories = [BY_CODE[c].category for c in codes if c in BY_CODE]
    states = None
    statuses = [s.lower() for s in _joined(params.get("status", ()))]
    if statuses:
        wrong = [s for s in statuses if s not in ("open", "closed")]
        if wrong:
            errors.append(invalid("status", f"'{', '.join(wrong)}' không hợp lệ, dùng open hoặc closed",
                                  f"'{', '.join(wrong)}' is not open or closed"))
        elif set(statuses) != {"open", "closed"}:
            states = list(OPEN_STATES if statuses == ["open"] else CLOSED_STATES)
    bounds: dict[str, datetime] = {}
    for name in ("start_date", "end_date"):
        given = _joined(params.get(name, ()))
        if given:
            try:
                bounds[name] = parse_datetime(name, given[-1])
            except Open311Error as error:
                errors.extend(error.descriptions)
    if errors:
        raise Open311Error(400, *errors)
    start, end = bounds.get("start_date"), bounds.get("end_date")
    if start is None and end is None:
        return Query(categories=categories, states=states, start=now - WINDOW)
    if end is None:
        end = start + WINDOW
    elif start is None:
        start = end - WINDOW
    if end < start:
        raise Open311Error(400, invalid("end_date", "phải sau start_date", "must not be before start_date"))
    if end - start > WINDOW:
        raise Open311Error(400, invalid("end_date", "khoảng thời gian không được quá 90 ngày",
                                        "the range may not span more than 90 days"))
    return Query(categories=categories, states=states, start=start, end=end)


# ---- POST requests -----------------------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
# Where a PetitionDraft error comes from, as the client named it.
_FIELD_NAMES = {"category": "service_code", "title": "description", "content": "description",
                "dossier_code": "attribute[dossier_code]", "procedure_code": "attribute[procedure_code]",
                "agency_code": "attribute[agency_code]", "address": "address_string", "lat": "lat", "long": "long",
                "submitter.name": "first_name, last_name", "submitter.phone": "phone", "submitter.email": "email"}


def title_of(description: str, limit: int = TITLE_LENGTH) -> str:
    """The first ~`limit` characters on one line, cut at a word (a very long word is cut where it must)."""
    text = " ".join(description.split())
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    cut = head.rsplit(" ", 1)[0] if " " in head else ""
    if len(cut) < limit // 2:
        cut = text[:limit]
    return cut.rstrip(" ,.;:-–—") + "…"


def submission_of(pairs: Iterable[tuple[str, str]], *, jurisdiction: str) -> PetitionDraft:
    """The form of POST requests (its pairs in order) as a petition draft, or an Open311Error naming the
    fields. `device_id`, `account_id`, `address_id` and `api_key` are accepted and not kept."""
    form: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for key, value in pairs:
        text = _text(value)
        if text is None:
            continue
        match = _ATTRIBUTE.match(key)
        if match:
            attributes.setdefault(match.group(1), text)  # a multi-valued list keeps its first value
        else:
            form.setdefault(key, text)
    check_jurisdiction(form.get("jurisdiction_id"), jurisdiction)
    code = form.get("service_code")
    if code is None:
        raise Open311Error(400, invalid("service_code", "bắt buộc", "required"))
    service = service_of(code)
    errors: list[str] = []
    description = form.get("description")
    if description is None:
        errors.append(invalid("description", "bắt buộc: nội dung phản ánh, kiến nghị",
                              "required: the text of the petition"))
    elif len(" ".join(description.split())) < MIN_DESCRIPTION:
        errors.append(invalid("description", f"cần ít nhất {MIN_DESCRIPTION} ký tự",
                              f"at least {MIN_DESCRIPTION} characters"))
    first, last = form.get("first_name"), form.get("last_name")
    if first is None and last is None:
        errors.append(invalid("first_name, last_name", "bắt buộc: họ tên người gửi để Trung tâm trả lời "
                              "(được giữ bí mật)", "required: the sender's name, so the centre can answer "
                              "(kept confidential)"))
    location: dict[str, Any] = {}
    for name, bound in (("lat", 90.0), ("long", 180.0)):
        raw = form.get(name)
        if raw is None:
            continue
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or abs(number) > bound:
            errors.append(invalid(name, f"'{raw}' không phải số từ -{bound:g} đến {bound:g} (WGS84)",
                                  f"'{raw}' is not a number from -{bound:g} to {bound:g} (WGS84)"))
        else:
            location[name] = number
    if ("lat" in form) != ("long" in form):
        errors.append(invalid("lat, long", "phải gửi cả hai", "both must be sent"))
    media_url = form.get("media_url")
    if media_url is not None:
        parts = urlsplit(media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(media_url) > 2000 or " " in media_url:
            errors.append(invalid("media_url", "không phải địa chỉ http(s)", "not an http(s) URL"))
    if errors:
        raise Open311Error(400, *errors)
    assert description is not None
    content = description if media_url is None else f"{description}\n\nTệp đính kèm (media_url): {media_url}"
    phone = form.get("phone")
    submitter = {"name": " ".join(n for n in (last, first) if n),  # Vietnamese order: family name first
                 "phone": _PHONE_SEPARATORS.sub("", phone) if phone else None, "email": form.get("email")}
    draft = {"category": service.category, "title": title_of(description), "content": content,
             "dossier_code": attributes.get("dossier_code"), "procedure_code": attributes.get("procedure_code"),
             "agency_code": attributes.get("agency_code"), "address": form.get("address_string"),
             **location, "submitter": submitter}
    try:
        return PetitionDraft.model_validate(draft)
    except ValidationError as error:
        raise Open311Error(400, *draft_errors(error)) from None


def draft_errors(error: ValidationError) -> list[str]:
    """PetitionDraft's errors named as the client named the fields (never echoing personal data)."""
    described: list[str] = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in item.get("loc", ()))
        name = _FIELD_NAMES.get(path, path or "request")
        text = invalid(name, "không hợp lệ", item.get("msg", "invalid"))
        if text not in described:
            described.append(text)
    return described


def local(moment: datetime | None) -> str | None:
    """W3C datetime in Asia/Ho_Chi_Minh: `2026-11-23T17:00:00+07:00`."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # stored in UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(TZ).isoformat(timespec="seconds")


def _when(moment: datetime) -> str:
    shown = moment.astimezone(TZ)
    return f"{shown:%H:%M} ngày {shown:%d/%m/%Y}"


def _when_en(moment: datetime) -> str:
    return f"{moment.astimezone(TZ):%H:%M, %d/%m/%Y}"


def submitted(petition: Petition) -> list[dict[str, Any]]:
    """The answer of POST requests: a realtime service, so the id at once, and when to expect the answer."""
    due = petition.deadlines.get("answer")
    if due is None:
        notice = f"Trung tâm đã tiếp nhận phản ánh, kiến nghị mã {petition.id}. / Received as {petition.id}."
    else:
        notice = (f"Trung tâm đã tiếp nhận phản ánh, kiến nghị mã {petition.id}; hạn trả lời: {_when(due)}. "
                  f"/ Received as {petition.id}; the answer is due by {_when_en(due)} (UTC+7).")
    return [{"service_request_id": petition.id, "service_notice": notice}]


# ---- GET requests ------------------------------------------------------------------------------------------

_NOTICES = {
    "received": ("Đã tiếp nhận, Trung tâm đang xem xét để thụ lý.",
                 "Received; the centre is deciding whether to accept it."),
    "accepted": ("Đã thụ lý, đang chuyển cơ quan có thẩm quyền.", "Accepted; being passed to the competent agency."),
    "info_requested": ("Đang chờ người gửi bổ sung thông tin.", "Waiting for more information from the sender."),
    "assigned": ("Cơ quan có thẩm quyền đang xem xét, trả lời.", "The competent agency is preparing the answer."),
    "rejected": ("Không thụ lý (người gửi đã được thông báo lý do).", "Not accepted (the sender was told why)."),
    "answered": ("Đã trả lời người gửi; câu trả lời sẽ được công khai.", "Answered; the answer will be published."),
    "published": ("Đã trả lời và công khai.", "Answered and published."),
}


def status_of(state: str) -> str:
    return "closed" if state in CLOSED_STATES else "open"


def request_entry(petition: Petition) -> dict[str, Any]:
    """One petition as the public sees it, in the spec's element order. Never the submitter; the full text
    only as the centre published it (moderated), otherwise just the title."""
    state = str(petition.state)
    status = status_of(state)
    published = state == "published"
    due = petition.due_at if status == "open" else None
    vi, en = _NOTICES.get(state, ("", ""))
    notice = f"{vi}{f' Hạn xử lý: {_when(due)}.' if due else ''} / {en}" if vi else None
    service = BY_CATEGORY[petition.category]
    return {
        "service_request_id": petition.id,
        "status": status,
        "status_notes": petition.public_answer if published else None,
        "service_name": service.name,
        "service_code": service.code,
        "description": (petition.public_question if published and petition.public_question else petition.title),
        "agency_responsible": petition.agency_code,
        "service_notice": notice,
        "requested_datetime": local(petition.received_at),
        "updated_datetime": local(petition.updated_at),
        "expected_datetime": local(due),
        "address": petition.address,
        "address_id": None,
        "zipcode": None,
        "lat": petition.lat,
        "long": petition.long,
        "media_url": None,
    }


def request_list(petitions: Iterable[Petition]) -> list[dict[str, Any]]:
    return [request_entry(p) for p in petitions]


# ---- rendering ---------------------------------------------------------------------------------------------

# The spec's plural elements and the element of each item.
ITEMS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
         "values": "value"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEMS[element.tag]), item)
    elif value is not None:
        element.text = _scalar(value)


def to_xml(root: str, payload: Any) -> bytes:
    """`<root>` holding a list (as its ITEMS element each) or a mapping; None is an empty element."""
    element = ET.Element(root)
    _fill(element, payload)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode").encode("utf-8")


def to_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render(fmt: str, root: str, payload: Any) -> bytes:
    return to_xml(root, payload) if fmt == "xml" else to_json(payload)
