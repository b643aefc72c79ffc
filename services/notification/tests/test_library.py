"""Notification rules and templates as operator data: the template language, the values each event
offers (formatted from real contract events), the checks before saving, the default catalogue, and the
HTTP API on both store adapters."""

import asyncio
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from contracts import REGISTRY
from contracts import dossier as ev
from contracts import feedback as fb
from contracts import payment as pay
from kit.bus.memory import MemoryBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.testing import as_user, eventually, serving
from notification.api_library import router
from notification.library import Library, StaleVersion, default_catalogue
from notification.placeholders import (
    PLACEHOLDERS,
    SAMPLE_VALUES,
    Links,
    sample_values,
    values_for,
)
from notification.rules import Rule, RuleError, check_rule
from notification.settings import NotificationSettings
from notification.sms.text import segments, unaccent
from notification.templates import (
    ChannelTexts,
    MissingValues,
    TemplateError,
    TemplateVersion,
    check_template,
    placeholders_in,
    render,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LINKS = Links(lookup_url="http://127.0.0.1:8000/tra-cuu?ma={code}",
              payment_url="http://127.0.0.1:8000/thanh-toan?khoan={item}")
CODE = "000.00.21.H49-261123-0007"
PETITION = "PAKN-261123-3F9A0C7B"
ADMIN = as_user("admin1", "admin")
OFFICER = as_user("officer1", "reception_officer")
RECEIVED = "vn.motcua.dossier.received.v1"


# --- real contract events ----------------------------------------------------------------------------

AT = datetime(2026, 11, 23, 2, 15, tzinfo=UTC)  # 09:15 in Hà Nội
DUE = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # 17:00
EXTRAS: dict[str, dict] = {
    "submitted": {"security_code_hash": "0" * 64, "result_channel": "online"},
    "intake_supplement_requested": {"items": [ev.MissingItem(code="CCCD", name="Bản sao CCCD", note="bản chụp mờ"),
                                              ev.MissingItem(name="Tờ khai")]},
    "received": {"security_code_hash": "0" * 64, "received_by": "reception1", "result_channel": "online"},
    "transferred": {"from_agency": None, "to_agency": "000.00.21.H49", "step_due_at": None},
    "appraised": {"proposal": "approve"},
    "fees_requested": {"item_id": f"{CODE}/fees-5", "amount": 50_000, "description": "Lệ phí đăng ký"},
    "supplement_requested": {"items": [ev.MissingItem(name="Sơ đồ thửa đất")],
                             "respond_by": datetime(2026, 12, 14, 10, 0, tzinfo=UTC)},
    "extended": {"previous_due_at": datetime(2026, 11, 20, 10, 0, tzinfo=UTC)},
    "resolved": {"result_number": "1234/QĐ-UBND", "classification": "on_time"},
    "returned": {"method": "post"},
    "overdue": {"due_on": date(2026, 11, 24)},
    "stalled": {"idle_since": datetime(2026, 11, 20, 2, 40, tzinfo=UTC)},
}
PAYMENT_EXTRAS: dict[str, dict] = {
    "succeeded": {"paid_at": datetime(2026, 11, 27, 3, 5, tzinfo=UTC), "provider_transaction": "14123456"},
    "failed": {"status": "failed", "reason": "Thẻ hết hạn"},
    "refunded": {"refunded": 50_000, "refunded_total": 50_000, "full": True},
    "unsettled": {"started_at": AT},
}
FEEDBACK_EXTRAS: dict[str, dict] = {
    "rejected": {"reason": "Nội dung không thuộc phạm vi tiếp nhận"},
    "information_requested": {"request": "Cho biết ngày đến nộp hồ sơ"},
    "answered": {"answered_at": AT},
}
CONTACT = ev.ApplicantContact(name="Nguyễn Văn An", phone="0912345678", email="an@example.vn")


def event(event_type: str, **overrides):
    """An event of `event_type` with every field filled, as the dossier and payment services publish it."""
    model = REGISTRY[event_type]
    name = event_type.split(".")[3]
    if issubclass(model, ev.DossierChange):
        fields = dict(code=CODE, sequence=3, state="x", status_code=None, procedure_code="1.000894",
                      procedure_name="Đăng ký kết hôn", agency_code="000.00.21.H49", current_agency="000.00.21.H49",
                      channel="online", occurred_at=AT, reason="Thiếu chữ ký trên tờ khai", received_at=AT,
                      due_at=DUE, applicant=ev.ApplicantContact(name="Nguyễn Văn An", phone="0912345678",
                                                                email="an@example.vn"), **EXTRAS.get(name, {}))
    elif issubclass(model, fb.PetitionChange):
        fields = dict(petition_id=PETITION, state="x", category="procedure", agency_code="000.00.21.H49",
                      occurred_at=AT, submitter=CONTACT, **FEEDBACK_EXTRAS.get(name, {}))
    elif model is fb.RatingInvited:
        fields = dict(dossier_code=CODE, agency_code="000.00.21.H49", procedure_name="Đăng ký kết hôn",
                      applicant=CONTACT, rate_url="http://127.0.0.1:8000/danh-gia?t=abc.def", occurred_at=AT)
    else:
        fields = dict(payment_id="pay-1", dossier_code=CODE, item_id=f"{CODE}/fees-5", amount=50_000, method="vnpay",
                      occurred_at=AT, **PAYMENT_EXTRAS.get(name, {}))
    return model(**{**fields, **overrides})


def values(event_type: str, lang="vi", **overrides):
    return values_for(event(event_type, **overrides), lang=lang, tz=TZ, links=LINKS)


# --- the template language ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "named"), [
    ("Hồ sơ {code.upper}", "{code.upper}"),
    ("Hồ sơ {items[0]}", "{items[0]}"),
    ("Hồ sơ {code!r}", "!r"),
    ("Số tiền {amount:>10}", ":>10"),
    ("Hồ sơ {} đã nhận", "{}"),
    ("Hồ sơ {code đã nhận", "'{' opened and never closed"),
    ("Hồ sơ code} đã nhận", "a single '}'"),
    ("Hồ sơ { code }", "{ code }"),
    ("Hồ sơ {0}", "{0}"),
])
def test_anything_but_plain_names_and_doubled_braces_is_refused_naming_the_bad_piece(text, named):
    with pytest.raises(TemplateError) as refused:
        placeholders_in(text)
    assert refused.value.kind == "template-syntax"
    assert named in str(refused.value)


