"""Open311 GeoReport v2 over petitions: the mapping and the spec's XML/JSON shapes (pure), then the routes
as an Open311 client uses them (form-encoded POST, `.json` and `.xml`), never showing the submitter."""

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from kit.bus.memory import MemoryBus
from kit.calendar import BusinessCalendar
from kit.testing import as_user, serving

from feedback import open311
from feedback.app import create_app
from feedback.open311 import Open311Error
from feedback.petitions import Actor, Limits, PetitionDraft, act, receive
from feedback.settings import FeedbackSettings

SPEC_SERVICE = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
SPEC_ATTRIBUTE = ["variable", "code", "datatype", "required", "datatype_description", "order", "description"]
SPEC_REQUEST = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
                "address", "address_id", "zipcode", "lat", "long", "media_url"]
NAME, PHONE, EMAIL = "Trần Văn Bảo", "0987654321", "bao.tran@example.vn"
CONTENT = ("Cán bộ tiếp nhận hồ sơ đăng ký kinh doanh yêu cầu nộp thêm giấy tờ không có trong danh mục thành phần "
           "hồ sơ đã công bố, và hẹn lại ba lần mà không giải thích lý do.")
FORM = {"service_code": "PAKN-CB", "description": CONTENT, "first_name": "Văn Bảo", "last_name": "Trần",
        "phone": "0987 654 321", "email": EMAIL, "address_string": "Trung tâm Phục vụ hành chính công tỉnh, Hạ Long",
        "lat": "20.9517", "long": "107.0806", "device_id": "tt222111", "account_id": "123456",
        "attribute[dossier_code]": "000.00.12.H40-261120-0007", "attribute[procedure_code]": "1.001612",
        "jurisdiction_id": "quangninh.gov.vn", "api_key": "xyz"}
CENTRE = Actor(subject="officer-1", roles=frozenset({"feedback_officer"}))
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 09:00 in Hạ Long


def xml_of(body: bytes) -> ET.Element:
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(body)


