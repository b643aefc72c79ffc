from pydantic import Field

from kit.settings import PlatformSettings


class NotificationSettings(PlatformSettings):
    service_name: str = "notification"
    port: int = 8105
    timezone: str = "Asia/Ho_Chi_Minh"
    # Links put in messages: the public pages where a citizen looks up a dossier and pays a fee.
    lookup_link_template: str = "http://127.0.0.1:8000/tra-cuu?ma={code}"
    payment_url_template: str = "http://127.0.0.1:8000/thanh-toan?khoan={item}"
    petition_url_template: str = "http://127.0.0.1:8000/phan-anh-kien-nghi?ma={id}"
    # Delivery: tries per message and channel (the first included), doubling backoff, then the next channel.
    delivery_attempts: int = Field(default=5, ge=1, le=20)
    delivery_backoff_seconds: float = Field(default=30.0, ge=0)
    delivery_max_backoff_seconds: float = Field(default=1800.0, ge=0)
    delivery_poll_seconds: float = Field(default=1.0, gt=0)
    delivery_concurrency: int = Field(default=16, ge=1, le=256)
    # Some brand-name SMS contracts take unaccented text only.
    sms_unaccented: bool = False
    # A template whose SMS takes more parts than this (accented and unaccented) is refused when saved.
    sms_max_parts: int = Field(default=3, ge=1, le=10)