def test_doubled_braces_are_literal_and_names_are_found_in_every_text():
    texts = {lang: ChannelTexts(subject="{{Mẫu}} {code}", body="{procedure} {{x}}", sms="{code} {due_date}")
             for lang in ("vi", "en")}
    assert placeholders_in(texts) == {"code", "procedure", "due_date"}
    template = TemplateVersion(key="test.braces", version=1, texts=texts, created_by="a", created_at=AT)
    assert render(template, "vi", {"code": CODE, "procedure": "P", "due_date": "D"}).subject == f"{{Mẫu}} {CODE}"


def test_a_template_needs_both_languages_and_no_blank_text():
    with pytest.raises(ValueError, match="missing: en"):
        TemplateVersion(key="test.one", version=1, created_by="a", created_at=AT,
                        texts={"vi": ChannelTexts(subject="s", body="b", sms="m")})
    with pytest.raises(ValueError, match="blank"):
        ChannelTexts(subject="s", body="   ", sms="m")
    with pytest.raises(ValueError, match="one line"):
        ChannelTexts(subject="Hồ sơ\n{code}", body="b", sms="m")


def _template(subject="Hồ sơ {code}", body="Hẹn trả: {due_date}. {reason}", sms="{code}") -> TemplateVersion:
    texts = {lang: ChannelTexts(subject=subject, body=body, sms=sms) for lang in ("vi", "en")}
    return TemplateVersion(key="test.t", version=3, texts=texts, created_by="a", created_at=AT)


def test_rendering_names_every_value_the_event_did_not_carry_and_never_renders_a_blank():
    with pytest.raises(MissingValues) as missing:
        render(_template(), "vi", {"code": CODE, "due_date": None})
    assert missing.value.names == ["due_date", "reason"]
    assert "test.t@3" in str(missing.value)
    with pytest.raises(MissingValues) as blank:
        render(_template(), "vi", {"code": CODE, "due_date": "17:00 ngày 24/11/2026", "reason": " "})
    assert blank.value.names == ["reason"]


def test_a_received_dossier_without_appointment_cannot_be_announced_with_one():
    data = values(RECEIVED, due_at=None)
    assert data["due_date"] is None  # never "" and never "chưa xác định"
    with pytest.raises(MissingValues, match="due_date"):
        render(_template(body="Hẹn trả: {due_date}"), "vi", data)


