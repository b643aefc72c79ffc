from kit.settings import PlatformSettings


class NotificationSettings(PlatformSettings):
    service_name: str = "notification"
    port: int = 8105
    timezone: str = "Asia/Ho_Chi_Minh"
