"""Bearer-token verification (OIDC/JWT) and the built-in development issuer."""

import asyncio
import time
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWKClient

from kit.problems import Problem

ALGORITHMS = ["RS256"]


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: tuple[str, ...]
    agency: str | None
    name: str | None


@dataclass(frozen=True)
class DemoUser:
    username: str
    name: str
    roles: tuple[str, ...]
    agency: str | None = None


DEMO_USERS = [
    DemoUser("citizen1", "Nguyễn Văn An", ("citizen",)),
    DemoUser("reception1", "Trần Thị Bình", ("reception_officer",), "000.00.21.H49"),
    DemoUser("specialist1", "Lê Văn Cường", ("specialist",), "000.00.21.H49"),
    DemoUser("leader1", "Phạm Thị Dung", ("leader",), "000.00.21.H49"),
    # A second agency, for inter-agency (liên thông) routing.
    DemoUser("specialist2", "Ngô Văn Khánh", ("specialist",), "000.00.03.H49"),
    DemoUser("leader2", "Đỗ Thị Mai", ("leader",), "000.00.03.H49"),
    DemoUser("cashier1", "Hoàng Văn Em", ("cashier",), "000.00.21.H49"),
    DemoUser("catalog1", "Vũ Thị Giang", ("catalog_admin",)),
    DemoUser("feedback1", "Đặng Văn Hải", ("feedback_officer",)),
    DemoUser("admin1", "Bùi Thị Lan", ("admin",)),
]


class DevIssuer:
    """Signs tokens for the demo users with a key made at start (embedded mode and tests only)."""

    def __init__(self, issuer: str, audience: str, ttl: int):
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    def jwks(self) -> dict:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def token_for(self, user: DemoUser, *, audience: str | None = None, ttl: int | None = None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": audience or self.audience, "sub": user.username, "name": user.name,
                  "roles": list(user.roles), "iat": now, "exp": now + (ttl if ttl is not None else self.ttl)}
        if user.agency:
            claims["agency"] = user.agency
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


class TokenVerifier:
    """Checks signature, issuer, audience and expiry. Keys come from the JWKS URL (cached and
    refreshed on an unknown key id, so rotation works) or from the development issuer."""

    def __init__(self, *, issuer: str, audience: str, jwks_url: str | None = None, dev: DevIssuer | None = None):
        self.issuer = issuer
        self.audience = audience
        self.dev = dev
        self.jwks = PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None

    def _key(self, token: str):
        if self.jwks is not None:
            return self.jwks.get_signing_key_from_jwt(token).key
        if self.dev is not None:
            return self.dev.key.public_key()
        raise Problem(401, "invalid-token", "Invalid token", "No key source is configured.")

    async def verify_async(self, authorization: str | None) -> Principal | None:
        """verify() without blocking the event loop: PyJWKClient fetches the JWKS with blocking urllib
        (first use, every refresh, every unknown key id), so that path runs in a worker thread."""
        if self.jwks is None:
            return self.verify(authorization)
        return await asyncio.to_thread(self.verify, authorization)

    def verify(self, authorization: str | None) -> Principal | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("The Authorization header must be 'Bearer <token>'.")
        try:
            claims = jwt.decode(token, self._key(token), algorithms=ALGORITHMS, audience=self.audience,
                                issuer=self.issuer, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise _unauthorized("The token has expired.") from None
        except jwt.InvalidAudienceError:
            raise _unauthorized("The token is not meant for this API (wrong audience).") from None
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"The token cannot be verified ({type(exc).__name__}).") from None
        roles = claims.get("roles") or []
        if not isinstance(roles, list):
            raise _unauthorized("The token's roles claim is not a list.")
        return Principal(subject=str(claims["sub"]), roles=tuple(str(r) for r in roles),
                         agency=claims.get("agency"), name=claims.get("name"))


def _unauthorized(detail: str) -> Problem:
    problem = Problem(401, "invalid-token", "Invalid or missing token", detail)
    problem.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return problem