# --- the values of each event ------------------------------------------------------------------------

def test_dates_times_and_links_are_written_for_vietnamese_and_english_readers():
    vi, en = values(RECEIVED, "vi"), values(RECEIVED, "en")
    assert vi["received_at"] == "09:15 ngày 23/11/2026" and vi["due_date"] == "17:00 ngày 24/11/2026"
    assert en["received_at"] == "09:15 on 23/11/2026" and en["due_date"] == "17:00 on 24/11/2026"
    assert vi["lookup_link"] == f"http://127.0.0.1:8000/tra-cuu?ma={CODE}"
    assert vi["applicant_name"] == "Nguyễn Văn An" and vi["procedure"] == "Đăng ký kết hôn"
    assert "reason" not in vi  # a receipt has no reason: a template for it may not ask for one


def test_fees_are_written_with_the_thousands_separator_of_each_language_and_a_payment_link():
    vi, en = values("vn.motcua.dossier.fees_requested.v1", "vi"), values("vn.motcua.dossier.fees_requested.v1", "en")
    assert vi["amount"] == "50.000 đồng" and en["amount"] == "50,000 VND"
    assert vi["fee_description"] == "Lệ phí đăng ký"
    assert vi["payment_link"] == f"http://127.0.0.1:8000/thanh-toan?khoan={CODE}%2Ffees-5"


def test_missing_items_read_as_a_list_and_the_reply_deadline_is_local():
    assert values("vn.motcua.dossier.intake_supplement_requested.v1")["missing_items"] == \
        "Bản sao CCCD (bản chụp mờ); Tờ khai"
    later = values("vn.motcua.dossier.supplement_requested.v1", "en")
    assert later["missing_items"] == "Sơ đồ thửa đất" and later["respond_by"] == "17:00 on 14/12/2026"


def test_methods_are_translated_and_officer_values_are_local():
    assert values("vn.motcua.dossier.returned.v1", "vi")["return_method"] == "qua dịch vụ bưu chính công ích"
    assert values("vn.motcua.dossier.returned.v1", "en")["return_method"] == "by public postal service"
    assert values("vn.motcua.dossier.returned.v1", method="courier")["return_method"] == "courier"  # unknown: as is
    assert values("vn.motcua.dossier.extended.v1")["previous_due_date"] == "17:00 ngày 20/11/2026"
    assert values("vn.motcua.dossier.overdue.v1")["due_on"] == "24/11/2026"
    assert values("vn.motcua.dossier.stalled.v1", "en")["idle_since"] == "09:40 on 20/11/2026"


def test_payment_events_speak_of_the_dossier_they_pay_for():
    paid = values("vn.motcua.payment.succeeded.v1", "vi")
    assert paid == {"code": CODE, "amount": "50.000 đồng", "method": "Cổng thanh toán VNPAY",
                    "occurred_at": "09:15 ngày 23/11/2026", "lookup_link": f"http://127.0.0.1:8000/tra-cuu?ma={CODE}",
                    "paid_at": "10:05 ngày 27/11/2026"}
    assert values("vn.motcua.payment.refunded.v1", "en")["refunded"] == "50,000 VND"
    assert values("vn.motcua.payment.failed.v1", reason="")["reason"] is None


def test_the_rating_invitation_and_petition_events_speak_to_whom_they_name():
    invited = values("vn.motcua.rating.invited.v1", "vi")
    assert invited == {"code": CODE, "procedure": "Đăng ký kết hôn", "applicant_name": "Nguyễn Văn An",
                       "agency": "000.00.21.H49", "rate_link": "http://127.0.0.1:8000/danh-gia?t=abc.def"}
    assert values_for(event("vn.motcua.rating.invited.v1"), lang="vi", tz=TZ, links=LINKS,
                      agency_names={"000.00.21.H49": "Sở Tư pháp"})["agency"] == "Sở Tư pháp"
    answered = values("vn.motcua.feedback.answered.v1", "en")
    assert answered == {"petition_id": PETITION, "applicant_name": "Nguyễn Văn An",
                        "occurred_at": "09:15 on 23/11/2026",
                        "petition_link": f"http://127.0.0.1:8000/phan-anh-kien-nghi?ma={PETITION}"}
    assert values("vn.motcua.feedback.answered.v1", submitter=None)["applicant_name"] is None
    assert values("vn.motcua.feedback.rejected.v1")["reason"] == "Nội dung không thuộc phạm vi tiếp nhận"
    assert values("vn.motcua.feedback.information_requested.v1")["request"] == "Cho biết ngày đến nộp hồ sơ"


