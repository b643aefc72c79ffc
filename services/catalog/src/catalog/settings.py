from kit.settings import PlatformSettings


class CatalogSettings(PlatformSettings):
    service_name: str = "catalog"
    port: int = 8101
    seed_demo: bool = False
