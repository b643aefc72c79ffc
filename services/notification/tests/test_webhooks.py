"""Outbound webhooks, as an integrator and an operator see them: through the admin API, with real dossier
events on the bus, delivered over real loopback HTTP to a receiver that checks the signature."""

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from contracts import build
from contracts.dossier import ApplicantContact, DossierReceived
from fastapi import FastAPI, Request, Response
from kit.bus.memory import MemoryBus
from kit.http import create_service_app
from kit.runtime import Runtime
from kit.testing import as_user, bound_socket, eventually, running_server, serving
from notification.settings import NotificationSettings
from notification.webhooks import WebhookSettings, install_webhooks, sign, verify
from notification.webhooks.domain import (
    InvalidWebhookUrl,
    RetryPolicy,
    UnknownEventType,
    check_event_types,
    check_url,
    delivery_id,
)

ADMIN = as_user("admin1", "admin")
CODE = "000.00.21.H49-261123-0007"
PHONE = "0912345678"
EMAIL = "an@example.vn"
RECEIVED = "vn.motcua.dossier.received.v1"
PAID = "vn.motcua.payment.succeeded.v1"
TOPICS = ["dossier.events", "payment.events", "catalog.events", "feedback.events"]
GROUP = "notification-webhooks"
FAST = WebhookSettings(attempts=3, backoff_seconds=0.05, max_backoff_seconds=0.2, timeout_seconds=2,
                       poll_seconds=0.05, allow_plain_http=True)


def received_event(code: str = CODE):
    data = DossierReceived(code=code, sequence=2, state="received", status_code=2, procedure_code="1.000894",
                           procedure_name="Đăng ký kết hôn", agency_code="000.00.21.H49", channel="online",
                           occurred_at=datetime(2026, 11, 23, 2, 15, tzinfo=UTC),
                           due_at=datetime(2026, 11, 24, 10, 0, tzinfo=UTC), security_code_hash="0" * 64,
                           applicant=ApplicantContact(name="Nguyễn Văn An", phone=PHONE, email=EMAIL),
                           received_at=datetime(2026, 11, 23, 2, 15, tzinfo=UTC), received_by="reception1",
                           result_channel="online")
    return build(data, source="/dossier", subject=code)


# --- the integration's side: a real HTTP server ----------------------------------------------------------


@dataclass
class Received:
    endpoint: str
    body: bytes
    headers: dict[str, str]
    verified: bool


class Receiver:
    """An integration's endpoint, checking each request's signature as its documentation tells it to,
    and able to fail the next requests (its outage)."""

    def __init__(self) -> None:
        self.secret = ""
        self.requests: list[Received] = []
        self.failures: list[int] = []
        self.url = ""
        self.app = FastAPI()

        @self.app.post("/hooks/{endpoint}")
        async def receive(endpoint: str, request: Request) -> Response:
            body = await request.body()
            verified = verify(self.secret, body, request.headers.get("X-MotCua-Signature"), now=time.time(),
                              tolerance=300)
            self.requests.append(Received(endpoint, body, dict(request.headers), verified))
            if self.failures:
                return Response(status_code=self.failures.pop(0))
            return Response(status_code=204 if verified else 401)

    def fail_next(self, count: int, status: int = 503) -> None:
        self.failures.extend([status] * count)

    def endpoint(self, name: str = "motcua") -> str:
        return f"{self.url}/hooks/{name}"

    def to(self, name: str) -> list[Received]:
        return [r for r in self.requests if r.endpoint == name]


@pytest.fixture
async def receiver():
    receiver = Receiver()
    async with running_server(receiver.app) as url:
        receiver.url = url
        yield receiver


@contextlib.asynccontextmanager
async def platform(store, settings: WebhookSettings = FAST):
    """The notification service's webhooks as the composition root installs them, on a memory bus."""
    bus = MemoryBus()
    runtime = Runtime(NotificationSettings(), bus=bus, store=store)
    webhooks, router = install_webhooks(runtime, settings, TOPICS)
    app = create_service_app(runtime, title="Một Cửa — webhooks under test", description="Outbound webhooks.",
                             routers=[router])
    try:
        async with serving(app) as client:
            client.bus = bus
            client.webhooks = webhooks
            yield client
    finally:
        await bus.stop()


