from pydantic import SecretStr

from kit.settings import PlatformSettings


class DossierSettings(PlatformSettings):
    service_name: str = "dossier"
    port: int = 8102
    catalog_url: str = "http://127.0.0.1:8101"
    # HMAC key for security codes: only a keyed hash is stored or published, never the code.
    security_pepper: SecretStr = SecretStr("dev-only-pepper-change-me")
    timezone: str = "Asia/Ho_Chi_Minh"
    # Working sessions (DOMAIN.md section 2; Quảng Ninh's own hours are to be verified).
    morning_start: str = "07:00"
    morning_end: str = "11:30"
    afternoon_start: str = "13:30"
    afternoon_end: str = "17:00"
    intake_response_hours: float = 8
    stall_working_days: float = 3
    supplement_response_days: int = 15
    timer_poll_seconds: float = 5.0
    # What the receipt's QR code opens: the public status lookup, code and security code filled in.
    lookup_url_template: str = "http://127.0.0.1:8000/api/v1/lookup/{code}?security_code={security_code}"
    centre_name: str = "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh"
    centre_address: str = "Tầng 1, Trụ sở Liên cơ quan số 2, phường Hồng Hà, TP. Hạ Long"  # seeds/centres
    centre_phone: str | None = "1900558826"


class LookupSettings(PlatformSettings):
    service_name: str = "lookup"
    port: int = 8103
    security_pepper: SecretStr = SecretStr("dev-only-pepper-change-me")
