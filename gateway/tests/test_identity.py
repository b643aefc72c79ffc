"""Who may pass the gateway: bearer tokens checked for signature, issuer, audience and expiry; public
routes open to anyone; the development issuer and its keys."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.app import create_app
from gateway.identity import DEMO_USERS, DevIssuer
from kit.testing import serving

from .conftest import PUBLIC_URL, bearer, gateway_settings, is_problem, running, user

pytestmark = pytest.mark.asyncio(loop_scope="module")

ISSUER = f"{PUBLIC_URL}/auth"


def claims(**overrides) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": "motcua", "sub": "citizen1", "name": "Nguyễn Văn An", "roles": ["citizen"],
            "iat": now, "exp": now + 300}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(dev: DevIssuer) -> str:
    """Right claims and key id, signed with a key that is not the issuer's."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return "Bearer " + jwt.encode(claims(), other, algorithm="RS256", headers={"kid": dev.kid})


def tampered(dev: DevIssuer) -> str:
    """A real citizen token whose payload was edited to claim the admin role."""
    header, _, signature = dev.token_for(user("citizen1")).split(".")
    payload = b64(json.dumps(claims(roles=["admin"])).encode())
    return f"Bearer {header}.{payload}.{signature}"


def hs256_with_public_key(dev: DevIssuer) -> str:
    """The classic algorithm confusion: HMAC keyed with the issuer's public key."""
    pem = dev.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims()).encode())}"
    return f"Bearer {signing_input}.{b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"


BAD_AUTHORIZATION = {
    "forged signature": forged,
    "edited payload": tampered,
    "expired": lambda dev: "Bearer " + dev.token_for(user("citizen1"), ttl=-10),
    "wrong audience": lambda dev: "Bearer " + dev.token_for(user("citizen1"), audience="another-api"),
    "wrong issuer": lambda dev: "Bearer " + jwt.encode(claims(iss="https://idp.example/auth"), dev.key,
                                                      algorithm="RS256", headers={"kid": dev.kid}),
    "no expiry": lambda dev: "Bearer " + jwt.encode(claims(exp=None), dev.key, algorithm="RS256"),
    "no subject": lambda dev: "Bearer " + jwt.encode(claims(sub=None), dev.key, algorithm="RS256"),
    "roles not a list": lambda dev: "Bearer " + jwt.encode(claims(roles="admin"), dev.key, algorithm="RS256"),
    "unsigned (alg none)": lambda dev: "Bearer " + jwt.encode(claims(), None, algorithm="none"),
    "HS256 keyed with the public key": hs256_with_public_key,
    "garbage": lambda dev: "Bearer not.a.jwt",
    "not a JWT at all": lambda dev: "Bearer hello",
    "Basic scheme": lambda dev: "Basic Y2l0aXplbjE6c2VjcmV0",
    "Basic x": lambda dev: "Basic x",
    "Bearer alone": lambda dev: "Bearer",
    "token without a scheme": lambda dev: dev.token_for(user("citizen1")),
}


