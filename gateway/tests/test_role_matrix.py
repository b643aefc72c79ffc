"""The role matrix (gateway/roles.py), route by route.

1. At the gateway: every row of the table, called by every role and anonymously, in front of an echo
   upstream: allowed → forwarded with the verified user; denied → 403 `forbidden-role` (401 without a
   token), and the upstream saw nothing. Routes not in the table are a 404.
2. Against the services, so the table cannot drift from them: the table's routes are exactly the
   services' routes; its role groups are the services' own constants; and for a sample of routes of
   every service, the REAL service app (in-process, with the identity headers the gateway sets) allows
   and refuses the same roles as the table.
3. The identity must-shows not already in test_identity.py / test_forwarding.py: bad tokens on a route
   the claimed role may call, a wrong role, and client-sent X-User-* headers in odd casing or repeated."""

import contextlib
import json
import time
from types import SimpleNamespace
from urllib.parse import unquote

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway import roles, routes
from gateway.app import create_app
from gateway.identity import DEMO_USERS
from gateway.roles import ROLES, ROUTES, route_for
from kit.bus.memory import MemoryBus
from kit.testing import as_user, serving

from .conftest import UPSTREAMS, bearer, gateway_settings, is_problem, seen_headers, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

ANONYMOUS = "anonymous"
CALLERS = (ANONYMOUS, *ROLES)
# The first demo user of each role (each demo user has exactly one role).
USER_OF = {role: next(u for u in DEMO_USERS if u.roles == (role,)) for role in ROLES}
CODE = "000.00.21.H49-261123-0001"
# A value for each path placeholder, chosen so the filled path matches its own row first.
SAMPLE = {"code": CODE, "format": "json", "queue": "intake", "number": "1", "version": "1", "rest": "a/b"}
WITH_BODY = {"POST", "PUT", "PATCH"}


def example(route: roles.Route) -> str:
    path = route.path.replace("{rest:path}", SAMPLE["rest"])
    for name in ("code", "format", "queue", "number", "version"):
        path = path.replace(f"{{{name}}}", SAMPLE[name])
    while "{" in path:  # any other identifier
        start = path.index("{")
        path = path[:start] + "X-1" + path[path.index("}", start) + 1:]
    return path


def row_id(route: roles.Route) -> str:
    return f"{route.method} {route.path}"


def expected(route: roles.Route, caller: str) -> str:
    if route.public or caller in route.roles:
        return "allowed"
    return "unauthenticated" if caller == ANONYMOUS else "forbidden"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def matrix_gateway(echo_server, down):
    """The gateway in front of the echo upstream, without rate limits (a route × role sweep is hundreds of
    requests from one client)."""
    app = create_app(gateway_settings(down=down, rate_limits=False,
                                      **{f"{name}_url": f"{echo_server.url}/{name}" for name in UPSTREAMS}))
    async with serving(app) as client:
        client.issuer = app.state.dev_issuer
        yield client


@pytest.fixture
def gw(matrix_gateway, echo):
    return matrix_gateway


def headers_of(client, caller: str) -> dict[str, str]:
    return {} if caller == ANONYMOUS else signed_in(client, USER_OF[caller].username)


# --- 1. the table at the gateway ----------------------------------------------------------------------

async def test_the_table_is_well_formed():
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys)), "a route listed twice"
    for route in ROUTES:
        assert routes.upstream_for(route.path) is not None, route
        assert route.public or route.roles, route
        # its example reaches this row, not an earlier one that shadows it
        assert route_for(route.method, example(route)) is route, (route, example(route))
    assert {role for r in ROUTES if not r.public for role in r.roles} == set(ROLES), "a role no route admits"


async def test_the_public_routes_are_the_public_rows_of_the_table():
    for route in ROUTES:
        assert routes.is_public(route.method, example(route)) is route.public, route
    assert len(routes.PUBLIC_ROUTES) == sum(r.public for r in ROUTES)
    assert routes.is_public("HEAD", "/procedures") and routes.is_public("HEAD", f"/lookup/{CODE}")
    assert not routes.is_public("GET", "/nothing") and not routes.is_public("POST", "/procedures")