TOLD_BY_FEEDBACK = {fb.RatingInvited.event_type, fb.FeedbackAnswered.event_type, fb.FeedbackRejected.event_type,
                    fb.FeedbackInformationRequested.event_type}


def test_every_dossier_change_and_the_citizen_payment_events_have_placeholders():
    dossier_types = {m.event_type for m in REGISTRY.values() if issubclass(m, ev.DossierChange)}
    wanted = dossier_types | {pay.PaymentSucceeded.event_type, pay.PaymentFailed.event_type,
                              pay.PaymentRefunded.event_type} | TOLD_BY_FEEDBACK
    assert wanted <= set(PLACEHOLDERS) <= set(REGISTRY)


@pytest.mark.parametrize("event_type", sorted(PLACEHOLDERS))
def test_every_placeholder_listed_is_filled_from_a_full_event_and_has_a_sample(event_type):
    data = values(event_type)
    assert set(data) == set(PLACEHOLDERS[event_type])
    assert all(isinstance(v, str) and v.strip() for v in data.values()), data
    assert set(PLACEHOLDERS[event_type]) <= set(SAMPLE_VALUES) == set(sample_values("en"))


# --- checks before saving ----------------------------------------------------------------------------

def _texts(sms: str, body: str = "Hồ sơ {code}") -> dict:
    return {lang: ChannelTexts(subject="Hồ sơ {code}", body=body, sms=sms) for lang in ("vi", "en")}


def test_an_sms_too_long_accented_is_accepted_when_it_fits_unaccented():
    sms = "Hồ sơ {code} đã được tiếp nhận lúc {received_at}. Hẹn trả kết quả: {due_date}. Tra cứu: {lookup_link}"
    lengths = check_template(_texts(sms), allowed=None, sms_max_parts=2)
    vi = lengths["vi"]
    assert (vi.accented.encoding, vi.unaccented.encoding) == ("UCS-2", "GSM-7")
    assert vi.accented.parts == 3 and vi.unaccented.parts == 2
    assert vi.sample.startswith(f"Hồ sơ {CODE} đã được tiếp nhận lúc 08:15 ngày 23/11/2026")
    assert lengths["en"].sample.startswith(f"Hồ sơ {CODE} đã được tiếp nhận lúc 08:15 on 23/11/2026")


def test_an_sms_too_long_in_both_encodings_is_refused_with_its_parts():
    sms = "Hồ sơ {code} ({procedure}) cần bổ sung: {missing_items}. Lý do: {reason}. Tra cứu: {lookup_link}"
    with pytest.raises(TemplateError) as refused:
        check_template(_texts(sms), allowed=None, sms_max_parts=2)
    problem = refused.value.problems[0]
    assert problem.kind == "sms-too-long" and problem.where == "vi.sms"
    assert problem.details["unaccented_parts"] == 3 and problem.details["accented_parts"] > 3
    check_template(_texts(sms), allowed=None, sms_max_parts=3)  # an operator may allow three parts


def test_placeholders_outside_those_allowed_are_refused_naming_them_and_the_allowed_ones():
    with pytest.raises(TemplateError) as refused:
        check_template(_texts("{code}", body="Lý do: {reason} {nonexistent}"), allowed=set(PLACEHOLDERS[RECEIVED]),
                       sms_max_parts=2)
    problem = refused.value.problems[0]
    assert problem.kind == "unknown-placeholder" and problem.where == "vi.body"
    assert problem.details["placeholders"] == ["nonexistent", "reason"]
    assert "due_date" in problem.details["allowed"]
    with pytest.raises(TemplateError, match="nonexistent"):
        check_template(_texts("{code}", body="{nonexistent}"), allowed=None, sms_max_parts=2)