@pytest.mark.parametrize("make", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
async def test_a_bad_token_is_a_401_problem_and_never_reaches_the_service(gateway, echo, make):
    r = await gateway.get("/api/v1/dossiers", headers={"Authorization": make(gateway.issuer)})
    body = is_problem(r, 401, "invalid-token")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert body["detail"]
    assert echo.received == []


async def test_a_bad_token_on_a_public_route_is_refused_too_so_the_client_knows_to_sign_in_again(gateway, echo):
    expired = gateway.issuer.token_for(user("citizen1"), ttl=-10)
    r = await gateway.get("/api/v1/procedures", headers=bearer(expired))
    body = is_problem(r, 401, "invalid-token")
    assert "expired" in body["detail"]
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert echo.received == []


async def test_a_token_from_the_dev_login_passes_and_the_service_sees_its_user(gateway, echo):
    login = await gateway.post("/auth/dev/token", json={"username": "citizen1"})
    assert login.status_code == 200, login.text
    token = login.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 600

    r = await gateway.get("/api/v1/messages/mine", headers=bearer(token["access_token"]))
    assert r.status_code == 200, r.text
    assert r.json()["caller"]["subject"] == "citizen1"
    assert r.json()["caller"]["roles"] == ["citizen"]


async def test_the_scheme_name_is_case_insensitive(gateway):
    token = gateway.issuer.token_for(user("citizen1"))
    r = await gateway.get("/api/v1/messages/mine", headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/dossiers"), ("GET", "/api/v1/dossiers/000.00.21.H49-250101-0001"),
    ("POST", "/api/v1/dossiers"), ("POST", "/api/v1/procedures"), ("PUT", "/api/v1/procedures/1.000894"),
    ("POST", "/api/v1/payments"), ("GET", "/api/v1/messages"), ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/petitions"), ("POST", "/api/v1/petitions/P1/answer"), ("POST", "/api/v1/ratings"),
    ("GET", "/api/v1/lookup"), ("GET", "/api/v1/lookup/a/b"), ("DELETE", "/api/v1/lookup/X"),
])
async def test_no_token_on_a_route_that_needs_one_is_a_401_problem(gateway, echo, method, path):
    r = await gateway.request(method, path, json={} if method in ("POST", "PUT") else None)
    is_problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"] == "Bearer"
    assert echo.received == []


@pytest.mark.parametrize("method, path, upstream_path", [
    ("GET", "/api/v1/procedures", "/catalog/procedures"),
    ("GET", "/api/v1/procedures/1.000894", "/catalog/procedures/1.000894"),
    ("GET", "/api/v1/fields", "/catalog/fields"),
    ("GET", "/api/v1/agencies", "/catalog/agencies"),
    ("GET", "/api/v1/centres", "/catalog/centres"),
    ("GET", "/api/v1/forms/TK", "/catalog/forms/TK"),
    ("HEAD", "/api/v1/procedures", "/catalog/procedures"),
    ("POST", "/api/v1/lookup", "/lookup/lookup"),
    ("GET", "/api/v1/lookup/000.00.21.H49-250101-0001", "/lookup/lookup/000.00.21.H49-250101-0001"),
    ("POST", "/api/v1/petitions", "/feedback/petitions"),
])
async def test_no_token_on_a_public_route_is_forwarded_anonymously(gateway, echo, method, path, upstream_path):
    r = await gateway.request(method, path, json={"code": "x"} if method == "POST" else None)
    assert r.status_code == 200, r.text
    [seen] = echo.received
    assert seen["method"] == method and seen["path"] == upstream_path
    assert seen["caller"]["subject"] is None and seen["caller"]["roles"] == []


# --- the development issuer ---------------------------------------------------------------------------

async def test_an_unknown_demo_user_is_a_422_problem_naming_the_field(gateway):
    r = await gateway.post("/auth/dev/token", json={"username": "mallory"})
    body = is_problem(r, 422, "unknown-user")
    assert body["field"] == "username"
    assert "mallory" in body["detail"]
    assert set(body["known"]) == {u.username for u in DEMO_USERS}


async def test_a_login_without_a_username_is_a_422_problem_naming_the_field(gateway):
    r = await gateway.post("/auth/dev/token", json={})
    body = is_problem(r, 422, "validation-error")
    assert [e["field"] for e in body["errors"]] == ["body.username"]


async def test_a_login_with_a_malformed_body_is_a_400_problem(gateway):
    r = await gateway.post("/auth/dev/token", content=b"{not json", headers={"Content-Type": "application/json"})
    is_problem(r, 400, "malformed-json")