@pytest.mark.parametrize("route", ROUTES, ids=row_id)
async def test_every_role_on_every_route(gw, echo, route):
    path = example(route)
    upstream = routes.upstream_for(path)
    wrong = []
    for caller in CALLERS:
        echo.received.clear()
        r = await gw.request(route.method, f"/api/v1{path}", headers=headers_of(gw, caller),
                             content=b"{}" if route.method in WITH_BODY else None)
        outcome = expected(route, caller)
        if outcome == "allowed":
            ok = (r.status_code == 200 and len(echo.received) == 1
                  and echo.received[0]["path"] == f"/{upstream}{path}" and echo.received[0]["method"] == route.method
                  and echo.received[0]["caller"]["subject"] == (None if caller == ANONYMOUS
                                                                 else USER_OF[caller].username))
        elif outcome == "unauthenticated":
            ok = (r.status_code == 401 and r.json()["type"] == "/problems/unauthenticated"
                  and r.headers["www-authenticate"] == "Bearer" and echo.received == [])
        else:
            body = r.json()
            ok = (r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
                  and body["type"] == "/problems/forbidden-role" and body["required_roles"] == sorted(route.roles)
                  and all(role in body["detail"] for role in route.roles) and echo.received == [])
        if not ok:
            wrong.append(f"{caller}: expected {outcome}, got {r.status_code} {r.text[:200]} (upstream saw "
                         f"{len(echo.received)})")
    assert not wrong, "\n".join(wrong)


async def test_head_is_judged_as_get(gw, echo):
    r = await gw.request("HEAD", "/api/v1/procedures")
    assert r.status_code == 200
    echo.received.clear()
    r = await gw.request("HEAD", f"/api/v1/dossiers/{CODE}", headers=signed_in(gw, "citizen1"))
    assert r.status_code == 403 and echo.received == []
    r = await gw.request("HEAD", f"/api/v1/dossiers/{CODE}", headers=signed_in(gw, "reception1"))
    assert r.status_code == 200 and [e["method"] for e in echo.received] == ["HEAD"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/dossiers"),  # there is no list of dossiers: the work queues are
    ("DELETE", f"/dossiers/{CODE}"),
    ("POST", f"/dossiers/{CODE}/approve-everything"),
    ("POST", f"/dossiers/{CODE}/receive/again"),
    ("GET", "/procedures/1.000894/sub"),
    ("PATCH", "/procedures/1.000894"),
    ("POST", "/petitions/PAKN-261123-0A1B2C3D/close"),  # not a petition action
    ("POST", "/payments/providers/vnpay/ipn"),
    ("GET", "/webhooks"),
    ("PUT", "/lookup/X"),
])
@pytest.mark.parametrize("username", ["admin1", "citizen1"])
async def test_a_route_not_in_the_table_is_a_404_for_a_signed_in_user(gw, echo, method, path, username):
    r = await gw.request(method, f"/api/v1{path}", headers=signed_in(gw, username),
                         content=b"{}" if method in WITH_BODY else None)
    is_problem(r, 404, "not-found")
    assert echo.received == []


async def test_without_a_token_a_route_not_in_the_table_is_a_401_so_the_route_map_stays_private(gw, echo):
    r = await gw.request("DELETE", f"/api/v1/dossiers/{CODE}")
    is_problem(r, 401, "unauthenticated")
    assert echo.received == []


async def test_a_user_with_several_roles_is_allowed_by_any_of_them(gw, echo):
    claims = {"iss": gw.issuer.issuer, "aud": gw.issuer.audience, "sub": "multi1", "roles": ["citizen", "leader"],
              "exp": int(time.time()) + 60}
    token = jwt.encode(claims, gw.issuer.key, algorithm="RS256", headers={"kid": gw.issuer.kid})
    assert (await gw.post(f"/api/v1/dossiers/{CODE}/approve", headers=bearer(token))).status_code == 200
    assert (await gw.post("/api/v1/payments", headers=bearer(token), json={})).status_code == 200
    is_problem(await gw.post("/api/v1/payments/counter", headers=bearer(token), json={}), 403, "forbidden-role")
    assert [e["path"] for e in echo.received] == [f"/dossier/dossiers/{CODE}/approve", "/payment/payments"]


