from pydantic import Field, SecretStr

from kit.settings import PlatformSettings

from payment.provider_settings import VnpaySettings


class PaymentSettings(PlatformSettings, VnpaySettings):
    """MOTCUA_* variables. Secrets (the security pepper, the VNPay hash secret) are SecretStr: never printed."""

    service_name: str = "payment"
    port: int = 8104
    # The dossiers' security codes are checked against the keyed hash the dossier service publishes: the
    # same pepper as the dossier service and the lookup (MOTCUA_SECURITY_PEPPER).
    security_pepper: SecretStr = SecretStr("dev-only-pepper-change-me")
    timezone: str = "Asia/Ho_Chi_Minh"
    # Online methods offered to citizens (each needs its provider); the cashier's cash is always "counter".
    online_methods: list[str] = ["vnpay"]
    # Where the provider sends the citizen's browser back (display only): the gateway's public address.
    return_url: str = "http://127.0.0.1:8000/api/v1/payments/providers/vnpay/return"
    # How long a citizen has to pay at the provider (VNPay: vnp_ExpireDate).
    payment_ttl_seconds: float = Field(default=15 * 60, gt=0)
    # After the expiry, a payment the provider does not know as paid is expired only after this grace.
    expiry_grace_seconds: float = Field(default=0, ge=0)
    # Reconciliation: every 15 min, ask the provider about payments started 15-30 min ago; once a day,
    # about every payment still started; a payment unsettled 30 min after it started raises the alert once.
    reconcile_every_seconds: float = Field(default=15 * 60, gt=0)
    reconcile_min_age_seconds: float = Field(default=15 * 60, ge=0)
    reconcile_max_age_seconds: float = Field(default=30 * 60, gt=0)
    sweep_every_seconds: float = Field(default=24 * 3600, gt=0)
    unsettled_after_seconds: float = Field(default=30 * 60, gt=0)
    reconcile_batch: int = Field(default=200, ge=1, le=5000)
    # Idempotency-Key: how long an answer is kept; how long a duplicate waits for the first request to
    # finish before a 409; after how long a request that never finished is presumed dead.
    idempotency_ttl_seconds: float = Field(default=24 * 3600, gt=0)
    idempotency_wait_seconds: float = Field(default=5, ge=0)
    idempotency_lease_seconds: float = Field(default=120, gt=0)
    idempotency_sweep_seconds: float = Field(default=600, gt=0)
    # The e-receipt's issuer.
    centre_name: str = "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh"
    centre_address: str = "Tầng 1, Trụ sở Liên cơ quan số 2, phường Hồng Hà, TP. Hạ Long"
    centre_phone: str | None = "1900558826"
