from pydantic import Field

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

    def upstreams(self) -> dict[str, str]:
        return {"catalog": self.catalog_url, "dossier": self.dossier_url, "lookup": self.lookup_url,
                "payment": self.payment_url, "notification": self.notification_url, "feedback": self.feedback_url}

    @property
    def issuer(self) -> str:
        return self.jwt_issuer or f"{self.public_url.rstrip('/')}/auth"