async def test_an_unknown_role_in_a_token_opens_nothing(gw, echo):
    claims = {"iss": gw.issuer.issuer, "aud": gw.issuer.audience, "sub": "root", "roles": ["superuser", "*"],
              "exp": int(time.time()) + 60}
    token = jwt.encode(claims, gw.issuer.key, algorithm="RS256", headers={"kid": gw.issuer.kid})
    for route in ROUTES:
        if not route.public:
            r = await gw.request(route.method, f"/api/v1{example(route)}", headers=bearer(token))
            assert r.status_code == 403, (route, r.text)
    assert echo.received == []


# --- 2. the table against the services ------------------------------------------------------------------

def service_routes(tmp_path) -> set[tuple[str, str]]:
    """(method, path) of every route the six services serve, from their own OpenAPI documents."""
    from catalog.app import create_app as catalog_app
    from catalog.settings import CatalogSettings
    from dossier.app import create_app as dossier_app
    from dossier.lookup.app import create_app as lookup_app
    from dossier.settings import LookupSettings
    from dossier.settings import DossierSettings
    from feedback.api import ACTIONS
    from feedback.app import create_app as feedback_app
    from feedback.settings import FeedbackSettings
    from notification.app import create_app as notification_app
    from notification.settings import NotificationSettings
    from payment.app import create_app as payment_app
    from payment.settings import PaymentSettings

    sqlite = {"store": "sqlite", "sqlite_dir": tmp_path}
    apps = [catalog_app(CatalogSettings(**sqlite)), dossier_app(DossierSettings(**sqlite)),
            lookup_app(LookupSettings()), payment_app(PaymentSettings(**sqlite)),
            notification_app(NotificationSettings(**sqlite)), feedback_app(FeedbackSettings(**sqlite))]
    found = set()
    for app in apps:
        for path, operations in app.openapi()["paths"].items():
            if path.startswith("/health/"):
                continue
            for method in operations:
                if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                    if path == "/petitions/{petition_id}/{action}":
                        found |= {(method.upper(), f"/petitions/{{petition_id}}/{a}") for a in ACTIONS}
                    else:
                        found.add((method.upper(), path))
    return found


async def test_the_table_lists_exactly_the_services_routes(tmp_path):
    served = service_routes(tmp_path)
    # Open311's catch-all (hidden from the service's OpenAPI document) answers an Open311 error document.
    listed = {(r.method, r.path) for r in ROUTES} - {("GET", "/open311/v2/{rest:path}")}
    assert sorted(served - listed) == [], "routes the services serve and the table does not list"
    assert sorted(listed - served) == [], "rows for routes no service serves"


async def test_the_role_groups_are_the_services_own():
    import catalog.api
    import dossier.api
    import dossier.api_intake
    import dossier.api_reports
    import dossier.domain
    import dossier.queues
    import feedback.petitions
    import feedback.ratings
    import notification.api
    import notification.api_library
    import payment.handlers

    assert roles.CATALOG_ADMINS == set(catalog.api.ADMINS)
    assert roles.DOSSIER_OFFICERS == set(dossier.api.OFFICERS)
    assert roles.DOWNLOADERS == set(dossier.api_intake.DOWNLOADERS)
    assert roles.QUEUE_ROLES == set(dossier.queues.QUEUE_ROLES)
    assert roles.REPORT_ROLES == set(dossier.api_reports.REPORT_ROLES)
    assert roles.PAYMENT_STAFF == set(payment.handlers.STAFF)
    assert roles.MONEY_STAFF == set(payment.handlers.MONEY_STAFF)
    assert roles.MESSAGE_OFFICERS == set(notification.api.OFFICERS)
    assert roles.LIBRARY_READERS == set(notification.api_library.READERS)
    assert set(notification.api_library.EDITORS) == {roles.ADMIN}
    assert roles.CENTRE == set(feedback.petitions.CENTRE)
    assert roles.AGENCY_STAFF == set(feedback.petitions.AGENCY_STAFF)
    assert roles.SUMMARY_ROLES == set(feedback.ratings.SUMMARY_ROLES)
    # one row per lifecycle action, with the roles of its rule (the system's own role is no user's)
    assert {a.value.replace("_", "-"): set(rule.roles) - {dossier.domain.SYSTEM}
            for a, rule in dossier.domain.RULES.items()} == roles.DOSSIER_ACTIONS
    assert {a.replace("_", "-"): set(rule.roles) for a, rule in feedback.petitions.RULES.items()} \
        == roles.PETITION_ACTIONS


TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
SUBMISSION = {
    "procedure_code": "1.000894",
    "applicant": {"name": "Nguyễn Văn An", "id_number": "022090001234", "phone": "0912345678",
                  "email": "an@example.vn", "address": "Phường Hồng Gai, Hạ Long, Quảng Ninh"},
    "documents": [{"code": "TK", "originals": 1, "files": ["TK.pdf"]},
                  {"code": "XNTTHN", "originals": 1, "files": ["XNTTHN.pdf"]}],
    "result_channel": "online",
}
PETITION = {"category": "conduct", "title": "Cán bộ hẹn lại nhiều lần",
            "content": "Tôi đến nộp hồ sơ ba lần nhưng cán bộ tiếp nhận đều hẹn lại mà không ghi phiếu.",
            "submitter": {"name": "Trần Thị Hoa", "phone": "0912345678"}}
# A body every dossier action's model accepts (they ignore the fields they do not know).
ANY_DOSSIER_ACTION = {"reason": "Kiểm tra quyền / role check", "to_agency": "000.00.03.H49",
                      "specialist": "specialist1", "proposal": "approve", "amount": 1000, "description": "Lệ phí",
                      "new_due_on": "2027-01-29", "items": [{"name": "Tờ khai"}], "method": "counter",
                      "result_number": "1"}


def user_headers(caller: str) -> dict[str, str]:
    """What the gateway sends for this caller (kit.testing.as_user), the display name left out."""
    if caller == ANONYMOUS:
        return {}
    user = USER_OF[caller]
    return as_user(user.username, *user.roles, agency=user.agency)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def services(tmp_path_factory):
    """The six services in-process on one memory bus and their own SQLite files: `.catalog`, `.dossier`,
    `.lookup`, `.payment`, `.notification`, `.feedback` are clients to each; `.dossier_code` a dossier filed
    online by citizen1 and refused at intake (a final state: every action by an allowed role is a 409, so
    trying them changes nothing); `.petition` a petition of citizen1's assigned to agency 000.00.21.H49."""
    from catalog.app import create_app as catalog_app
    from catalog.settings import CatalogSettings
    from dossier.app import create_app as dossier_app
    from dossier.lookup.app import create_app as lookup_app
    from dossier.settings import LookupSettings
    from dossier.settings import DossierSettings
    from feedback.app import create_app as feedback_app
    from feedback.settings import FeedbackSettings
    from notification.app import create_app as notification_app
    from notification.settings import NotificationSettings
    from payment.app import create_app as payment_app
    from payment.settings import PaymentSettings

    data = tmp_path_factory.mktemp("services")
    sqlite = {"store": "sqlite", "sqlite_dir": data}
    bus, quiet = MemoryBus(), MemoryBus()
    try:
        async with contextlib.AsyncExitStack() as stack:
            async def serve(app) -> httpx.AsyncClient:
                return await stack.enter_async_context(serving(app))

            s = SimpleNamespace()
            s.catalog = await serve(catalog_app(CatalogSettings(seed_demo=True, **sqlite), bus=bus))
            s.dossier = await serve(dossier_app(DossierSettings(catalog_url="http://service", **sqlite), bus=bus,
                                                catalog_client=s.catalog))
            s.lookup = await serve(lookup_app(LookupSettings(), bus=bus))
            s.payment = await serve(payment_app(PaymentSettings(**sqlite), bus=bus))
            # on a bus of its own: it would try to send e-mail and SMS for the dossier's events
            s.notification = await serve(notification_app(NotificationSettings(**sqlite), bus=quiet))
            s.feedback = await serve(feedback_app(FeedbackSettings(**sqlite), bus=bus))

            files = [("submission", (None, json.dumps(SUBMISSION).encode(), "application/json")),
                     *(("files", (f"{d['code']}.pdf", TINY_PDF, "application/pdf")) for d in SUBMISSION["documents"])]
            r = await s.dossier.post("/dossiers", files=files, headers=user_headers("citizen"))
            assert r.status_code == 201, r.text
            s.dossier_code = r.json()["code"]
            r = await s.dossier.post(f"/dossiers/{s.dossier_code}/refuse-intake", json={"reason": "Hồ sơ thử nghiệm"},
                                     headers=user_headers("reception_officer"))
            assert r.status_code == 200 and r.json()["state"] == "refused_at_intake", r.text

            r = await s.feedback.post("/petitions", json=PETITION, headers=user_headers("citizen"))
            assert r.status_code == 201, r.text
            s.petition = r.json()["id"]
            for action, body in (("accept", {}), ("assign", {"to_agency": "000.00.21.H49"})):
                r = await s.feedback.post(f"/petitions/{s.petition}/{action}", json=body,
                                          headers=user_headers("feedback_officer"))
                assert r.status_code == 200, r.text
            yield s
    finally:
        await bus.stop()
        await quiet.stop()


