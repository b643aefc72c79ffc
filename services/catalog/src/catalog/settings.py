from kit.settings import PlatformSettings


class CatalogSettings(PlatformSettings):
    service_name: str = "catalog"
    port: int = 8101
    seed_demo: bool = False
    # Form files go up to 10 MiB (catalog.forms.MAX_FORM_BYTES), plus the multipart envelope.
    max_body_bytes: int = 11 * 1024 * 1024