def test_a_rule_needs_a_known_event_an_existing_template_and_values_its_event_carries():
    with pytest.raises(RuleError) as unknown:
        check_rule("vn.motcua.nothing.v1", "dossier.received", _template())
    assert unknown.value.kind == "unknown-event-type" and RECEIVED in unknown.value.details["known"]
    with pytest.raises(RuleError) as missing:
        check_rule(RECEIVED, "nope", None)
    assert missing.value.kind == "unknown-template"
    with pytest.raises(RuleError) as lacking:
        check_rule(RECEIVED, "test.t", _template())  # {reason}: a receipt has none
    assert lacking.value.kind == "unknown-placeholder" and lacking.value.details["placeholders"] == ["reason"]
    check_rule("vn.motcua.dossier.refused.v1", "test.t", _template())


@pytest.mark.parametrize(("channels", "audience", "error"), [
    ([], "applicant", "at least 1"),
    (["sms", "sms"], "applicant", "listed twice"),
    (["in_app", "email"], "agency", "in-app inbox only"),
    (["fax"], "applicant", "in_app"),
])
def test_a_rule_sends_on_distinct_channels_and_an_agency_only_in_app(channels, audience, error):
    with pytest.raises(ValueError, match=error):
        Rule(event_type=RECEIVED, template="dossier.received", channels=channels, audience=audience, version=1,
             changed_by="a", changed_at=AT)


# --- the default catalogue ---------------------------------------------------------------------------

DEFAULTS = default_catalogue()
DEFAULT_TEMPLATES = {t["key"]: TemplateVersion(key=t["key"], version=1, texts=t["texts"], note=t["note"],
                                               created_by="system", created_at=AT) for t in DEFAULTS["templates"]}
DEFAULT_RULES = {r["event_type"]: r for r in DEFAULTS["rules"]}


def test_the_defaults_tell_citizens_every_step_and_leaders_what_is_late():
    citizen = {f"vn.motcua.dossier.{n}.v1" for n in (
        "submitted", "intake_supplement_requested", "refused_at_intake", "received", "supplement_requested",
        "supplement_provided", "fees_requested", "extended", "refused", "stopped", "resolved", "returned")}
    citizen.add("vn.motcua.payment.succeeded.v1")
    citizen |= TOLD_BY_FEEDBACK
    officers = {"vn.motcua.dossier.overdue.v1", "vn.motcua.dossier.stalled.v1"}
    assert citizen | officers <= set(DEFAULT_RULES)
    for event_type, rule in DEFAULT_RULES.items():
        if event_type in officers:
            assert (rule["audience"], rule["channels"]) == ("agency", ["in_app"])
        else:
            assert (rule["audience"], rule["channels"]) == ("applicant", ["in_app", "email", "sms"])


@pytest.mark.parametrize("key", sorted(DEFAULT_TEMPLATES))
def test_every_default_template_is_valid_and_its_sms_fits_two_parts_unaccented(key):
    template = DEFAULT_TEMPLATES[key]
    lengths = check_template(template.texts, allowed=None, sms_max_parts=2)
    assert all(length.unaccented.parts <= 2 and length.unaccented.encoding == "GSM-7" for length in lengths.values())
    for lang, texts in template.texts.items():  # measured independently of check_template
        assert segments(unaccent(texts.sms.format(**sample_values(lang)))).parts <= 2


@pytest.mark.parametrize("event_type", sorted(DEFAULT_RULES))
def test_every_default_rule_renders_from_its_event_in_both_languages(event_type):
    rule = DEFAULT_RULES[event_type]
    template = DEFAULT_TEMPLATES[rule["template"]]
    check_rule(event_type, rule["template"], template)
    # Only what the event must carry: an optional reason or result number is absent here.
    optional = {} if event_type.split(".")[3] in {"intake_supplement_requested", "refused_at_intake", "refused",
                                                  "extended", "supplement_requested"} else {"reason": None}
    optional |= {"result_number": None} if event_type.endswith("resolved.v1") else {}
    if not event_type.startswith("vn.motcua.dossier"):
        optional = {}
    named = PETITION if event_type.startswith("vn.motcua.feedback") else CODE
    for lang in ("vi", "en"):
        rendered = render(template, lang, values(event_type, lang, **optional))
        assert named in rendered.subject and named in rendered.sms and named in rendered.body