def children(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def draft(**changes) -> PetitionDraft:
    return open311.submission_of({**FORM, **changes}.items(), jurisdiction="quangninh.gov.vn")


def petition(**changes):
    received, _ = receive("PAKN-261123-0A1B2C3D", draft(**changes), channel="open311", received_at=NOW, now=NOW,
                          owner=None, recorded_by=None, calendar=BusinessCalendar(), limits=Limits())
    return received


def moved(p, *actions):
    for action, given in actions:
        p, _ = act(p, action, CENTRE, now=NOW + timedelta(days=1), calendar=BusinessCalendar(), limits=Limits(),
                   **given)
    return p


def errors_of(excinfo) -> str:
    return " | ".join(excinfo.value.descriptions)


# ---- services ----------------------------------------------------------------------------------------------

def test_the_services_are_the_two_petition_categories_in_the_spec_shape():
    listed = open311.service_list()
    assert [s["service_code"] for s in listed] == ["PAKN-TTHC", "PAKN-CB"]
    assert listed[0]["service_name"] == "Phản ánh, kiến nghị về quy định hành chính, thủ tục hành chính"
    assert listed[1]["service_name"] == "Phản ánh về hành vi, thái độ của cán bộ, công chức"
    assert all(s["metadata"] is True and s["type"] == "realtime" and s["group"] == "Phản ánh, kiến nghị"
               for s in listed)
    assert all(isinstance(s["keywords"], str) and ", " in s["keywords"] for s in listed)  # comma separated
    root = xml_of(open311.render("xml", "services", listed))
    assert root.tag == "services" and children(root) == ["service", "service"]
    assert all(children(service) == SPEC_SERVICE for service in root)
    assert root[0].findtext("metadata") == "true" and root[1].findtext("service_code") == "PAKN-CB"
    assert json.loads(open311.render("json", "services", listed)) == listed


def test_a_service_definition_declares_the_three_optional_string_attributes():
    definition = open311.service_definition("PAKN-TTHC")
    root = xml_of(open311.render("xml", "service_definition", definition))
    assert root.tag == "service_definition" and children(root) == ["service_code", "attributes"]
    assert root.findtext("service_code") == "PAKN-TTHC"
    attributes = root.find("attributes")
    assert children(attributes) == ["attribute"] * 3
    assert all(children(a) == SPEC_ATTRIBUTE for a in attributes)
    assert [a.findtext("code") for a in attributes] == ["dossier_code", "procedure_code", "agency_code"]
    assert [a.findtext("order") for a in attributes] == ["1", "2", "3"]
    assert {(a.findtext("variable"), a.findtext("datatype"), a.findtext("required")) for a in attributes} == {
        ("true", "string", "false")}
    assert "Mã hồ sơ" in attributes[0].findtext("description")
    as_json = json.loads(open311.render("json", "service_definition", definition))
    assert as_json["service_code"] == "PAKN-TTHC" and as_json["attributes"][0]["required"] is False
    assert as_json["attributes"][2]["order"] == 3
    with pytest.raises(Open311Error) as unknown:
        open311.service_definition("PAKN-XX")
    assert unknown.value.status == 404 and "service_code" in errors_of(unknown)


# ---- POST requests: the form as a petition draft -----------------------------------------------------------

def test_an_open311_form_becomes_a_petition_draft():
    d = draft()
    assert d.category == "conduct" and d.content == CONTENT
    assert d.submitter.name == NAME  # Vietnamese order: family name first
    assert d.submitter.phone == PHONE and d.submitter.email == EMAIL  # the phone's spaces are separators
    assert d.dossier_code == "000.00.12.H40-261120-0007" and d.procedure_code == "1.001612" and d.agency_code is None
    assert d.address.startswith("Trung tâm") and (d.lat, d.long) == (20.9517, 107.0806)
    assert d.title.endswith("…") and len(d.title) <= open311.TITLE_LENGTH + 1
    assert CONTENT.startswith(d.title[:-1]) and CONTENT[len(d.title) - 1] == " "  # cut at a word
    only_first = draft(last_name="", first_name="Bảo", service_code="PAKN-TTHC", **{"attribute[agency_code]": "H40.12"})
    assert only_first.submitter.name == "Bảo" and only_first.category == "procedure"
    assert only_first.agency_code == "H40.12"


def test_decomposed_vietnamese_is_normalised_and_a_media_url_kept_in_the_text():
    import unicodedata

    d = draft(description=unicodedata.normalize("NFD", "Thái độ không đúng mực khi tiếp công dân"),
              media_url="https://anh.example.vn/1.jpg")
    assert d.title == "Thái độ không đúng mực khi tiếp công dân"
    assert d.content.endswith("https://anh.example.vn/1.jpg") and d.content.startswith(d.title)


def test_the_title_is_cut_at_a_word_and_a_long_word_where_it_must():
    assert open311.title_of("  Hẹn   lại\nnhiều lần  ") == "Hẹn lại nhiều lần"
    assert open311.title_of("x" * 200) == "x" * 80 + "…"
    words = open311.title_of("chữ " * 40)
    assert words.endswith("chữ…") and len(words) <= 81


@pytest.mark.parametrize(("changes", "status", "named"), [
    ({"description": ""}, 400, "description"),
    ({"description": "Quá  ngắn"}, 400, "description"),
    ({"first_name": "", "last_name": ""}, 400, "first_name, last_name"),
    ({"email": "bao.tran@"}, 400, "email"),
    ({"phone": "12ab"}, 400, "phone"),
    ({"lat": "north"}, 400, "lat"),
    ({"lat": "91"}, 400, "lat"),
    ({"long": "nan"}, 400, "long"),
    ({"long": ""}, 400, "lat, long"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"attribute[dossier_code]": "hồ sơ của tôi"}, 400, "attribute[dossier_code]"),
    ({"service_code": ""}, 400, "service_code"),
    ({"service_code": "PAKN-XX"}, 404, "service_code"),
    ({"jurisdiction_id": "hanoi.gov.vn"}, 404, "jurisdiction_id"),
])
def test_bad_input_is_an_open311_error_naming_the_field_without_echoing_personal_data(changes, status, named):
    with pytest.raises(Open311Error) as excinfo:
        draft(**changes)
    assert excinfo.value.status == status
    assert any(d.startswith(named + ":") for d in excinfo.value.descriptions), errors_of(excinfo)
    assert PHONE not in errors_of(excinfo) and "0987 654 321" not in errors_of(excinfo)


