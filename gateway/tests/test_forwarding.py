"""What the gateway sends on: the right upstream for every route, the verified user (and only that) in
the X-User-* headers, a request id, the request itself unchanged; and clear problems when it cannot."""

import asyncio
import re
from urllib.parse import unquote

import pytest

from gateway.settings import GatewaySettings

from gateway.app import create_app
from gateway.roles import ROUTES
from gateway.routes import UPSTREAM_BY_SEGMENT
from kit.testing import serving

from .conftest import (bearer, bound_socket, echo_app, gateway_settings, is_problem, running, seen_headers, signed_in,
                       url_of, user)

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORGED = {"X-User-Id": "admin1", "X-User-Roles": "admin,leader", "X-User-Agency": "000.00.00.G01",
          "X-User-Name": "Mallory", "X-User-Extra": "anything"}


# --- identity headers -------------------------------------------------------------------------------

async def test_client_sent_user_headers_never_reach_a_service_without_a_token(gateway, echo):
    r = await gateway.get("/api/v1/procedures", headers=FORGED)
    assert r.status_code == 200, r.text
    [seen] = echo.received
    assert not [k for k, _ in seen["headers"] if k.lower().startswith("x-user-")], seen["headers"]
    assert seen["caller"] == {"subject": None, "roles": [], "agency": None}


async def test_with_a_token_the_service_sees_only_the_verified_user(gateway, echo):
    r = await gateway.get("/api/v1/queues/intake", headers={**signed_in(gateway, "reception1"), **FORGED})
    assert r.status_code == 200, r.text
    [seen] = echo.received
    assert seen_headers(seen, "X-User-Id") == ["reception1"]
    assert seen_headers(seen, "X-User-Roles") == ["reception_officer"]
    assert seen_headers(seen, "X-User-Agency") == ["000.00.21.H49"]
    [name] = seen_headers(seen, "X-User-Name")
    assert unquote(name) == "Trần Thị Bình"
    assert seen_headers(seen, "X-User-Extra") == []
    # ... and that is the caller a service reads through kit.identity
    assert seen["caller"] == {"subject": "reception1", "roles": ["reception_officer"], "agency": "000.00.21.H49"}


async def test_a_user_without_an_agency_cannot_gain_one_from_a_header(gateway, echo):
    r = await gateway.get("/api/v1/messages/mine", headers={**signed_in(gateway, "citizen1"),
                                                       "x-user-agency": "000.00.21.H49"})
    assert r.status_code == 200, r.text
    [seen] = echo.received
    assert seen_headers(seen, "X-User-Agency") == []
    assert seen["caller"]["subject"] == "citizen1" and seen["caller"]["agency"] is None


@pytest.mark.parametrize("signed", [False, True], ids=["public route, no token", "with a token"])
async def test_the_authorization_header_is_not_forwarded(gateway, echo, signed):
    token = gateway.issuer.token_for(user("citizen1"))
    r = await gateway.get("/api/v1/procedures", headers=bearer(token) if signed else {})
    assert r.status_code == 200, r.text
    [seen] = echo.received
    assert seen_headers(seen, "Authorization") == []
    assert not any(token in v for _, v in seen["headers"])


async def test_a_request_id_is_made_sent_on_and_echoed_back(gateway, echo):
    r = await gateway.get("/api/v1/procedures")
    request_id = r.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert seen_headers(echo.received[0], "X-Request-Id") == [request_id]

    again = await gateway.get("/api/v1/procedures")
    assert again.headers["x-request-id"] != request_id


async def test_a_client_request_id_is_kept(gateway, echo):
    r = await gateway.post("/api/v1/lookup", json={}, headers={"X-Request-Id": "client-chosen-42"})
    assert r.headers["x-request-id"] == "client-chosen-42"
    assert seen_headers(echo.received[0], "X-Request-Id") == ["client-chosen-42"]