def test_the_default_receipt_keeps_the_wording_citizens_know():
    rendered = render(DEFAULT_TEMPLATES["dossier.received"], "vi", values(RECEIVED))
    assert rendered.subject == f"Hồ sơ {CODE} đã được tiếp nhận"
    assert f"Hồ sơ {CODE} (Đăng ký kết hôn) đã được tiếp nhận lúc 09:15 ngày 23/11/2026. " \
           "Hẹn trả kết quả: 17:00 ngày 24/11/2026." in rendered.body
    assert rendered.body.startswith("Kính gửi ông/bà Nguyễn Văn An,")


# --- the store-backed library ------------------------------------------------------------------------

async def test_two_replicas_starting_together_seed_the_defaults_once(store):
    await asyncio.gather(*(Library(store, sms_max_parts=2).start() for _ in range(2)))
    await Library(store, sms_max_parts=2).start()  # and a restart adds nothing
    assert await store.collection("templates").count() == len(DEFAULT_TEMPLATES)
    assert await store.collection("rules").count() == len(DEFAULT_RULES)


async def test_a_change_saved_on_one_replica_is_seen_by_another_within_its_cache_time(store):
    one, other = Library(store, sms_max_parts=2), Library(store, sms_max_parts=2, cache_seconds=0.2)
    await one.start()
    await other.start()
    assert (await other.template("dossier.received")).version == 1
    assert (await other.rule_for(RECEIVED)).enabled
    texts = DEFAULT_TEMPLATES["dossier.received"].texts
    saved = await one.save_template("dossier.received", texts, "wording", "admin1", based_on=1)
    await one.save_rule(RECEIVED, "dossier.received", ["in_app"], "applicant", False, "admin1")
    assert saved.version == 2 and (await one.template("dossier.received")).version == 2  # at once where saved
    await eventually(lambda: _seen(other), timeout=5)


async def _seen(library: Library) -> bool:
    return (await library.template("dossier.received")).version == 2 and not (await library.rule_for(RECEIVED)).enabled


# --- the HTTP API ------------------------------------------------------------------------------------

@pytest.fixture
async def api(store):
    runtime = Runtime(NotificationSettings(), bus=MemoryBus(), store=store)
    library = Library(store, sms_max_parts=2)
    app = create_service_app(runtime, title="notification rules and templates (test)",
                             description="The rules and templates API alone.", routers=[router],
                             on_startup=library.start)
    app.state.library = library
    async with serving(app) as client:
        yield client
    await runtime.bus.stop()


def _body(texts: dict[str, dict[str, str]] | None = None, **extra) -> dict:
    default = {"subject": "Hồ sơ {code} đã được tiếp nhận", "body": "Hẹn trả kết quả: {due_date}.",
               "sms": "Hồ sơ {code}: hẹn trả {due_date}."}
    return {"texts": texts or {"vi": default, "en": default}, **extra}


async def test_the_defaults_are_seeded_and_officers_may_read_them(api):
    rules = (await api.get("/notifications/rules", headers=OFFICER)).json()["items"]
    assert {r["event_type"] for r in rules} == set(DEFAULT_RULES)
    rule = (await api.get(f"/notifications/rules/{RECEIVED}", headers=as_user("l1", "leader"))).json()
    assert rule["template"] == "dossier.received" and rule["version"] == 1 and rule["changed_by"] == "system:defaults"
    template = (await api.get("/notifications/templates/dossier.received", headers=OFFICER)).json()
    assert template["current"]["version"] == 1 and template["used_by"] == [RECEIVED]
    listed = (await api.get("/notifications/templates", headers=OFFICER)).json()["items"]
    assert {t["key"] for t in listed} == set(DEFAULT_TEMPLATES)
    catalogue = (await api.get("/notifications/placeholders", headers=OFFICER)).json()["items"]
    received = next(e for e in catalogue if e["event_type"] == RECEIVED)
    due = next(p for p in received["placeholders"] if p["name"] == "due_date")
    assert due["sample_vi"] == "17:00 ngày 30/11/2026" and due["sample_en"] == "17:00 on 30/11/2026"
    assert "reason" not in {p["name"] for p in received["placeholders"]}