def test_every_error_of_a_form_is_answered_at_once():
    with pytest.raises(Open311Error) as excinfo:
        draft(description="", first_name="", last_name="", lat="x")
    assert [d.split(":")[0] for d in excinfo.value.descriptions] == ["description", "first_name, last_name", "lat"]
    body = excinfo.value.body()
    assert body[0]["code"] == 400 and set(body[0]) == {"code", "description"}
    root = xml_of(open311.render("xml", "errors", body))
    assert root.tag == "errors" and children(root) == ["error"] * 3
    assert children(root[0]) == ["code", "description"] and root[0].findtext("code") == "400"


def test_the_jurisdiction_is_optional_and_compared_without_www_or_case():
    open311.check_jurisdiction(None, "quangninh.gov.vn")
    open311.check_jurisdiction("", "quangninh.gov.vn")
    open311.check_jurisdiction("www.QuangNinh.gov.vn", "quangninh.gov.vn")
    with pytest.raises(Open311Error):
        open311.check_jurisdiction("sfgov.org", "quangninh.gov.vn")


# ---- GET requests: the query -------------------------------------------------------------------------------

def test_the_query_defaults_to_the_last_90_days_and_maps_status_and_service():
    q = open311.parse_query({}, NOW)
    assert (q.start, q.end, q.ids, q.states, q.categories, q.limit) == (NOW - timedelta(days=90), None, None, None,
                                                                         None, 1000)
    q = open311.parse_query({"status": ["open"], "service_code": ["PAKN-CB,PAKN-TTHC"]}, NOW)
    assert q.states == ["received", "accepted", "info_requested", "assigned"]
    assert q.categories == ["conduct", "procedure"]
    assert open311.parse_query({"status": ["CLOSED"]}, NOW).states == ["rejected", "answered", "published"]
    assert open311.parse_query({"status": ["open", "closed"]}, NOW).states is None  # repeated = both


def test_ids_override_every_other_argument():
    q = open311.parse_query({"service_request_id": ["PAKN-1, PAKN-2,,PAKN-1"], "status": ["bogus"],
                             "start_date": ["yesterday"]}, NOW)
    assert q.ids == ["PAKN-1", "PAKN-2"] and q.start is None and q.states is None
    with pytest.raises(Open311Error):
        open311.parse_query({"service_request_id": [",".join(f"P{i}" for i in range(1001))]}, NOW)


def test_the_date_window_is_w3c_with_an_offset_and_at_most_90_days():
    q = open311.parse_query({"start_date": ["2026-10-01T00:00:00Z"], "end_date": ["2026-10-31T23:59:59+07:00"]}, NOW)
    assert q.start == datetime(2026, 10, 1, tzinfo=timezone.utc)
    assert q.end == datetime(2026, 10, 31, 16, 59, 59, tzinfo=timezone.utc)
    only_start = open311.parse_query({"start_date": ["2026-06-01T00:00:00Z"]}, NOW)
    assert only_start.end - only_start.start == timedelta(days=90)
    only_end = open311.parse_query({"end_date": ["2026-06-01T00:00:00Z"]}, NOW)
    assert only_end.end - only_end.start == timedelta(days=90)
    local_day = open311.parse_query({"start_date": ["2026-11-01"]}, NOW)
    assert local_day.start == datetime(2026, 10, 31, 17, tzinfo=timezone.utc)  # midnight in Asia/Ho_Chi_Minh
    for params, named in [({"start_date": ["2026-01-01T00:00:00Z"], "end_date": ["2026-06-01T00:00:00Z"]}, "end_date"),
                          ({"start_date": ["2026-06-01T00:00:00Z"], "end_date": ["2026-01-01T00:00:00Z"]}, "end_date"),
                          ({"start_date": ["2026-06-01T00:00:00"]}, "start_date"),
                          ({"end_date": ["01/06/2026"]}, "end_date"),
                          ({"status": ["pending"]}, "status"),
                          ({"service_code": ["PAKN-XX"]}, "service_code")]:
        with pytest.raises(Open311Error) as excinfo:
            open311.parse_query(params, NOW)
        assert excinfo.value.status == 400 and excinfo.value.descriptions[0].startswith(named + ":"), params