def draft_procedure() -> dict:
    from catalog.seed import load

    return {**next(p for p in load("procedures.json") if p["code"] == "1.000894"), "code": "1.004227"}


def samples(s) -> list[dict]:
    """Requests whose other checks pass (or fail after the role check): the service's answer tells whether
    the role was let through. `denied_as`: the statuses the service refuses a role with (a petition its
    caller may not see is a 404, as for a petition that does not exist)."""
    code, petition = s.dossier_code, s.petition
    out = [
        # catalog
        dict(client=s.catalog, method="GET", path="/procedures"),
        dict(client=s.catalog, method="GET", path="/procedures/1.000894/versions"),
        dict(client=s.catalog, method="POST", path="/procedures", json=draft_procedure()),
        dict(client=s.catalog, method="PUT", path="/procedures/1.004227", json=draft_procedure()),
        dict(client=s.catalog, method="POST", path="/procedures/9.999999/publish"),
        dict(client=s.catalog, method="POST", path="/procedures/9.999999/withdraw",
             json={"effective_from": "2027-01-01", "reason": "Hết hiệu lực"}),
        dict(client=s.catalog, method="GET", path="/forms"),
        # dossier
        dict(client=s.dossier, method="POST", path="/dossiers"),
        dict(client=s.dossier, method="POST", path="/dossiers/counter"),
        dict(client=s.dossier, method="GET", path=f"/dossiers/{code}"),
        dict(client=s.dossier, method="GET", path=f"/dossiers/{code}/attachments/none"),
        *(dict(client=s.dossier, method="POST", path=f"/dossiers/{code}/{action}", json=ANY_DOSSIER_ACTION)
          for action in roles.DOSSIER_ACTIONS if action not in ("resubmit", "provide-supplement")),
        dict(client=s.dossier, method="GET", path="/queues/intake"),
        dict(client=s.dossier, method="GET", path="/indicators", params={"from": "2026-11-01", "to": "2026-11-23"}),
        dict(client=s.dossier, method="GET", path="/calendar"),
        dict(client=s.dossier, method="PUT", path="/calendar", json={"days_off": [], "working_days": []}),
        # lookup
        dict(client=s.lookup, method="GET", path=f"/lookup/{code}"),
        # payment
        dict(client=s.payment, method="GET", path=f"/payments/dossiers/{code}"),
        dict(client=s.payment, method="GET", path=f"/payments/dossiers/{code}/ledger"),
        dict(client=s.payment, method="POST", path="/payments",
             json={"item_id": f"{code}/fee-1", "security_code": "ABCD1234"}),
        dict(client=s.payment, method="POST", path="/payments/counter", json={"item_id": f"{code}/fee-1"}),
        dict(client=s.payment, method="GET", path="/payments/P-1"),
        dict(client=s.payment, method="GET", path="/payments/P-1/receipt"),
        dict(client=s.payment, method="POST", path="/payments/P-1/review",
             json={"decision": "accept", "reason": "Đã đối soát"}),
        dict(client=s.payment, method="POST", path="/payments/P-1/refunds", json={"reason": "Nộp thừa"}),
        dict(client=s.payment, method="POST", path="/payments/P-1/refunds/1/outcome",
             json={"made": True, "note": "Đã hoàn"}),
        # notification
        dict(client=s.notification, method="GET", path="/messages", params={"dossier_code": code}),
        dict(client=s.notification, method="GET", path="/messages/mine"),
        dict(client=s.notification, method="GET", path="/messages/agency"),
        dict(client=s.notification, method="GET", path="/messages/M-1"),
        dict(client=s.notification, method="GET", path="/notifications/preferences/me"),
        dict(client=s.notification, method="GET", path="/notifications/placeholders"),
        dict(client=s.notification, method="GET", path="/notifications/rules"),
        dict(client=s.notification, method="GET", path="/notifications/templates"),
        dict(client=s.notification, method="POST", path="/notifications/templates/dossier.received/preview",
             json={"event_type": "vn.motcua.dossier.received.v1"}),
        dict(client=s.notification, method="GET", path="/webhooks/subscriptions"),
        dict(client=s.notification, method="POST", path="/webhooks/subscriptions", json={}),
        dict(client=s.notification, method="GET", path="/webhooks/deliveries/D-1"),
        # feedback
        dict(client=s.feedback, method="POST", path="/petitions", json=PETITION),
        dict(client=s.feedback, method="POST", path="/petitions/recorded", json={**PETITION, "channel": "hotline"}),
        dict(client=s.feedback, method="GET", path="/petitions"),
        dict(client=s.feedback, method="GET", path=f"/petitions/{petition}", denied_as=(404,)),
        *(dict(client=s.feedback, method="POST", path=f"/petitions/{petition}/{action}", json={},
               denied_as=(403, 404)) for action in roles.PETITION_ACTIONS),
        dict(client=s.feedback, method="GET", path="/ratings/summary",
             params={"from": "2026-11-01", "to": "2026-11-23"}),
        dict(client=s.feedback, method="GET", path="/open311/v2/services.json"),
    ]
    return out


