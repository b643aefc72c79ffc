import ipaddress
import json
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from kit.settings import PlatformSettings


class GatewaySettings(PlatformSettings):
    service_name: str = "gateway"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"

    catalog_url: str = "http://127.0.0.1:8101"
    dossier_url: str = "http://127.0.0.1:8102"
    lookup_url: str = "http://127.0.0.1:8103"
    payment_url: str = "http://127.0.0.1:8104"
    notification_url: str = "http://127.0.0.1:8105"
    feedback_url: str = "http://127.0.0.1:8106"
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
    upstream_pool_size: int = Field(default=100, gt=0)
    # Per upstream: this many consecutive failures (unreachable, timed out, 502/504) open its circuit.
    upstream_breaker_failures: int = Field(default=5, ge=1)
    upstream_breaker_cooldown_seconds: float = Field(default=10.0, ge=0)
    # Load shedding: past this many requests in flight to one upstream, the next is answered 503 with
    # Retry-After at once, instead of queueing until the upstream timeout. Per upstream name as JSON
    # (`{"dossier": 32}`) in upstream_max_in_flight_by_name; the others take upstream_max_in_flight.
    upstream_max_in_flight: int = Field(default=100, ge=1)
    upstream_max_in_flight_by_name: dict[str, Annotated[int, Field(ge=1)]] = {}
    upstream_shed_retry_after_seconds: int = Field(default=1, ge=1)
    # Uploads (forms, attachments) pass through; each service enforces its own, smaller limit.
    # Fits the dossier service's largest upload (50 MiB of files, the JSON part, the envelope).
    max_body_bytes: int = 56 * 1024 * 1024

    # OIDC: tokens are verified against this issuer's keys. With dev_issuer on, the gateway is the
    # issuer itself (embedded mode and tests) and serves a login for demo users.
    jwt_issuer: str | None = None
    jwt_audience: str = "motcua"
    jwks_url: str | None = None
    dev_issuer: bool = True
    token_ttl_seconds: int = 3600

    # Rate limits (gateway.ratelimit), counted in Redis with MOTCUA_CACHE=redis, in memory otherwise.
    # A token bucket per client address (anonymous callers) and per verified subject (signed-in ones).
    rate_limits: bool = True
    rate_client_limit: int = Field(default=120, ge=1)
    rate_client_period_seconds: float = Field(default=60.0, gt=0)
    rate_user_limit: int = Field(default=600, ge=1)
    rate_user_period_seconds: float = Field(default=60.0, gt=0)
    # Status lookups and receipts (the security code is the credential): a stricter bucket per caller, and
    # this many wrong security codes for one dossier code within the window lock that code for a while.
    rate_lookup_limit: int = Field(default=30, ge=1)
    rate_lookup_period_seconds: float = Field(default=60.0, gt=0)
    rate_lookup_max_failures: int = Field(default=5, ge=1)
    rate_lookup_failure_window_seconds: float = Field(default=900.0, gt=0)
    rate_lookup_lock_seconds: float = Field(default=900.0, gt=0)
    rate_key_prefix: str = "gateway:rate:"
    # Redis down or slower than this: caller limits let requests through, lookups answer 503 (fail closed);
    # Redis is asked again after rate_redis_retry_seconds.
    # Generous for a loopback Redis: on a busy 2-core host the event loop alone can delay an answer that long.
    rate_redis_timeout_seconds: float = Field(default=1.0, gt=0)
    rate_redis_retry_seconds: float = Field(default=5.0, gt=0)
    # Proxies (IPs or CIDRs) whose X-Forwarded-For is believed: comma-separated or a JSON list. Empty: the
    # direct peer is the client, whatever it sends.
    trusted_proxies: Annotated[list[str], NoDecode] = []

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value):
        if isinstance(value, str):
            value = json.loads(value) if value.strip().startswith("[") else value.split(",")
        return [str(ipaddress.ip_network(str(v).strip(), strict=False)) for v in value if str(v).strip()]

    @field_validator("upstream_max_in_flight_by_name")
    @classmethod
    def _known_upstreams(cls, value: dict[str, int]) -> dict[str, int]:
        known = {"catalog", "dossier", "lookup", "payment", "notification", "feedback"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown upstream(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return value

    def max_in_flight(self) -> dict[str, int]:
        return {name: self.upstream_max_in_flight_by_name.get(name, self.upstream_max_in_flight)
                for name in self.upstreams()}

    def upstreams(self) -> dict[str, str]:
        return {"catalog": self.catalog_url, "dossier": self.dossier_url, "lookup": self.lookup_url,
                "payment": self.payment_url, "notification": self.notification_url, "feedback": self.feedback_url}

    @property
    def issuer(self) -> str:
        return self.jwt_issuer or f"{self.public_url.rstrip('/')}/auth"