# ---- GET requests: what the public sees --------------------------------------------------------------------

def test_an_open_petition_shows_its_title_and_step_deadline_never_its_text_or_submitter():
    p = petition()
    entry = open311.request_entry(p)
    assert list(entry) == SPEC_REQUEST
    assert entry["service_request_id"] == p.id and entry["status"] == "open" and entry["status_notes"] is None
    assert entry["service_code"] == "PAKN-CB" and entry["service_name"].startswith("Phản ánh về hành vi")
    assert entry["description"] == p.title != p.content
    assert entry["agency_responsible"] is None and entry["media_url"] is None
    assert entry["requested_datetime"] == "2026-11-23T09:00:00+07:00"
    assert entry["expected_datetime"] == open311.local(p.deadlines["decision"])
    assert entry["expected_datetime"].endswith("+07:00") and entry["service_notice"].startswith("Đã tiếp nhận")
    assert (entry["lat"], entry["long"]) == (20.9517, 107.0806) and entry["address"] == p.address
    for text in (open311.render("json", "service_requests", [entry]).decode(),
                 open311.render("xml", "service_requests", [entry]).decode()):
        assert NAME not in text and PHONE not in text and EMAIL not in text and "Trần" not in text
        assert "hẹn lại ba lần" not in text  # past the title: the complaint's full text is not public


def test_an_assigned_petition_shows_the_agency_and_the_answer_deadline():
    p = moved(petition(), ("accept", {}), ("assign", {"to_agency": "000.00.12.H40"}))
    entry = open311.request_entry(p)
    assert entry["status"] == "open" and entry["agency_responsible"] == "000.00.12.H40"
    assert entry["expected_datetime"] == open311.local(p.deadlines["answer"])


def test_a_published_petition_shows_the_moderated_question_and_the_public_answer():
    p = moved(petition(), ("accept", {}), ("assign", {"to_agency": "000.00.12.H40"}),
              ("answer", {"text": "Trả lời riêng cho ông Bảo."}),
              ("publish", {"public_question": "Bộ phận một cửa yêu cầu giấy tờ ngoài danh mục?",
                           "public_answer": "Sở đã chấn chỉnh; danh mục thành phần hồ sơ được niêm yết."}))
    entry = open311.request_entry(p)
    assert entry["status"] == "closed" and entry["expected_datetime"] is None
    assert entry["description"] == "Bộ phận một cửa yêu cầu giấy tờ ngoài danh mục?"
    assert entry["status_notes"] == "Sở đã chấn chỉnh; danh mục thành phần hồ sơ được niêm yết."
    assert "Trả lời riêng" not in json.dumps(entry, ensure_ascii=False)  # the private answer is not public
    answered = moved(petition(), ("accept", {}), ("assign", {"to_agency": "000.00.12.H40"}),
                     ("answer", {"text": "Trả lời riêng cho ông Bảo."}))
    entry = open311.request_entry(answered)
    assert entry["status"] == "closed" and entry["status_notes"] is None and entry["description"] == answered.title
    rejected = moved(petition(), ("reject", {"reason": "Nội dung không thuộc thẩm quyền."}))
    assert open311.request_entry(rejected)["status"] == "closed"
    assert "thẩm quyền" not in json.dumps(open311.request_entry(rejected), ensure_ascii=False)


def test_requests_render_in_the_spec_shape_with_utf8_vietnamese_intact():
    entries = open311.request_list([petition(), petition(service_code="PAKN-TTHC", lat="", long="")])
    body = open311.render("xml", "service_requests", entries)
    root = xml_of(body)
    assert root.tag == "service_requests" and children(root) == ["request", "request"]
    assert all(children(r) == SPEC_REQUEST for r in root)
    assert root[0].findtext("lat") == "20.9517" and root[1].find("lat").text is None  # empty element
    assert root[0].findtext("service_name") == "Phản ánh về hành vi, thái độ của cán bộ, công chức"
    assert "Phản ánh về hành vi".encode() in body  # UTF-8, not character references
    as_json = json.loads(open311.render("json", "service_requests", entries))
    assert list(as_json[0]) == SPEC_REQUEST and as_json[1]["lat"] is None and as_json[0]["long"] == 107.0806
    assert "Phản ánh".encode() in open311.render("json", "service_requests", entries)