async def test_an_operator_saves_a_new_version_and_the_old_one_stays_readable(api):
    r = await api.put("/notifications/templates/dossier.received", headers=ADMIN,
                      json=_body(note="ngắn gọn hơn", based_on_version=1))
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == 2 and saved["created_by"] == "admin1" and saved["note"] == "ngắn gọn hơn"
    assert saved["sms"]["vi"]["sample"] == f"Hồ sơ {CODE}: hẹn trả 17:00 ngày 30/11/2026."
    assert saved["sms"]["vi"]["accented"] == {"encoding": "UCS-2", "parts": 1, "length": 63}
    assert saved["sms"]["vi"]["unaccented"]["encoding"] == "GSM-7"
    detail = (await api.get("/notifications/templates/dossier.received", headers=ADMIN)).json()
    assert detail["current"]["version"] == 2 and [v["version"] for v in detail["versions"]] == [1, 2]
    first = (await api.get("/notifications/templates/dossier.received/versions/1", headers=ADMIN)).json()
    assert first["texts"]["vi"]["subject"] == "Hồ sơ {code} đã được tiếp nhận"
    assert first["created_by"] == "system:defaults"
    assert "Kính gửi" in first["texts"]["vi"]["body"]


async def test_a_new_template_is_created_with_201(api):
    r = await api.put("/notifications/templates/custom.notice", headers=ADMIN, json=_body())
    assert r.status_code == 201 and r.json()["version"] == 1


async def test_a_template_asking_for_a_reason_its_rules_event_lacks_is_refused_naming_it(api):
    texts = {lang: {"subject": "Hồ sơ {code}", "body": "Lý do: {reason}", "sms": "{code}"} for lang in ("vi", "en")}
    r = await api.put("/notifications/templates/dossier.received", headers=ADMIN, json=_body(texts))
    assert r.status_code == 422
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert problem["type"] == "/problems/unknown-placeholder"
    assert problem["placeholders"] == ["reason"] and problem["rule"] == RECEIVED and "due_date" in problem["allowed"]
    assert "{reason}" in problem["detail"] and RECEIVED in problem["detail"]
    assert (await api.get("/notifications/templates/dossier.received", headers=ADMIN)).json()["current"]["version"] == 1


async def test_unknown_placeholders_bad_syntax_and_long_sms_are_refused_with_their_own_types(api):
    nonexistent = {lang: {"subject": "{nonexistent}", "body": "b", "sms": "s"} for lang in ("vi", "en")}
    r = await api.put("/notifications/templates/custom.notice", headers=ADMIN, json=_body(nonexistent))
    assert (r.status_code, r.json()["type"], r.json()["placeholders"]) == (422, "/problems/unknown-placeholder",
                                                                          ["nonexistent"])
    broken = {lang: {"subject": "Hồ sơ {code", "body": "b", "sms": "s"} for lang in ("vi", "en")}
    r = await api.put("/notifications/templates/custom.notice", headers=ADMIN, json=_body(broken))
    assert (r.status_code, r.json()["type"]) == (422, "/problems/template-syntax")
    assert r.json()["errors"][0]["where"] == "vi.subject"
    long = {lang: {"subject": "s", "body": "b", "sms": "Hồ sơ {procedure}: {missing_items}. " * 3}
            for lang in ("vi", "en")}
    r = await api.put("/notifications/templates/custom.notice", headers=ADMIN, json=_body(long))
    assert (r.status_code, r.json()["type"], r.json()["max_parts"]) == (422, "/problems/sms-too-long", 2)
    assert r.json()["unaccented_parts"] > 2
    r = await api.put("/notifications/templates/custom.notice", headers=ADMIN, json=_body(colour="red"))
    assert (r.status_code, r.json()["type"]) == (422, "/problems/validation-error")
    r = await api.put("/notifications/templates/Bad%20Key", headers=ADMIN, json=_body())
    assert r.status_code == 422
    assert (await api.get("/notifications/templates/custom.notice", headers=ADMIN)).status_code == 404


async def test_a_stale_version_is_a_conflict(api):
    assert (await api.put("/notifications/templates/dossier.received", headers=ADMIN,
                          json=_body(based_on_version=1))).status_code == 200
    r = await api.put("/notifications/templates/dossier.received", headers=ADMIN, json=_body(based_on_version=1))
    assert (r.status_code, r.json()["type"], r.json()["current_version"]) == (
        409, "/problems/stale-template-version", 2)


