"""Settings of the payment providers (VNPay) and of the VNPay sandbox, from MOTCUA_* environment variables.

`VnpaySettings` is what the VNPay adapter needs; a service's settings can inherit it
(`class PaymentSettings(PlatformSettings, VnpaySettings)`). `SandboxSettings` adds the fake gateway's own
block; the sandbox plays VNPay for the merchant described by the `vnpay_*` values, so the platform and the
sandbox agree with no extra configuration.

The defaults point at the sandbox on loopback with a development secret: production sets every `vnpay_*`
value from the merchant contract."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_HASH_SECRET = "MOTCUA-SANDBOX-SECRET-NOT-FOR-PRODUCTION"


class VnpaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    # The terminal (website) code and the hash secret VNPay gives the merchant.
    vnpay_tmn_code: str = Field(default="MOTCUA01", min_length=1, max_length=20)
    vnpay_hash_secret: SecretStr = SecretStr(DEVELOPMENT_HASH_SECRET)
    # During a rotation (deploy/OPERATIONS.md): the secret being replaced. Callbacks and answers signed with
    # it are still accepted (an IPN for a payment started before the switch); nothing is signed with it.
    vnpay_previous_hash_secret: SecretStr | None = None
    # Where the citizen's browser goes to pay (VNPay: https://sandbox.vnpayment.vn/paymentv2/vpcpay.html).
    vnpay_pay_url: str = "http://127.0.0.1:8199/paymentv2/vpcpay.html"
    # The server-to-server API for querydr and refund
    # (VNPay: https://sandbox.vnpayment.vn/merchant_webapi/api/transaction).
    vnpay_api_url: str = "http://127.0.0.1:8199/merchant_webapi/api/transaction"
    vnpay_locale: Literal["vn", "en"] = "vn"
    vnpay_order_type: str = "other"
    # vnp_IpAddr of the server-to-server calls: the address of the merchant's server.
    vnpay_server_ip: str = "127.0.0.1"
    vnpay_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    vnpay_timeout_seconds: float = Field(default=8.0, gt=0)
    # querydr is read-only and retried; a refund is sent again only when it surely never left (connection refused).
    vnpay_query_attempts: int = Field(default=3, ge=1, le=10)
    vnpay_retry_backoff_seconds: float = Field(default=0.3, ge=0)


class SandboxSettings(VnpaySettings):
    """The fake VNPay (`python -m payment.sandbox`)."""

    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(default=8199, ge=0, le=65535)
    # The merchant's IPN URL (VNPay keeps it per terminal, set up with the merchant). Unset: no IPN is sent.
    sandbox_ipn_url: str | None = None
    # IPN delivery: retried until the merchant answers RspCode 00 or 02, at most this many attempts.
    sandbox_ipn_attempts: int = Field(default=5, ge=1, le=50)
    sandbox_ipn_backoff_seconds: float = Field(default=0.5, ge=0)
    sandbox_ipn_max_backoff_seconds: float = Field(default=10.0, ge=0)
    sandbox_ipn_timeout_seconds: float = Field(default=5.0, gt=0)
    sandbox_bank_code: str = "NCB"
    # Routes under /_sandbox (transactions, IPN log, re-delivery, silent settlement, tampered IPNs).
    sandbox_test_hooks: bool = False