def test_xml_stays_well_formed_whatever_the_text():
    body = open311.render("xml", "errors", [{"code": 400, "description": "a <b> & \x00\x1f \"c\" ]]> đ"}])
    assert xml_of(body)[0].findtext("description") == "a <b> &  \"c\" ]]> đ"


def test_the_submission_answer_carries_the_id_and_the_answer_deadline():
    p = petition()
    [answer] = open311.submitted(p)
    assert list(answer) == ["service_request_id", "service_notice"] and answer["service_request_id"] == p.id
    due = p.deadlines["answer"].astimezone(open311.TZ)
    assert f"hạn trả lời: {due:%H:%M} ngày {due:%d/%m/%Y}" in answer["service_notice"]
    root = xml_of(open311.render("xml", "service_requests", [answer]))
    assert children(root) == ["request"] and children(root[0]) == ["service_request_id", "service_notice"]


def test_only_json_and_xml_are_formats():
    assert open311.format_of("JSON") == "json" and open311.format_of("xml") == "xml"
    with pytest.raises(Open311Error) as excinfo:
        open311.format_of("csv")
    assert excinfo.value.status == 400 and "format" in errors_of(excinfo)


# ---- through HTTP ------------------------------------------------------------------------------------------

V2 = "/open311/v2"
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
OFFICER = as_user("officer-1", "feedback_officer")


async def post_form(client, fmt: str, form: dict, **params):
    return await client.post(f"{V2}/requests.{fmt}", content=urlencode(form).encode(), headers=FORM_TYPE,
                             params=params)


def assert_no_submitter(text: str) -> None:
    for secret in (NAME, "Văn Bảo", PHONE, "0987 654 321", EMAIL):
        assert secret not in text


@pytest.fixture
async def client(store):
    bus = MemoryBus()
    async with serving(create_app(FeedbackSettings(), bus=bus, store=store)) as http:
        yield http
    await bus.stop()