async def test_rules_are_checked_against_their_event_and_template(api):
    rule = {"template": "dossier.received", "channels": ["in_app", "email"], "audience": "applicant"}
    r = await api.put("/notifications/rules/vn.motcua.nothing.v1", headers=ADMIN, json=rule)
    assert (r.status_code, r.json()["type"]) == (422, "/problems/unknown-event-type")
    assert RECEIVED in r.json()["known"]
    r = await api.put(f"/notifications/rules/{RECEIVED}", headers=ADMIN, json={**rule, "template": "dossier.refused"})
    assert (r.status_code, r.json()["type"], r.json()["placeholders"]) == (422, "/problems/unknown-placeholder",
                                                                          ["reason"])
    r = await api.put(f"/notifications/rules/{RECEIVED}", headers=ADMIN, json={**rule, "template": "no.such"})
    assert (r.status_code, r.json()["type"]) == (422, "/problems/unknown-template")
    r = await api.put(f"/notifications/rules/{RECEIVED}", headers=ADMIN, json={**rule, "audience": "agency"})
    assert (r.status_code, r.json()["type"]) == (422, "/problems/validation-error")

    r = await api.put(f"/notifications/rules/{RECEIVED}", headers=ADMIN, json={**rule, "enabled": False})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["channels"] == ["in_app", "email"]
    assert (await api.get(f"/notifications/rules/{RECEIVED}", headers=ADMIN)).json()["enabled"] is False
    assigned = "vn.motcua.dossier.assigned.v1"
    r = await api.put(f"/notifications/rules/{assigned}", headers=ADMIN, json=rule)
    assert r.status_code == 201 and r.json()["version"] == 1
    assert (await api.get("/notifications/rules/vn.motcua.nothing.v1", headers=ADMIN)).status_code == 404


async def test_only_admins_change_rules_and_templates(api):
    r = await api.put("/notifications/templates/dossier.received", headers=OFFICER, json=_body())
    assert (r.status_code, r.json()["type"]) == (403, "/problems/forbidden-role")
    rule = {"template": "dossier.received", "channels": ["in_app"]}
    assert (await api.put(f"/notifications/rules/{RECEIVED}", headers=as_user("l1", "leader"),
                          json=rule)).status_code == 403
    assert (await api.get("/notifications/rules", headers=as_user("c1", "citizen"))).status_code == 403
    assert (await api.get("/notifications/templates")).status_code == 401


async def test_a_preview_renders_the_template_with_sample_values_of_the_event(api):
    r = await api.post("/notifications/templates/dossier.received/preview", headers=ADMIN,
                       json={"event_type": RECEIVED, "lang": "vi"})
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["subject"] == f"Hồ sơ {CODE} đã được tiếp nhận"
    assert "đã được tiếp nhận lúc 08:15 ngày 23/11/2026. Hẹn trả kết quả: 17:00 ngày 30/11/2026." in preview["body"]
    assert preview["body"].startswith("Kính gửi ông/bà Nguyễn Thị Thanh Hương,")
    assert preview["sms_length"]["unaccented"]["parts"] <= 2
    en = (await api.post("/notifications/templates/dossier.received/preview", headers=ADMIN,
                         json={"event_type": RECEIVED, "lang": "en"})).json()
    assert "Your result is due by 17:00 on 30/11/2026." in en["body"]
    r = await api.post("/notifications/templates/dossier.refused/preview", headers=ADMIN,
                       json={"event_type": RECEIVED})
    assert (r.status_code, r.json()["placeholders"]) == (422, ["reason"])
    r = await api.post("/notifications/templates/dossier.received/preview", headers=ADMIN,
                       json={"event_type": "vn.motcua.nothing.v1"})
    assert (r.status_code, r.json()["type"]) == (422, "/problems/unknown-event-type")
    r = await api.post("/notifications/templates/nothing.here/preview", headers=ADMIN, json={"event_type": RECEIVED})
    assert r.status_code == 404


async def test_two_editors_saving_at_once_make_one_version_and_one_conflict(store):
    library = Library(store, sms_max_parts=2)
    await library.start()
    texts = DEFAULT_TEMPLATES["dossier.received"].texts
    results = await asyncio.gather(*(library.save_template("dossier.received", texts, "", f"admin{i}", based_on=None)
                                     for i in range(2)), return_exceptions=True)
    saved = [r for r in results if isinstance(r, TemplateVersion)]
    assert len(saved) == 1 and saved[0].version == 2
    assert [type(r) for r in results if not isinstance(r, TemplateVersion)] == [StaleVersion]
    assert [t.version for t in await library.template_versions("dossier.received")] == [1, 2]
