"""Citizens told of their dossier, end to end: the dossier service's events reach the notification service,
which renders the operator's templates and delivers them to a real SMTP server, two SMS gateway sandboxes
(with failover) and the citizen's in-app inbox, exactly once per event, with personal data kept out of logs."""

import asyncio
import contextlib
import email
import http.server
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

import httpx
import pytest

from contracts import build
from contracts.dossier import ApplicantContact, DossierReceived
from kit.bus.kafka import KafkaBus
from kit.testing import KAFKA
from notification.webhooks import verify

from .helpers import SUBMISSION, ok, submit, token, until

pytestmark = pytest.mark.e2e
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def mails_about(stack, code: str) -> list[email.message.EmailMessage]:
    found = []
    for path in stack.mails():
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if code in str(message["Subject"]):
            found.append(message)
    return found


def sms_taken(stack, sandbox: str, text_part: str) -> list[dict]:
    taken = httpx.get(f"{stack.urls[sandbox]}/_sandbox/messages", timeout=5).json()
    return [m for m in taken if text_part in m["text"]]


def messages(gw, code: str, admin) -> list[dict]:
    return (ok(gw.get("/api/v1/messages", params={"dossier_code": code}, headers=admin)) or {"items": []})["items"]


def test_a_received_dossier_sends_one_email_with_its_code_and_appointment_in_vietnamese(platform):
    gw = platform
    citizen, reception, admin = (token(gw, u) for u in ("citizen1", "reception1", "admin1"))
    code = submit(gw, citizen)["code"]
    received = gw.post(f"/api/v1/dossiers/{code}/receive", headers=reception)
    assert received.status_code == 200, received.text
    due = datetime.fromisoformat(received.json()["due_at"]).astimezone(HANOI)
    appointment = due.strftime("%H:%M ngày %d/%m/%Y")

    def received_mails():
        return [m for m in mails_about(gw.stack, code) if "tiếp nhận" in str(m["Subject"])
                and "trực tuyến" not in str(m["Subject"])]

    [mail] = until(received_mails, timeout=20)
    assert mail["To"] == SUBMISSION["applicant"]["email"]
    text = mail.get_body(("plain",)).get_content()
    assert code in text and appointment in text, text

    # The SMS and the citizen's in-app inbox say the same, once each.
    until(lambda: sms_taken(gw.stack, "sms-primary", code) or sms_taken(gw.stack, "sms-secondary", code), timeout=15)
    inbox = until(lambda: [m for m in (ok(gw.get("/api/v1/messages/mine", headers=citizen)) or {"items": []})["items"]
                           if m["dossier_code"] == code and appointment in m["body"]], timeout=15)
    assert len(inbox) == 1

    time.sleep(1.0)  # a second e-mail for the same event would have arrived by now
    assert len(received_mails()) == 1
    sent = [m for m in messages(gw, code, admin) if m["cause_event_type"].endswith(".received.v1")]
    assert sorted(m["channel"] for m in sent) == ["email", "in_app", "sms"]


def _received_event(code: str, phone: str, email_address: str):
    now = datetime.now(UTC)
    data = DossierReceived(
        code=code, sequence=2, action="receive", state="received", status_code=2, procedure_code="1.000894",
        procedure_name="Đăng ký kết hôn", agency_code="000.00.21.H49", channel="online", occurred_at=now,
        received_at=now, due_at=now + timedelta(days=1), security_code_hash="0" * 64, received_by="reception1",
        result_channel="online", applicant=ApplicantContact(name="Trần Văn Bình", phone=phone, email=email_address))
    return build(data, source="/dossier", subject=code)


def _publish(stack, event, times: int) -> None:
    async def go():
        bus = KafkaBus(KAFKA, client_id="e2e-test", topic_prefix=f"{stack.run_id}.")
        await bus.start()
        try:
            for _ in range(times):
                await bus.publish("dossier.events", event, key=event.subject)
        finally:
            await bus.stop()

    asyncio.run(go())


@pytest.mark.integration
def test_the_same_event_delivered_three_times_sends_one_message_per_channel(distributed_platform):
    gw = distributed_platform
    admin = token(gw, "admin1")
    code = f"000.00.21.H49-{datetime.now(HANOI):%y%m%d}-{int(time.time() * 1000) % 10000:04d}"
    _publish(gw.stack, _received_event(code, "0987000222", "binh@example.vn"), times=3)

    until(lambda: len(messages(gw, code, admin)) == 3, timeout=20)
    until(lambda: mails_about(gw.stack, code), timeout=20)
    time.sleep(1.5)  # the duplicates would have been recorded and sent by now
    assert sorted(m["channel"] for m in messages(gw, code, admin)) == ["email", "in_app", "sms"]
    assert len(mails_about(gw.stack, code)) == 1
    assert len(sms_taken(gw.stack, "sms-primary", code) + sms_taken(gw.stack, "sms-secondary", code)) == 1