async def test_services_and_definitions_through_http(client):
    r = await client.get(f"{V2}/services.xml", params={"jurisdiction_id": "quangninh.gov.vn"})
    assert r.status_code == 200 and r.headers["content-type"] == "text/xml; charset=utf-8"
    assert [s.findtext("service_code") for s in xml_of(r.content)] == ["PAKN-TTHC", "PAKN-CB"]
    r = await client.get(f"{V2}/services.json")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json()[1]["service_name"] == "Phản ánh về hành vi, thái độ của cán bộ, công chức"
    r = await client.get(f"{V2}/services/PAKN-CB.xml")
    assert r.status_code == 200 and xml_of(r.content).findtext("service_code") == "PAKN-CB"
    r = await client.get(f"{V2}/services/PAKN-XX.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = await client.get(f"{V2}/services.json", params={"jurisdiction_id": "sfgov.org"})
    assert r.status_code == 404 and "jurisdiction_id" in r.json()[0]["description"]
    r = await client.get(f"{V2}/services.csv")
    assert r.status_code == 400 and r.headers["content-type"] == "text/xml; charset=utf-8"
    assert xml_of(r.content)[0].findtext("code") == "400"


async def test_a_petition_sent_by_an_open311_client_is_followed_without_its_submitter(client):
    r = await post_form(client, "json", FORM)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    [created] = r.json()
    petition_id = created["service_request_id"]
    assert petition_id.startswith("PAKN-") and "hạn trả lời" in created["service_notice"]
    assert_no_submitter(r.text)

    # The centre sees who sent it, on the Open311 channel, with everything the form carried.
    staff = (await client.get(f"/petitions/{petition_id}", headers=OFFICER)).json()
    assert staff["channel"] == "open311" and staff["submitter"] == {"name": NAME, "phone": PHONE, "email": EMAIL}
    assert staff["category"] == "conduct" and staff["content"] == CONTENT
    assert staff["dossier_code"] == "000.00.12.H40-261120-0007" and staff["procedure_code"] == "1.001612"

    r = await client.get(f"{V2}/requests/{petition_id}.json", params={"jurisdiction_id": "quangninh.gov.vn"})
    assert r.status_code == 200
    [seen] = r.json()
    assert list(seen) == SPEC_REQUEST and seen["status"] == "open" and seen["service_code"] == "PAKN-CB"
    assert seen["description"] == staff["title"] and seen["expected_datetime"].endswith("+07:00")
    assert "hẹn lại ba lần" not in r.text
    assert_no_submitter(r.text)

    r = await client.get(f"{V2}/requests/{petition_id}.xml")
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    root = xml_of(r.content)
    assert root.tag == "service_requests" and children(root[0]) == SPEC_REQUEST
    assert root[0].findtext("service_request_id") == petition_id
    assert_no_submitter(r.text)

    r = await client.get(f"{V2}/requests.json")
    assert [x["service_request_id"] for x in r.json()] == [petition_id]
    assert_no_submitter(r.text)
    r = await client.get(f"{V2}/requests.xml")
    assert [x.findtext("service_request_id") for x in xml_of(r.content)] == [petition_id]
    assert_no_submitter(r.text)


async def test_a_petition_sent_for_an_xml_answer(client):
    form = {**FORM, "service_code": "PAKN-TTHC", "description": "Thủ tục cấp giấy phép xây dựng yêu cầu quá nhiều "
            "bản sao có chứng thực.", "phone": "", "email": "", "lat": "", "long": ""}
    r = await post_form(client, "xml", form)
    assert r.status_code == 200 and r.headers["content-type"] == "text/xml; charset=utf-8"
    root = xml_of(r.content)
    assert root.tag == "service_requests" and children(root[0]) == ["service_request_id", "service_notice"]
    petition_id = root[0].findtext("service_request_id")
    [seen] = (await client.get(f"{V2}/requests/{petition_id}.json")).json()
    assert seen["service_code"] == "PAKN-TTHC" and seen["lat"] is None
    assert seen["description"] == "Thủ tục cấp giấy phép xây dựng yêu cầu quá nhiều bản sao có chứng thực."


async def test_requests_are_filtered_by_status_service_date_and_ids(client):
    ids = []
    for code in ("PAKN-CB", "PAKN-TTHC", "PAKN-CB"):
        [created] = (await post_form(client, "json", {**FORM, "service_code": code})).json()
        ids.append(created["service_request_id"])
    # The first is answered and published by the centre: closed, with its public question and answer.
    for action, body in [("accept", {}), ("assign", {"to_agency": "000.00.12.H40"}),
                         ("answer", {"text": "Kính gửi ông Bảo: Sở đã kiểm tra và chấn chỉnh."}),
                         ("publish", {"public_question": "Yêu cầu giấy tờ ngoài danh mục có đúng không?",
                                      "public_answer": "Không đúng; Sở đã chấn chỉnh bộ phận một cửa."})]:
        r = await client.post(f"/petitions/{ids[0]}/{action}", json=body, headers=OFFICER)
        assert r.status_code == 200, r.text

    async def listed(**params) -> list[str]:
        r = await client.get(f"{V2}/requests.json", params=params)
        assert r.status_code == 200, r.text
        assert_no_submitter(r.text)
        return [x["service_request_id"] for x in r.json()]

    assert await listed() == ids[::-1]  # newest first
    assert await listed(status="closed") == [ids[0]]
    assert await listed(status="open") == ids[:0:-1]
    assert await listed(status="open,closed") == ids[::-1]
    assert await listed(service_code="PAKN-TTHC") == [ids[1]]
    assert await listed(service_code="PAKN-CB", status="open") == [ids[2]]
    assert await listed(service_request_id=f"{ids[0]},{ids[2]},PAKN-000000-FFFFFFFF", status="open") == [ids[2],
                                                                                                      ids[0]]
    now = datetime.now(timezone.utc)
    assert await listed(start_date=(now - timedelta(days=1)).isoformat(), end_date=(now + timedelta(days=1))
                        .isoformat()) == ids[::-1]
    assert await listed(start_date="2026-01-01T00:00:00Z", end_date="2026-02-01T00:00:00Z") == []

    r = await client.get(f"{V2}/requests/{ids[0]}.xml")
    published = xml_of(r.content)[0]
    assert published.findtext("status") == "closed" and published.findtext("agency_responsible") == "000.00.12.H40"
    assert published.findtext("description") == "Yêu cầu giấy tờ ngoài danh mục có đúng không?"
    assert published.findtext("status_notes") == "Không đúng; Sở đã chấn chỉnh bộ phận một cửa."
    assert "Kính gửi ông Bảo" not in r.text
    assert_no_submitter(r.text)


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_bad_input_is_answered_in_the_requested_format_and_creates_nothing(client, store, fmt):
    def errors(r) -> list[tuple[int, str]]:
        if fmt == "json":
            assert r.headers["content-type"] == "application/json; charset=utf-8"
            return [(e["code"], e["description"]) for e in r.json()]
        assert r.headers["content-type"] == "text/xml; charset=utf-8"
        root = xml_of(r.content)
        assert root.tag == "errors" and all(children(e) == ["code", "description"] for e in root)
        return [(int(e.findtext("code")), e.findtext("description")) for e in root]

    for changes, status, named in [({"description": ""}, 400, "description"),
                                   ({"service_code": "PAKN-XX"}, 404, "service_code"),
                                   ({"email": "bao.tran@@example"}, 400, "email"),
                                   ({"lat": "hai mươi"}, 400, "lat"),
                                   ({"first_name": "", "last_name": ""}, 400, "first_name"),
                                   ({"jurisdiction_id": "hanoi.gov.vn"}, 404, "jurisdiction_id")]:
        r = await post_form(client, fmt, {**FORM, **changes})
        assert r.status_code == status, (changes, r.text)
        [(code, description)] = errors(r)
        assert code == status and description.startswith(named), description
        assert_no_submitter(r.text)
    r = await client.post(f"{V2}/requests.{fmt}", json=FORM)
    assert r.status_code == 415 and errors(r)[0][0] == 415
    assert await store.collection("petitions").count() == 0

    r = await client.get(f"{V2}/requests/PAKN-000000-FFFFFFFF.{fmt}")
    assert r.status_code == 404 and "service_request_id" in errors(r)[0][1]
    r = await client.get(f"{V2}/requests.{fmt}", params={"status": "pending", "start_date": "hôm qua"})
    assert r.status_code == 400 and [d.split(":")[0] for _, d in errors(r)] == ["status", "start_date"]
    r = await client.get(f"{V2}/requests.{fmt}", params={"jurisdiction_id": "hanoi.gov.vn"})
    assert r.status_code == 404
    r = await client.get(f"{V2}/tokens/123.{fmt}")
    assert r.status_code == 404 and errors(r)[0][0] == 404


async def test_an_unknown_format_is_answered_in_xml(client, store):
    r = await post_form(client, "csv", FORM)
    assert r.status_code == 400 and r.headers["content-type"] == "text/xml; charset=utf-8"
    assert "csv" in xml_of(r.content)[0].findtext("description")
    r = await client.get(f"{V2}/requests.csv")
    assert r.status_code == 400
    assert await store.collection("petitions").count() == 0


async def test_the_form_may_come_in_the_query_string_and_the_body_wins(client):
    r = await post_form(client, "json", {k: v for k, v in FORM.items() if k != "jurisdiction_id"},
                        jurisdiction_id="quangninh.gov.vn", service_code="PAKN-TTHC")
    assert r.status_code == 200
    [seen] = (await client.get(f"{V2}/requests/{r.json()[0]['service_request_id']}.json")).json()
    assert seen["service_code"] == "PAKN-CB"
    r = await post_form(client, "json", FORM, jurisdiction_id="hanoi.gov.vn")
    assert r.status_code == 200  # the body's jurisdiction comes first


async def test_a_multipart_form_is_read_too_and_its_files_ignored(client):
    r = await client.post(f"{V2}/requests.json", data=FORM, files={"media": ("anh.jpg", b"\xff\xd8\xff", "image/jpeg")})
    assert r.status_code == 200, r.text
    [seen] = (await client.get(f"{V2}/requests/{r.json()[0]['service_request_id']}.json")).json()
    assert seen["service_code"] == "PAKN-CB" and seen["media_url"] is None