async def test_the_request_and_the_answer_pass_through_unchanged(gateway, echo):
    r = await gateway.post("/api/v1/petitions?lang=vi&tag=a&tag=b", json={"content": "Đường ngập nước"},
                           headers={"X-Echo-Status": "201", "Idempotency-Key": "k-1"})
    assert r.status_code == 201
    assert r.headers["x-echo"] == "yes" and r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"] == "application/json"
    [seen] = echo.received
    assert seen["method"] == "POST" and seen["path"] == "/feedback/petitions"
    assert seen["query"] == [["lang", "vi"], ["tag", "a"], ["tag", "b"]]
    assert seen["body"] == '{"content":"Đường ngập nước"}'
    assert seen_headers(seen, "Idempotency-Key") == ["k-1"]
    assert seen_headers(seen, "Content-Type") == ["application/json"]
    assert r.json() == seen


async def test_an_upstream_problem_reaches_the_client_as_it_was(gateway, echo):
    r = await gateway.get("/api/v1/procedures/9.999999", headers={"X-Echo-Status": "404"})
    assert r.status_code == 404
    assert r.json()["path"] == "/catalog/procedures/9.999999"


async def test_a_body_over_the_limit_is_refused_before_it_reaches_a_service(gateway, echo):
    limit = GatewaySettings().max_body_bytes
    r = await gateway.post("/api/v1/petitions", content=b"x" * (limit + 1),
                           headers={"Content-Type": "application/json"})
    is_problem(r, 413, "payload-too-large")
    assert echo.received == []


# --- routing ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("segment, upstream", sorted(UPSTREAM_BY_SEGMENT.items()))
async def test_every_segment_goes_to_its_upstream(gateway, echo, segment, upstream):
    # the first GET route of the role matrix under this segment, by a demo user it admits
    route = next(r for r in ROUTES if r.method == "GET" and r.path.split("/")[1] == segment)
    username = next(name for name in ("admin1", "reception1", "citizen1") if route.allows(user(name).roles))
    path = re.sub(r"\{[^}]+\}", "A-1", route.path)
    r = await gateway.get(f"/api/v1{path}", params={"q": "x"}, headers=signed_in(gateway, username))
    assert r.status_code == 200, r.text
    [seen] = echo.received
    assert seen["path"] == f"/{upstream}{path}"
    assert seen["query"] == [["q", "x"]]
    assert seen["caller"]["subject"] == username


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/Procedures", "/api/v1/", "/api/v1/procedure",
                                  "/api/v2/procedures", "/procedures"])
async def test_an_unknown_route_is_a_404_problem(gateway, echo, path):
    r = await gateway.get(path, headers=signed_in(gateway, "admin1"))
    is_problem(r, 404, "not-found")
    assert echo.received == []


@pytest.mark.parametrize(("method", "path", "public"), [
    ("GET", "/api/v1/payments/providers/vnpay/ipn", True),
    ("GET", "/api/v1/payments/providers/vnpay/return", True),
    ("POST", "/api/v1/payments/providers/vnpay/ipn", False),
    ("GET", "/api/v1/payments/providers/vnpay/ipn/x", False),
    ("GET", "/api/v1/payments/dossiers/000.00.21.H49-261123-0003", False),
    ("GET", "/api/v1/payments/261123ABCDEF012345", False),
    ("POST", "/api/v1/payments", False),
])
async def test_the_payment_provider_s_callbacks_are_the_only_public_payment_routes(gateway, echo, method, path,
                                                                                    public):
    r = await gateway.request(method, path, params={"vnp_TxnRef": "X", "vnp_SecureHash": "ab"})
    if public:
        assert r.status_code == 200, r.text
        [seen] = echo.received
        assert seen["path"] == f"/payment{path.removeprefix('/api/v1')}" and seen["caller"]["subject"] is None
        assert seen["query"] == [["vnp_TxnRef", "X"], ["vnp_SecureHash", "ab"]]  # the signed query, as sent
    else:
        is_problem(r, 401, "unauthenticated")
        assert echo.received == []


