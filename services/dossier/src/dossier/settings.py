from pydantic import SecretStr

from kit.settings import PlatformSettings


class DossierSettings(PlatformSettings):
    service_name: str = "dossier"
    port: int = 8102
    catalog_url: str = "http://127.0.0.1:8101"
    # HMAC key for security codes: only a keyed hash is stored or published, never the code.
    security_pepper: SecretStr = SecretStr("dev-only-pepper-change-me")
    timezone: str = "Asia/Ho_Chi_Minh"


class LookupSettings(PlatformSettings):
    service_name: str = "lookup"
    port: int = 8103
    security_pepper: SecretStr = SecretStr("dev-only-pepper-change-me")