async def test_the_services_allow_and_refuse_the_roles_the_table_does(services):
    wrong, tried = [], set()
    for sample in samples(services):
        client, method, path = sample["client"], sample["method"], sample["path"]
        route = route_for(method, path)
        assert route is not None, (method, path)
        tried.add(route)
        denied_as = sample.get("denied_as", (403,))
        for caller in CALLERS:
            r = await client.request(method, path, headers=user_headers(caller), params=sample.get("params"),
                                     json=sample.get("json"))
            outcome = expected(route, caller)
            if outcome == "allowed":
                ok = r.status_code not in {401, 403, *denied_as} and r.status_code < 500
            elif outcome == "unauthenticated":
                ok = r.status_code == 401
            else:
                ok = r.status_code in denied_as
            if not ok:
                wrong.append(f"{method} {path} as {caller}: the table says {outcome}, the service answered "
                             f"{r.status_code} {r.text[:160]}")
    assert not wrong, "\n".join(wrong)
    # every service is sampled, with its public and its protected routes
    assert {routes.upstream_for(r.path) for r in tried} == set(UPSTREAMS)
    assert len(tried) >= 60


# --- 3. identity must-shows -----------------------------------------------------------------------------

def _claims(gw, **changes) -> dict:
    now = int(time.time())
    return {"iss": gw.issuer.issuer, "aud": gw.issuer.audience, "sub": "catalog1", "roles": ["catalog_admin"],
            "iat": now, "exp": now + 300, **changes}