@pytest.mark.parametrize(("method", "path", "public"), [
    ("POST", "/api/v1/notifications/sms/sandbox-primary/reports", True),
    ("GET", "/api/v1/notifications/sms/sandbox-primary/reports", False),
    ("POST", "/api/v1/notifications/sms/sandbox-primary/reports/x", False),
    ("GET", "/api/v1/notifications/preferences/me", False),
    ("PUT", "/api/v1/notifications/templates/dossier.received", False),
    ("POST", "/api/v1/webhooks/subscriptions", False),
])
async def test_sms_delivery_reports_are_the_only_public_notification_route(gateway, echo, method, path, public):
    r = await gateway.request(method, path, content=b'{"client_ref": "msg-1"}', headers={"X-Signature": "ab"})
    if public:
        assert r.status_code == 200, r.text
        [seen] = echo.received
        assert seen["path"] == f"/notification{path.removeprefix('/api/v1')}" and seen["caller"]["subject"] is None
    else:
        is_problem(r, 401, "unauthenticated")
        assert echo.received == []


@pytest.mark.parametrize(("method", "path", "public"), [
    ("POST", "/api/v1/petitions", True),
    ("GET", "/api/v1/petitions/published", True),
    ("GET", "/api/v1/petitions/published/PAKN-261123-0A1B2C3D", True),
    ("GET", "/api/v1/ratings/invitations/tok", True),
    ("POST", "/api/v1/ratings/invitations/tok", True),
    ("GET", "/api/v1/open311/v2/services.json", True),
    ("POST", "/api/v1/open311/v2/requests.xml", True),
    ("GET", "/api/v1/petitions", False),
    ("GET", "/api/v1/petitions/PAKN-261123-0A1B2C3D", False),
    ("POST", "/api/v1/petitions/PAKN-261123-0A1B2C3D/accept", False),
    ("POST", "/api/v1/petitions/recorded", False),
    ("GET", "/api/v1/ratings/summary", False),
    ("POST", "/api/v1/open311/v2/services.json", False),
])
async def test_the_public_feedback_routes(gateway, echo, method, path, public):
    r = await gateway.request(method, path)
    if public:
        assert r.status_code == 200, r.text
        [seen] = echo.received
        assert seen["path"] == f"/feedback{path.removeprefix('/api/v1')}" and seen["caller"]["subject"] is None
    else:
        is_problem(r, 401, "unauthenticated")
        assert echo.received == []


async def test_an_unknown_route_is_a_404_even_without_a_token(gateway, echo):
    is_problem(await gateway.post("/api/v1/nothing-here", json={}), 404, "not-found")


# --- upstream failures ------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_upstream_that_is_down_is_a_503_problem_with_retry_after(down, method):
    app = create_app(gateway_settings(down=down))
    async with serving(app) as client:
        headers = bearer(app.state.dev_issuer.token_for(user("citizen1" if method == "POST" else "reception1")))
        path = "/api/v1/dossiers" if method == "POST" else "/api/v1/queues/intake"
        r = await client.request(method, path, headers=headers, json={} if method == "POST" else None)
    body = is_problem(r, 503, "upstream-unavailable")
    assert int(r.headers["retry-after"]) > 0
    assert "dossier" in body["detail"]


async def test_only_the_upstream_that_is_down_fails(echo, down):
    app = create_app(gateway_settings(down=down, catalog_url=f"{echo.url}/catalog"))
    async with serving(app) as client:
        assert (await client.get("/api/v1/procedures")).status_code == 200
        is_problem(await client.post("/api/v1/lookup", json={}), 503, "upstream-unavailable")
        assert (await client.get("/api/v1/agencies")).status_code == 200


