from kit.settings import PlatformSettings


class FeedbackSettings(PlatformSettings):
    service_name: str = "feedback"
    port: int = 8106