async def test_the_demo_users_cover_every_role_the_services_check(gateway):
    r = await gateway.get("/auth/dev/users")
    assert r.status_code == 200
    users = r.json()
    assert len({u["username"] for u in users}) == len(users)
    assert all(len(u["roles"]) == 1 and u["name"] for u in users)
    roles = {u["roles"][0] for u in users}
    assert roles == {"citizen", "reception_officer", "specialist", "leader", "cashier", "catalog_admin",
                     "feedback_officer", "admin"}
    officers = {u["username"]: u["agency"] for u in users}
    assert all(officers[u] for u in ("reception1", "specialist1", "leader1", "cashier1")), officers
    # A second agency's specialist and leader, so a dossier can be routed between agencies.
    assert officers["specialist2"] == officers["leader2"] != officers["leader1"]
    assert officers["citizen1"] is None


async def test_tokens_verify_with_the_published_jwks_and_carry_the_user(gateway):
    token = (await gateway.post("/auth/dev/token", json={"username": "reception1"})).json()["access_token"]
    discovery = (await gateway.get("/auth/.well-known/openid-configuration")).json()
    assert discovery["issuer"] == ISSUER
    assert discovery["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert discovery["token_endpoint"] == f"{ISSUER}/dev/token"

    r = await gateway.get("/auth/.well-known/jwks.json")
    assert r.status_code == 200
    keys = jwt.PyJWKSet.from_dict(r.json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    assert key.key_type == "RSA" and key.algorithm_name == "RS256"
    assert not hasattr(key.key, "private_numbers"), "the JWKS must publish only the public key"

    decoded = jwt.decode(token, key.key, algorithms=["RS256"], audience="motcua", issuer=ISSUER)
    assert decoded["sub"] == "reception1"
    assert decoded["roles"] == ["reception_officer"]
    assert decoded["agency"] == "000.00.21.H49"
    assert decoded["name"] == "Trần Thị Bình"
    assert decoded["exp"] - decoded["iat"] == 600
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged(gateway.issuer).removeprefix("Bearer "), key.key, algorithms=["RS256"],
                   audience="motcua", issuer=ISSUER)


async def test_without_the_dev_issuer_there_is_no_login(down):
    app = create_app(gateway_settings(down=down, dev_issuer=False, jwt_issuer="https://idp.example/auth"))
    async with serving(app) as client:
        for path in ("/auth/dev/users", "/auth/.well-known/jwks.json"):
            is_problem(await client.get(path), 404)
        is_problem(await client.post("/auth/dev/token", json={"username": "admin1"}), 404)
        # and with no key source, no token is accepted
        stranger = DevIssuer("https://idp.example/auth", "motcua", 60)
        r = await client.get("/api/v1/dossiers", headers=bearer(stranger.token_for(user("admin1"))))
        is_problem(r, 401, "invalid-token")


async def test_an_external_issuer_is_trusted_through_its_jwks_url(echo, down):
    """Distributed mode: the gateway knows the issuer only by its JWKS URL. The issuer here is another
    gateway's development issuer, served on a real port."""
    idp_app = create_app(gateway_settings(down=down, public_url="http://idp.test"))
    async with running(idp_app) as idp_url:
        app = create_app(gateway_settings(down=down, dossier_url=f"{echo.url}/dossier", dev_issuer=False,
                                          jwt_issuer="http://idp.test/auth",
                                          jwks_url=f"{idp_url}/auth/.well-known/jwks.json"))
        async with serving(app) as client:
            token = idp_app.state.dev_issuer.token_for(user("specialist1"))
            r = await client.get("/api/v1/queues/agency", headers=bearer(token))
            assert r.status_code == 200, r.text
            assert r.json()["caller"] == {"subject": "specialist1", "roles": ["specialist"], "agency": "000.00.21.H49"}

            # same issuer name and key id format, but not the issuer's key
            impostor = DevIssuer("http://idp.test/auth", "motcua", 60)
            r = await client.get("/api/v1/dossiers", headers=bearer(impostor.token_for(user("admin1"))))
            is_problem(r, 401, "invalid-token")
            assert len(echo.received) == 1
