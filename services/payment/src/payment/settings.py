from kit.settings import PlatformSettings


class PaymentSettings(PlatformSettings):
    service_name: str = "payment"
    port: int = 8104
