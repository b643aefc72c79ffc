"""Settings of the satisfaction ratings, from MOTCUA_* environment variables (to be merged into
FeedbackSettings: `class FeedbackSettings(PlatformSettings, RatingSettings)`).

The default secret is for development only: production sets MOTCUA_RATING_SECRET, or anyone who reads
this file can forge the one-click links and rate any returned dossier."""

import string

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_RATING_SECRET = "MOTCUA-RATING-SECRET-DEVELOPMENT-ONLY-NOT-FOR-PRODUCTION"


class RatingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    # The HMAC key of the invitation links (the link is the credential: no sign-in to rate). Changing it
    # voids every link already sent. NOT FOR PRODUCTION as it stands: set MOTCUA_RATING_SECRET.
    rating_secret: SecretStr = Field(default=SecretStr(DEVELOPMENT_RATING_SECRET))
    # The public page the invitation links to; `{token}` is the only placeholder (the gateway's address).
    rating_url_template: str = "http://127.0.0.1:8000/danh-gia?t={token}"

    @field_validator("rating_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value()) < 32:
            raise ValueError("the rating secret must be at least 32 characters")
        return secret

    @field_validator("rating_url_template")
    @classmethod
    def _only_token(cls, template: str) -> str:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise ValueError(f"not a valid URL template: {exc}") from exc
        if fields != ["token"]:
            raise ValueError("the URL template must hold '{token}' exactly once and no other placeholder")
        return template
