"""`python -m payment.sandbox`: the fake VNPay on MOTCUA_SANDBOX_HOST:MOTCUA_SANDBOX_PORT (default 8199)."""

import logging

import uvicorn

from kit.settings import PlatformSettings
from kit.telemetry import setup_logging
from payment.provider_settings import SandboxSettings
from payment.sandbox import create_app


def main() -> None:
    platform = PlatformSettings()
    setup_logging(platform.log_level, platform.log_format)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs request URLs, and IPN URLs carry signatures
    settings = SandboxSettings()
    uvicorn.Server(uvicorn.Config(create_app(settings), host=settings.sandbox_host, port=settings.sandbox_port,
                                  access_log=False, log_config=None, lifespan="on")).run()


if __name__ == "__main__":
    main()