@pytest.fixture
async def service(store):
    async with platform(store) as client:
        yield client


# --- helpers -----------------------------------------------------------------------------------------------


async def subscribe(service, receiver: Receiver, *, event_types=(RECEIVED,), endpoint: str = "motcua",
                    url: str | None = None) -> dict:
    r = await service.post("/webhooks/subscriptions", headers=ADMIN, json={
        "url": url or receiver.endpoint(endpoint), "event_types": list(event_types),
        "description": "Cổng DVC quốc gia"})
    assert r.status_code == 201, r.text
    subscription = r.json()
    receiver.secret = subscription["secret"]
    return subscription


async def publish(service, event) -> None:
    await service.bus.publish("dossier.events", event, key=event.subject)


async def consumed(service, count: int) -> bool:
    """The webhook consumer group has taken `count` events off the dossier topic."""
    committed = service.bus.broker.committed
    return sum(v for (g, t, _), v in committed.items() if g == GROUP and t == "dossier.events") >= count


async def deliveries(service, subscription_id: str, **params) -> list[dict]:
    r = await service.get(f"/webhooks/subscriptions/{subscription_id}/deliveries", headers=ADMIN, params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def delivery(service, delivery_id: str) -> dict:
    r = await service.get(f"/webhooks/deliveries/{delivery_id}", headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


async def settled(service, subscription_id: str, status: str, count: int = 1) -> list[dict] | None:
    items = await deliveries(service, subscription_id, status=status)
    return items if len(items) == count else None


async def nothing_due(service) -> bool:
    return await service.webhooks.deliver_due() == 0


def problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"/problems/{slug}", body
    return body


# --- subscriptions -----------------------------------------------------------------------------------------


async def test_a_new_subscription_returns_its_secret_once(service, receiver):
    r = await service.post("/webhooks/subscriptions", headers=ADMIN, json={
        "url": receiver.endpoint(), "event_types": [RECEIVED, PAID, RECEIVED], "description": "Cổng DVC quốc gia"})
    assert r.status_code == 201
    created = r.json()
    secret = created["secret"]
    assert len(secret) >= 40
    assert r.headers["location"] == f"/webhooks/subscriptions/{created['id']}"
    assert created["event_types"] == [RECEIVED, PAID]  # repeats dropped, order kept
    assert created["active"] is True and created["created_by"] == "admin1"

    one = await service.get(f"/webhooks/subscriptions/{created['id']}", headers=ADMIN)
    listed = await service.get("/webhooks/subscriptions", headers=ADMIN)
    for answer in (one, listed):
        assert answer.status_code == 200 and secret not in answer.text
    assert "secret" not in one.json() and all("secret" not in s for s in listed.json()["items"])
    assert one.json()["url"] == receiver.endpoint()
    assert [s["id"] for s in listed.json()["items"]] == [created["id"]]


async def test_subscriptions_are_listed_page_by_page(service, receiver):
    created = [(await subscribe(service, receiver, endpoint=f"e{n}"))["id"] for n in range(3)]
    first = (await service.get("/webhooks/subscriptions", headers=ADMIN, params={"limit": 2})).json()
    assert [s["id"] for s in first["items"]] == created[:2] and first["next_cursor"]
    second = (await service.get("/webhooks/subscriptions", headers=ADMIN,
                                params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [s["id"] for s in second["items"]] == created[2:] and second["next_cursor"] is None


async def test_a_subscription_is_changed_and_deleted_with_its_log(service, receiver):
    subscription = await subscribe(service, receiver)
    r = await service.patch(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN,
                            json={"event_types": [PAID], "description": "Thanh toán"})
    assert r.status_code == 200
    assert r.json()["event_types"] == [PAID] and r.json()["description"] == "Thanh toán"
    assert r.json()["url"] == receiver.endpoint()  # not given: unchanged

    await service.patch(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN,
                        json={"event_types": [RECEIVED]})
    await publish(service, received_event())
    [logged] = await eventually(lambda: settled(service, subscription["id"], "succeeded"))

    r = await service.delete(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN)
    assert r.status_code == 204
    problem(await service.get(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN), 404, "not-found")
    problem(await service.get(f"/webhooks/deliveries/{logged['id']}", headers=ADMIN), 404, "not-found")


# --- delivery ------------------------------------------------------------------------------------------------


async def test_a_matching_event_is_delivered_once_signed_as_a_cloudevent(service, receiver):
    subscription = await subscribe(service, receiver)
    event = received_event()
    await publish(service, event)
    [logged] = await eventually(lambda: settled(service, subscription["id"], "succeeded"))

    [request] = receiver.requests
    assert request.verified  # the receiver's own check, with the secret it was given
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert request.headers["x-motcua-delivery"] == logged["id"]
    assert request.headers["x-motcua-event-type"] == RECEIVED
    body = json.loads(request.body)
    assert {k: body[k] for k in ("specversion", "id", "source", "type", "subject", "datacontenttype")} == {
        "specversion": "1.0", "id": event.id, "source": "/dossier", "type": RECEIVED, "subject": CODE,
        "datacontenttype": "application/json"}
    assert body["data"]["code"] == CODE and body["data"]["applicant"]["phone"] == PHONE

    # The signature binds the secret, the time and these exact bytes.
    header = request.headers["x-motcua-signature"]
    assert not verify("another-secret", request.body, header)
    assert not verify(subscription["secret"], request.body.replace(CODE.encode(), b"000.00.21.H49-261123-9999"), header)

    detail = await delivery(service, logged["id"])
    assert detail["status"] == "succeeded" and detail["tries"] == 1 and detail["delivered_at"]
    [attempt] = detail["attempts"]
    assert attempt["status_code"] == 204 and attempt["error"] is None and attempt["replay"] is False
    assert detail["payload"] == body
    await eventually(lambda: consumed(service, 1))
    assert len(receiver.requests) == 1


async def test_only_the_subscribed_types_are_delivered(service, receiver):
    payments = await subscribe(service, receiver, event_types=[PAID], endpoint="payments")
    dossiers = await subscribe(service, receiver, event_types=[RECEIVED], endpoint="dossiers")
    await publish(service, received_event())
    await eventually(lambda: settled(service, dossiers["id"], "succeeded"))
    await eventually(lambda: consumed(service, 1))
    assert receiver.to("payments") == [] and len(receiver.to("dossiers")) == 1
    assert await deliveries(service, payments["id"]) == []


async def test_an_inactive_subscription_gets_nothing(service, receiver):
    subscription = await subscribe(service, receiver)
    await service.patch(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN, json={"active": False})
    await publish(service, received_event())
    await eventually(lambda: consumed(service, 1))
    assert await deliveries(service, subscription["id"]) == [] and receiver.requests == []


async def test_the_same_event_three_times_is_one_delivery_and_one_post(service, receiver):
    subscription = await subscribe(service, receiver)
    event = received_event()
    for _ in range(3):
        await publish(service, event)
    await eventually(lambda: consumed(service, 3))
    # Past the consumer's own guard too: the delivery's id derives from the event and the subscription.
    for _ in range(2):
        await service.webhooks.on_event(event)
    await eventually(lambda: settled(service, subscription["id"], "succeeded"))
    await eventually(lambda: nothing_due(service))
    assert len(await deliveries(service, subscription["id"])) == 1
    assert len(receiver.requests) == 1


async def test_a_new_delivery_wakes_the_worker_without_waiting_for_the_poll(store, receiver):
    async with platform(store, FAST.model_copy(update={"poll_seconds": 60})) as service:
        subscription = await subscribe(service, receiver)
        await publish(service, received_event())
        await eventually(lambda: settled(service, subscription["id"], "succeeded"), timeout=10)
        # The worker has had its round (at start, or woken) and now sleeps for a minute, unless woken.
        await publish(service, received_event("000.00.21.H49-261123-0008"))
        await eventually(lambda: settled(service, subscription["id"], "succeeded", 2), timeout=10)


async def test_a_receiver_failing_twice_gets_the_event_on_the_third_try(service, receiver):
    subscription = await subscribe(service, receiver)
    receiver.fail_next(1, 500)
    receiver.fail_next(1, 503)
    await publish(service, received_event())
    [logged] = await eventually(lambda: settled(service, subscription["id"], "succeeded"))

    detail = await delivery(service, logged["id"])
    assert [a["status_code"] for a in detail["attempts"]] == [500, 503, 204]
    assert [a["error"] for a in detail["attempts"]] == ["HTTP 500 Internal Server Error",
                                                          "HTTP 503 Service Unavailable", None]
    assert detail["tries"] == 3
    # Backoff: 0.05 s after the first failure, doubling.
    at = [datetime.fromisoformat(a["at"]) for a in detail["attempts"]]
    assert at[1] - at[0] >= timedelta(seconds=0.05) and at[2] - at[1] >= timedelta(seconds=0.1)
    # The same delivery each time, freshly signed.
    assert len(receiver.requests) == 3 and all(r.verified for r in receiver.requests)
    assert {r.headers["x-motcua-delivery"] for r in receiver.requests} == {logged["id"]}
    assert len({r.body for r in receiver.requests}) == 1


async def test_a_dead_delivery_is_replayed_by_an_operator_once_the_receiver_is_fixed(service, receiver):
    subscription = await subscribe(service, receiver)
    receiver.fail_next(100, 500)
    await publish(service, received_event())
    [dead] = await eventually(lambda: settled(service, subscription["id"], "dead"))
    assert dead["tries"] == 3 and dead["next_attempt_at"] is None
    await eventually(lambda: nothing_due(service))
    assert len(receiver.requests) == 3  # `attempts` tries, then no more

    receiver.failures.clear()
    r = await service.post(f"/webhooks/deliveries/{dead['id']}/replay", headers=ADMIN)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    await eventually(lambda: settled(service, subscription["id"], "succeeded"))

    detail = await delivery(service, dead["id"])
    assert detail["tries"] == 1  # counted afresh after the replay
    assert [(a["status_code"], a["replay"], a["replayed_by"]) for a in detail["attempts"]] == [
        (500, False, None), (500, False, None), (500, False, None), (204, True, "admin1")]
    assert receiver.requests[-1].verified


async def test_an_unreachable_receiver_fixed_by_a_new_url_gets_every_dead_delivery(service, receiver):
    closed = bound_socket()  # bound, never listening: connections are refused
    try:
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks/motcua"
        subscription = await subscribe(service, receiver, url=url)
        await publish(service, received_event())
        await publish(service, received_event("000.00.21.H49-261123-0008"))
        dead = await eventually(lambda: settled(service, subscription["id"], "dead", 2))
    finally:
        closed.close()
    detail = await delivery(service, dead[0]["id"])
    assert [(a["status_code"], a["error"]) for a in detail["attempts"]] == [(None, "ConnectError")] * 3

    await service.patch(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN,
                        json={"url": receiver.endpoint()})
    r = await service.post(f"/webhooks/subscriptions/{subscription['id']}/replay", headers=ADMIN)
    assert r.status_code == 202 and r.json() == {"subscription_id": subscription["id"], "replayed": 2}
    await eventually(lambda: settled(service, subscription["id"], "succeeded", 2))
    assert sorted(json.loads(r.body)["subject"] for r in receiver.requests) == [CODE, "000.00.21.H49-261123-0008"]
    assert all(r.verified for r in receiver.requests)


async def test_deliveries_are_listed_newest_first_page_by_page(service, receiver):
    subscription = await subscribe(service, receiver)
    codes = [f"000.00.21.H49-261123-000{n}" for n in range(1, 4)]
    for count, code in enumerate(codes, 1):
        await publish(service, received_event(code))
        await eventually(lambda count=count: settled(service, subscription["id"], "succeeded", count))
    path = f"/webhooks/subscriptions/{subscription['id']}/deliveries"
    first = (await service.get(path, headers=ADMIN, params={"limit": 2})).json()
    second = (await service.get(path, headers=ADMIN, params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert second["next_cursor"] is None
    listed = [(await delivery(service, d["id"]))["payload"]["subject"] for d in first["items"] + second["items"]]
    assert listed == codes[::-1]
    assert "payload" not in first["items"][0]  # the list holds no personal data; one delivery's detail does


# --- secrets ---------------------------------------------------------------------------------------------------


async def test_a_rotated_secret_signs_from_then_on_with_the_old_one_for_a_grace_period(service, receiver):
    subscription = await subscribe(service, receiver)
    old = subscription["secret"]
    r = await service.post(f"/webhooks/subscriptions/{subscription['id']}/secret", headers=ADMIN)
    assert r.status_code == 200
    new = r.json()["secret"]
    assert new != old and r.json()["secret_rotated_at"] and r.json()["previous_secret_expires_at"]
    one = await service.get(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN)
    assert new not in one.text and old not in one.text

    receiver.secret = new
    await publish(service, received_event())
    await eventually(lambda: settled(service, subscription["id"], "succeeded"))
    request = receiver.requests[-1]
    assert request.verified
    header = request.headers["x-motcua-signature"]
    assert header.count("v1=") == 2 and verify(old, request.body, header)  # an integrator not yet switched

    # The old secret leaked: rotate again with no grace period.
    r = await service.post(f"/webhooks/subscriptions/{subscription['id']}/secret", headers=ADMIN,
                           json={"previous_secret_valid_seconds": 0})
    newest = r.json()["secret"]
    assert r.json()["previous_secret_expires_at"] is None
    receiver.secret = newest
    await publish(service, received_event("000.00.21.H49-261123-0008"))
    await eventually(lambda: settled(service, subscription["id"], "succeeded", 2))
    request = receiver.requests[-1]
    assert request.verified and request.headers["x-motcua-signature"].count("v1=") == 1
    assert not verify(new, request.body, request.headers["x-motcua-signature"])


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "slug", "named"), [
    ({"url": "https://portal.example.vn/hooks", "event_types": ["vn.motcua.dossier.teleported.v1"]},
     422, "unknown-event-type", ["vn.motcua.dossier.teleported.v1", RECEIVED]),
    # Known to the contracts, but on no topic the webhooks consume: it would never be delivered.
    ({"url": "https://portal.example.vn/hooks", "event_types": ["vn.motcua.notification.recorded.v1"]},
     422, "unknown-event-type", ["vn.motcua.notification.recorded.v1"]),
    ({"url": "ftp://portal.example.vn/hooks", "event_types": [RECEIVED]}, 422, "invalid-webhook-url", ["ftp"]),
    ({"url": "https://portal.example.vn:99999/hooks", "event_types": [RECEIVED]}, 422, "invalid-webhook-url", []),
    ({"url": "https:///hooks", "event_types": [RECEIVED]}, 422, "invalid-webhook-url", ["no host"]),
    ({"url": "https://integrator:hunter2@portal.example.vn/hooks", "event_types": [RECEIVED]},
     422, "invalid-webhook-url", ["user name or password"]),
    ({"url": "https://portal.example.vn/hooks", "event_types": []}, 422, "validation-error", ["body.event_types"]),
    ({"url": "https://portal.example.vn/hooks", "event_types": [RECEIVED], "secret": "mine"},
     422, "validation-error", ["body.secret"]),
    ({"event_types": [RECEIVED]}, 422, "validation-error", ["body.url"]),
])
async def test_a_bad_subscription_is_refused_naming_the_problem(service, body, status, slug, named):
    r = await service.post("/webhooks/subscriptions", headers=ADMIN, json=body)
    answer = problem(r, status, slug)
    for word in named:
        assert word in answer["detail"]
    assert "hunter2" not in r.text  # a password in a URL is not echoed back
    assert (await service.get("/webhooks/subscriptions", headers=ADMIN)).json()["items"] == []


async def test_plain_http_is_refused_unless_the_deployment_allows_it(store):
    async with platform(store, WebhookSettings()) as service:
        r = await service.post("/webhooks/subscriptions", headers=ADMIN,
                               json={"url": "http://portal.example.vn/hooks", "event_types": [RECEIVED]})
        assert "https" in problem(r, 422, "invalid-webhook-url")["detail"]
        r = await service.post("/webhooks/subscriptions", headers=ADMIN,
                               json={"url": "https://portal.example.vn/hooks", "event_types": [RECEIVED]})
        assert r.status_code == 201


async def test_bad_changes_are_refused(service, receiver):
    subscription = await subscribe(service, receiver)
    path = f"/webhooks/subscriptions/{subscription['id']}"
    problem(await service.patch(path, headers=ADMIN, json={"url": "ftp://x.example.vn/"}), 422, "invalid-webhook-url")
    problem(await service.patch(path, headers=ADMIN, json={"event_types": ["nope"]}), 422, "unknown-event-type")
    problem(await service.patch(path, headers=ADMIN, json={"url": None}), 422, "validation-error")
    problem(await service.patch(path, headers=ADMIN, json={"secret": "mine"}), 422, "validation-error")
    problem(await service.patch(path, headers={**ADMIN, "content-type": "application/json"}, content=b"{not json"),
            400, "malformed-json")
    problem(await service.post(f"{path}/secret", headers=ADMIN, json={"previous_secret_valid_seconds": -1}),
            422, "validation-error")
    problem(await service.get(f"{path}/deliveries", headers=ADMIN, params={"status": "lost"}), 422, "validation-error")
    problem(await service.get(f"{path}/deliveries", headers=ADMIN, params={"cursor": "garbage!"}), 422,
            "invalid-cursor")
    await subscribe(service, receiver, endpoint="second")
    another_listing = (await service.get("/webhooks/subscriptions", headers=ADMIN, params={"limit": 1})).json()
    problem(await service.get(f"{path}/deliveries", headers=ADMIN, params={"cursor": another_listing["next_cursor"]}),
            422, "invalid-cursor")
    problem(await service.get("/webhooks/subscriptions", headers=ADMIN, params={"limit": 0}), 422, "validation-error")
    assert (await service.get(path, headers=ADMIN)).json()["url"] == receiver.endpoint()  # nothing changed


async def test_a_replay_for_an_inactive_subscription_is_refused(service, receiver):
    subscription = await subscribe(service, receiver)
    await publish(service, received_event())
    [logged] = await eventually(lambda: settled(service, subscription["id"], "succeeded"))
    await service.patch(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN, json={"active": False})
    problem(await service.post(f"/webhooks/deliveries/{logged['id']}/replay", headers=ADMIN), 409,
            "subscription-inactive")
    problem(await service.post(f"/webhooks/subscriptions/{subscription['id']}/replay", headers=ADMIN), 409,
            "subscription-inactive")


ROUTES = [
    ("get", "/webhooks/subscriptions/{sid}", None),
    ("patch", "/webhooks/subscriptions/{sid}", {"active": False}),
    ("delete", "/webhooks/subscriptions/{sid}", None),
    ("post", "/webhooks/subscriptions/{sid}/secret", None),
    ("get", "/webhooks/subscriptions/{sid}/deliveries", None),
    ("post", "/webhooks/subscriptions/{sid}/replay", None),
    ("get", "/webhooks/deliveries/{did}", None),
    ("post", "/webhooks/deliveries/{did}/replay", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_unknown_ids_are_404(service, method, path, body):
    kwargs = {"json": body} if body else {}
    r = await service.request(method.upper(), path.format(sid="no-such-subscription", did="no-such-delivery"),
                              headers=ADMIN, **kwargs)
    answer = problem(r, 404, "not-found")
    assert "no-such-" in answer["detail"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/webhooks/subscriptions", {"url": "https://x.example.vn/", "event_types": [RECEIVED]}),
    ("get", "/webhooks/subscriptions", None), *ROUTES])
async def test_webhooks_are_for_administrators_only(service, receiver, method, path, body):
    subscription = await subscribe(service, receiver)
    await publish(service, received_event())
    [logged] = await eventually(lambda: settled(service, subscription["id"], "succeeded"))
    url = path.format(sid=subscription["id"], did=logged["id"])
    kwargs = {"json": body} if body else {}
    officer = await service.request(method.upper(), url, headers=as_user("leader1", "leader", "reception_officer"),
                                    **kwargs)
    problem(officer, 403, "forbidden-role")
    problem(await service.request(method.upper(), url, **kwargs), 401, "unauthenticated")
    # The wrong role learns nothing of the body's rules either.
    problem(await service.request(method.upper(), url, headers=as_user("c1", "citizen"), json={"x": 1}), 403,
            "forbidden-role")
    assert (await service.get(f"/webhooks/subscriptions/{subscription['id']}", headers=ADMIN)).json()["active"]


# --- logs -------------------------------------------------------------------------------------------------------


async def test_logs_carry_ids_and_hosts_never_personal_data_or_secrets(service, receiver, caplog):
    # The level a deployment runs at; ours at DEBUG too. (Below INFO, database drivers log their parameters:
    # kit.telemetry keeps them at WARNING.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="notification.webhooks")
    subscription = await subscribe(service, receiver)
    rotated = (await service.post(f"/webhooks/subscriptions/{subscription['id']}/secret", headers=ADMIN)).json()
    receiver.secret = rotated["secret"]
    receiver.fail_next(1, 500)
    await publish(service, received_event())
    [logged] = await eventually(lambda: settled(service, subscription["id"], "succeeded"))

    text = caplog.text
    for secret_or_personal in (PHONE, EMAIL, "Nguyễn Văn An", subscription["secret"], rotated["secret"]):
        assert secret_or_personal not in text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "notification.webhooks")
    assert logged["id"] in ours and subscription["id"] in ours and "HTTP 500" in ours
    assert "127.0.0.1" in ours and "/hooks/" not in ours  # the host, never the path (it may hold a token)


# --- rules, without I/O -------------------------------------------------------------------------------------------


def test_signatures_bind_secret_time_and_body():
    body = b'{"id":"1"}'
    header = sign("s3cret", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify("s3cret", body, header, now=1_700_000_100, tolerance=300)
    assert not verify("s3cret", body, header, now=1_700_000_301, tolerance=300)  # too old: a replay
    assert not verify("s3cret", body, header, now=1_699_999_699, tolerance=300)  # from the future
    assert not verify("other", body, header, now=1_700_000_000)
    assert not verify("s3cret", body + b" ", header, now=1_700_000_000)
    # A forged timestamp breaks the signature.
    assert not verify("s3cret", body, header.replace("t=1700000000", "t=1700000100"), now=1_700_000_100)
    rotating = sign(["new", "old"], body, 1_700_000_000)
    assert verify("new", body, rotating, now=1_700_000_000) and verify("old", body, rotating, now=1_700_000_000)


@pytest.mark.parametrize("header", [None, "", "garbage", "v1=abc", "t=abc,v1=abc", "t=1700000000",
                                    "t=1700000000,t=1700000000,v1=00", "t=1700000000,v1=ÿ"])
def test_a_malformed_signature_is_invalid_not_an_error(header):
    assert verify("s3cret", b"{}", header, now=1_700_000_000) is False


def test_the_backoff_doubles_up_to_its_cap():
    policy = RetryPolicy(attempts=8, backoff_seconds=2, max_backoff_seconds=600)
    assert [policy.delay(n).total_seconds() for n in range(1, 11)] == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600]
    assert policy.delay(1000) == timedelta(seconds=600)


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://portal.example.vn/hooks?x=1", True), ("http://127.0.0.1:8080/hooks", True),
    ("ftp://portal.example.vn/", False), ("javascript:alert(1)", False), ("https://a b.vn/", False),
    ("https://user@portal.example.vn/", False), ("//portal.example.vn/", False), ("", False),
])
def test_webhook_urls(url, allowed):
    if allowed:
        assert check_url(url, allow_plain_http=True) == url
    else:
        with pytest.raises(InvalidWebhookUrl):
            check_url(url, allow_plain_http=True)


def test_unknown_event_types_are_named_with_the_known_ones():
    assert check_event_types([RECEIVED, RECEIVED], [RECEIVED, PAID]) == [RECEIVED]
    with pytest.raises(UnknownEventType) as error:
        check_event_types([RECEIVED, "vn.motcua.x.v1"], [RECEIVED, PAID])
    assert "vn.motcua.x.v1" in error.value.detail and PAID in error.value.detail


def test_a_delivery_id_is_one_per_event_and_subscription():
    assert delivery_id("e1", "s1") == delivery_id("e1", "s1")
    assert len({delivery_id("e1", "s1"), delivery_id("e1", "s2"), delivery_id("e2", "s1")}) == 3