BAD_TOKENS = {
    "forged (another key)": lambda gw: jwt.encode(_claims(gw), rsa.generate_private_key(public_exponent=65537,
                                                                                        key_size=2048),
                                                  algorithm="RS256", headers={"kid": gw.issuer.kid}),
    "expired": lambda gw: jwt.encode(_claims(gw, exp=int(time.time()) - 10), gw.issuer.key, algorithm="RS256",
                                     headers={"kid": gw.issuer.kid}),
    "wrong audience": lambda gw: jwt.encode(_claims(gw, aud="another-api"), gw.issuer.key, algorithm="RS256",
                                            headers={"kid": gw.issuer.kid}),
    "wrong issuer": lambda gw: jwt.encode(_claims(gw, iss="https://idp.example/auth"), gw.issuer.key,
                                          algorithm="RS256", headers={"kid": gw.issuer.kid}),
}


@pytest.mark.parametrize("make", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_token_claiming_an_allowed_role_is_a_401(gw, echo, make):
    """The role matrix never sees a token that does not verify, even one that claims the right role."""
    r = await gw.post("/api/v1/procedures/1.000894/publish", headers=bearer(make(gw)))
    is_problem(r, 401, "invalid-token")
    assert echo.received == []


async def test_a_good_token_with_the_wrong_role_is_a_403_naming_the_roles_allowed(gw, echo):
    r = await gw.post("/api/v1/procedures/1.000894/publish", headers=signed_in(gw, "citizen1"))
    body = is_problem(r, 403, "forbidden-role")
    assert body["required_roles"] == ["admin", "catalog_admin"]
    assert "admin" in body["detail"] and "catalog_admin" in body["detail"]
    assert echo.received == []
    r = await gw.post("/api/v1/procedures/1.000894/publish", headers=signed_in(gw, "catalog1"))
    assert r.status_code == 200 and len(echo.received) == 1


SPOOFED = [("x-USER-id", "admin1"), ("X-User-ROLES", "admin"), ("x-user-roles", "leader,admin"),
           ("X-USER-AGENCY", "000.00.00.G01"), ("x-user-agency", "000.00.03.H49"), ("X-User-Name", "Mallory"),
           ("X-User-Id", "leader1"), ("X-User-Roles", "catalog_admin"),
           # underscores: some servers and proxies read them as dashes, so they are dropped too
           ("X_User_Id", "admin1"), ("X_User_Roles", "admin")]


@pytest.mark.parametrize("username", [None, "citizen1", "specialist1"])
async def test_client_user_headers_in_any_casing_or_repeated_never_reach_a_service(gw, echo, username):
    """Only the gateway speaks for the user: a client's X-User-* headers (odd casing, repeated, with or
    without a valid token of another user) are dropped, and cannot open a route either."""
    token = signed_in(gw, username) if username else {}
    headers = httpx.Headers([*token.items(), *SPOOFED])
    # a route open to the user (or to anyone), so the request is forwarded
    path = "/api/v1/procedures" if username is None else (
        "/api/v1/messages/mine" if username == "citizen1" else "/api/v1/queues/agency")
    r = await gw.get(path, headers=headers)
    assert r.status_code == 200, r.text
    [seen] = echo.received
    user = USER_OF["citizen"] if username == "citizen1" else USER_OF["specialist"] if username else None
    assert not [k for k, _ in seen["headers"] if k.lower().startswith("x_user_")], seen["headers"]
    if user is None:
        assert not [k for k, _ in seen["headers"] if k.lower().startswith("x-user-")], seen["headers"]
        assert seen["caller"] == {"subject": None, "roles": [], "agency": None}
    else:
        assert seen_headers(seen, "X-User-Id") == [user.username]
        assert seen_headers(seen, "X-User-Roles") == [",".join(user.roles)]
        assert seen_headers(seen, "X-User-Agency") == ([user.agency] if user.agency else [])
        assert [unquote(v) for v in seen_headers(seen, "X-User-Name")] == [user.name]
        assert seen["caller"] == {"subject": user.username, "roles": list(user.roles), "agency": user.agency}

    # ... and spoofed roles open nothing: the gateway judges the verified ones
    echo.received.clear()
    r = await gw.put("/api/v1/calendar", headers=headers, json={})
    assert r.status_code == (401 if username is None else 403), r.text
    assert echo.received == []