async def test_an_upstream_that_comes_back_is_used_again(down):
    """The catalogue's port refuses connections, then the catalogue starts on it: the same gateway
    process reaches it without a restart."""
    received: list[dict] = []
    sock = bound_socket()
    app = create_app(gateway_settings(down=down, catalog_url=f"{url_of(sock)}/catalog"))
    async with serving(app) as client:
        is_problem(await client.get("/api/v1/procedures"), 503, "upstream-unavailable")
        async with running(echo_app(received), sock):
            assert (await client.get("/api/v1/procedures")).status_code == 200
    assert [r["path"] for r in received] == ["/catalog/procedures"]


async def test_an_upstream_that_does_not_answer_in_time_is_a_504_problem(echo, down):
    app = create_app(gateway_settings(down=down, catalog_url=f"{echo.url}/slow/0.5", upstream_timeout_seconds=0.1))
    async with serving(app) as client:
        r = await client.get("/api/v1/procedures")
    body = is_problem(r, 504, "upstream-timeout")
    assert "catalog" in body["detail"]


async def test_an_upstream_that_keeps_failing_is_answered_at_once_until_its_cool_down(down):
    """After three failures in a row the circuit opens: the next requests get 503 without waiting on the
    upstream, with Retry-After for the cool-down; once the upstream is back and the cool-down over, a trial
    goes through and closes it."""
    received: list[dict] = []
    sock = bound_socket()
    app = create_app(gateway_settings(down=down, catalog_url=f"{url_of(sock)}/catalog",
                                      upstream_breaker_failures=3, upstream_breaker_cooldown_seconds=1.0))
    async with serving(app) as client:
        for _ in range(3):
            is_problem(await client.get("/api/v1/procedures"), 503, "upstream-unavailable")
        async with running(echo_app(received), sock):
            r = await client.get("/api/v1/procedures")  # open: refused without asking the (now running) catalogue
            is_problem(r, 503, "upstream-unavailable")
            assert 1 <= int(r.headers["retry-after"]) <= 1 and received == []
            await asyncio.sleep(1.1)
            assert (await client.get("/api/v1/procedures")).status_code == 200  # the trial closes it
            assert (await client.get("/api/v1/agencies")).status_code == 200
    assert [r["path"] for r in received] == ["/catalog/procedures", "/catalog/agencies"]


async def test_an_upstream_holding_its_share_of_requests_sheds_the_next_at_once(echo, down):
    """Two requests in flight to a slow catalogue, its bound: a third is answered 503 with Retry-After
    at once (not after the upstream timeout), the two finish, and the next request is forwarded again.
    Other upstreams are not affected."""
    app = create_app(gateway_settings(down=down, catalog_url=f"{echo.url}/slow/1.0", lookup_url=f"{echo.url}/lookup",
                                      upstream_max_in_flight_by_name={"catalog": 2}, upstream_timeout_seconds=5))
    async with serving(app) as client:
        held = [asyncio.create_task(client.get("/api/v1/procedures")) for _ in range(2)]
        await asyncio.sleep(0.3)  # both are with the catalogue now
        started = asyncio.get_running_loop().time()
        shed = await client.get("/api/v1/procedures")
        waited = asyncio.get_running_loop().time() - started
        body = is_problem(shed, 503, "upstream-overloaded")
        assert shed.headers["retry-after"] == "1" and "catalog" in body["detail"]
        assert waited < 0.5  # it did not wait for the held ones
        assert (await client.post("/api/v1/lookup", json={})).status_code == 200  # another upstream: forwarded
        assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
        assert (await client.get("/api/v1/procedures")).status_code == 200  # room again
        metrics = (await client.get("/metrics")).text
    assert any(line.startswith("motcua_gateway_shed_total") and 'upstream="catalog"' in line
               for line in metrics.splitlines())


async def test_an_in_flight_bound_for_an_unknown_upstream_is_refused_at_start():
    with pytest.raises(ValueError, match="unknown upstream"):
        GatewaySettings(upstream_max_in_flight_by_name={"catalogue": 5})