@pytest.mark.integration
def test_an_sms_provider_failing_is_retried_then_the_second_provider_sends_it_once(distributed_platform):
    gw = distributed_platform
    stack, admin = gw.stack, token(gw, "admin1")
    primary = stack.urls["sms-primary"]
    assert httpx.post(f"{primary}/_sandbox/fail", params={"count": 1000, "status": 503}).status_code == 200
    try:
        code = f"000.00.21.H49-{datetime.now(HANOI):%y%m%d}-{int(time.time() * 1000) % 10000:04d}"
        _publish(stack, _received_event(code, "0987000333", "cuong@example.vn"), times=1)

        def sms_message():
            found = [m for m in messages(gw, code, admin) if m["channel"] == "sms"]
            return found[0] if found and found[0]["status"] in ("sent", "delivered") else None

        message = until(sms_message, timeout=20)
        assert message["provider"] == "sandbox-secondary"
        [attempt] = message["attempts"]  # one delivery of the message …
        assert attempt["tries"] >= 3 and attempt["provider"] == "sandbox-secondary"  # … after retries on the primary
        assert sms_taken(stack, "sms-primary", code) == []
        assert len(sms_taken(stack, "sms-secondary", code)) == 1
        # The secondary's signed delivery report came back through the gateway.
        until(lambda: next(m for m in messages(gw, code, admin) if m["channel"] == "sms")["status"] == "delivered",
              timeout=15)
        assert [m["channel"] for m in messages(gw, code, admin)].count("sms") == 1
    finally:
        httpx.post(f"{primary}/_sandbox/fail", params={"count": 0})


@pytest.mark.integration
def test_bad_input_is_refused_and_changes_nothing(distributed_platform):
    gw = distributed_platform
    admin = token(gw, "admin1")
    before = gw.get("/api/v1/notifications/templates/dossier.received", headers=admin).json()

    def refused(answer, status):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        return answer.json()

    current = before["current"]
    texts = {lang: {**t, "body": t["body"] + " {nonexistent}"} for lang, t in current["texts"].items()}
    problem = refused(gw.put("/api/v1/notifications/templates/dossier.received", headers=admin,
                             json={"texts": texts, "note": "thử"}), 422)
    assert "nonexistent" in problem["detail"]
    problem = refused(gw.put("/api/v1/notifications/rules/vn.motcua.nothing.v1", headers=admin,
                             json={"template": "dossier.received", "channels": ["email"], "audience": "applicant"}),
                      422)
    assert "vn.motcua.nothing.v1" in problem["detail"]
    for channel, to in (("sms", "12345"), ("email", "not-an-address")):
        problem = refused(gw.post("/api/v1/notifications/test-messages", headers=admin,
                                  json={"template": "dossier.received", "channel": channel, "to": to}), 422)
        assert problem["type"].endswith("invalid-recipient")
    refused(gw.post("/api/v1/notifications/sms/sandbox-primary/reports", content=b'{"client_ref": "msg-x"}',
                    headers={"X-Signature": "0" * 64, "Content-Type": "application/json"}), 401)
    after = gw.get("/api/v1/notifications/templates/dossier.received", headers=admin).json()
    assert after["current"]["version"] == current["version"]


@pytest.mark.integration
def test_personal_data_never_reaches_the_logs(distributed_platform):
    gw = distributed_platform
    citizen, reception, admin = (token(gw, u) for u in ("citizen1", "reception1", "admin1"))
    code = submit(gw, citizen)["code"]
    assert gw.post(f"/api/v1/dossiers/{code}/receive", headers=reception).status_code == 200
    until(lambda: [m for m in messages(gw, code, admin) if m["channel"] == "sms" and m["status"] == "delivered"],
          timeout=20)
    applicant = SUBMISSION["applicant"]
    phone = applicant["phone"]
    secrets_ = [phone, "+84" + phone[1:], phone[1:], applicant["email"], applicant["id_number"]]
    for log in gw.stack.logs.glob("*.log"):
        text = log.read_text(errors="replace")
        leaked = [s for s in secrets_ if s in text]
        assert not leaked, f"{log.name} holds personal data"


@contextlib.contextmanager
def webhook_receiver():
    """A national portal's endpoint: records each POST (body and signature header)."""
    received: list[tuple[bytes, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the standard library's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("X-MotCua-Signature")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/motcua-events", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_an_integration_receives_the_events_it_subscribed_to_signed(distributed_platform):
    gw = distributed_platform
    citizen, reception, admin = (token(gw, u) for u in ("citizen1", "reception1", "admin1"))
    with webhook_receiver() as (url, received):
        created = gw.post("/api/v1/webhooks/subscriptions", headers=admin,
                          json={"url": url, "event_types": ["vn.motcua.dossier.received.v1"],
                                "description": "Cổng Dịch vụ công quốc gia"})
        assert created.status_code == 201, created.text
        subscription, secret = created.json(), created.json()["secret"]
        code = submit(gw, citizen)["code"]
        assert gw.post(f"/api/v1/dossiers/{code}/receive", headers=reception).status_code == 200

        def ours():
            return [(b, s) for b, s in received if json.loads(b)["subject"] == code]

        [(body, signature)] = until(ours, timeout=20)
        assert verify(secret, body, signature)  # signed with the subscription's secret
        event = json.loads(body)
        assert event["type"] == "vn.motcua.dossier.received.v1" and event["data"]["code"] == code
        time.sleep(0.5)
        assert len(ours()) == 1  # the submitted event was not subscribed to, the received one came once
        log = gw.get(f"/api/v1/webhooks/subscriptions/{subscription['id']}/deliveries", headers=admin).json()
        assert any(d["status"] == "succeeded" for d in log["items"])
        assert gw.delete(f"/api/v1/webhooks/subscriptions/{subscription['id']}", headers=admin).status_code == 204
