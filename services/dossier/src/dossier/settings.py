from pydantic import Field, SecretStr, model_validator

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
    # Attachments (intake, resubmission, supplement): PDF, JPEG or PNG, checked by content.
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    attachment_max_files: int = Field(default=20, ge=1, le=100)
    # All files of one request together (the gateway buffers a request, so this bounds its memory too).
    attachment_max_total_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    submission_max_bytes: int = Field(default=1024 * 1024, gt=0)  # the JSON part, or a JSON body
    # The body limit fits the largest upload: the files' total, the JSON part, the envelope (computed
    # from the settings above unless set). A larger body is refused with 413 before it is read.
    max_body_bytes: int = Field(default=52 * 1024 * 1024, gt=0)
    max_non_multipart_body_bytes: int | None = Field(default=1024 * 1024, gt=0)  # JSON bodies stay small
    # Files stored for a dossier that was never saved (a crash in between) are deleted after this.
    upload_grace_seconds: float = Field(default=600, gt=0)
    intake_sweep_seconds: float = Field(default=60, gt=0)
    # Idempotency-Key: how long an answer is kept; how long a duplicate waits for the first request
    # to finish before a 409; after how long a request that never finished is presumed dead.
    idempotency_ttl_seconds: float = Field(default=24 * 3600, gt=0)
    idempotency_wait_seconds: float = Field(default=5, ge=0)
    idempotency_lease_seconds: float = Field(default=600, gt=0)
    # Officer queues: "nearing" lists the agency's open dossiers due within this many working days.
    nearing_working_days: float = Field(default=2, gt=0, le=30)
    # Periodic report: the longest period one request may cover (a leap year).
    report_max_days: int = Field(default=366, ge=1, le=3660)
    # What the receipt's QR code opens: the public status lookup, code and security code filled in.
    # The receipt's QR code: the public lookup page, which fills in both codes.
    lookup_url_template: str = "http://127.0.0.1:8000/tra-cuu?ma={code}&security_code={security_code}"
    centre_name: str = "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh"
    centre_address: str = "Tầng 1, Trụ sở Liên cơ quan số 2, phường Hồng Hà, TP. Hạ Long"  # seeds/centres
    centre_phone: str | None = "1900558826"

    @model_validator(mode="after")
    def _body_fits_the_largest_upload(self) -> "DossierSettings":
        """Unless set explicitly, the body limit follows the attachment limits; if set, it must fit them."""
        largest = (min(self.attachment_max_files * self.attachment_max_bytes, self.attachment_max_total_bytes)
                   + self.submission_max_bytes)
        if "max_body_bytes" not in self.model_fields_set:
            self.max_body_bytes = largest + 1024 * 1024
        elif self.max_body_bytes < largest:
            raise ValueError(f"max_body_bytes ({self.max_body_bytes}) must fit the largest upload ({largest} bytes "
                             "plus the multipart envelope)")
        return self


class LookupSettings(PlatformSettings):
    service_name: str = "lookup"
    port: int = 8103
    security_pepper: SecretStr = SecretStr("dev-only-pepper-change-me")
