"""SMTP relay configuration, read from MOTCUA_SMTP_* environment variables."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmtpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=587, gt=0, lt=65536)
    username: str | None = None
    password: SecretStr | None = None
    # starttls: upgrade a plain connection (usually port 587); tls: implicit TLS (port 465);
    # none: plain text, for a relay on loopback or a trusted network only.
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_address: str = "khong-tra-loi@motcua.example.vn"
    from_name: str = "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh"
    timeout_seconds: float = Field(default=10.0, gt=0)
