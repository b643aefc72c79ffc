"""The embedded mode: the whole platform in one process, on SQLite and an in-process event bus.

    make run        (or: uv run python -m motcua.embedded)

Every service keeps its own database file and talks to the others only through the bus and
HTTP, exactly as in the distributed mode; only the adapters differ."""

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import uvicorn
from pydantic_settings import BaseSettings, SettingsConfigDict

from catalog.app import create_app as catalog_app
from catalog.settings import CatalogSettings
from dossier.app import create_app as dossier_app
from dossier.lookup.app import create_app as lookup_app
from dossier.settings import DossierSettings, LookupSettings
from feedback.app import create_app as feedback_app
from feedback.rating_settings import RatingSettings
from feedback.settings import FeedbackSettings
from gateway.app import create_app as gateway_app
from gateway.settings import GatewaySettings
from kit.bus.memory import MemoryBroker, MemoryBus
from kit.cache.memory import MemoryCache
from kit.metrics import setup_metrics
from kit.telemetry import setup_logging, setup_tracing
from motcua.mailbox import Mailbox
from notification.app import create_app as notification_app
from notification.email import SmtpSettings
from notification.settings import NotificationSettings
from notification.sms import SmsSandboxSettings, SmsSettings
from notification.sms.sandbox import create_app as sms_sandbox_app
from payment.app import create_app as payment_app
from payment.provider_settings import SandboxSettings
from payment.sandbox.app import create_app as sandbox_app
from payment.settings import PaymentSettings

log = logging.getLogger("motcua.embedded")
SERVICES = ["catalog", "dossier", "lookup", "payment", "notification", "feedback"]


class EmbeddedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOTCUA_EMBEDDED_", extra="ignore")

    host: str = "127.0.0.1"
    gateway_port: int = 8000
    # The payment provider's sandbox (VNPay's protocol): online payments work with nothing installed.
    sandbox_port: int = 8199
    # Two SMS gateway sandboxes (primary, secondary) and an SMTP server that keeps mail in <data_dir>/mail.
    sms_primary_port: int = 8197
    sms_secondary_port: int = 8198
    smtp_port: int = 8025
    first_service_port: int = 8101
    data_dir: Path = Path("var/embedded")
    seed_demo: bool = True
    log_level: str = "INFO"
    log_format: str = "text"


class _Server(uvicorn.Server):
    """Signals are handled once for all servers by the runner, not by each server."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def _sms(cfg: EmbeddedSettings, gateway: str) -> tuple[SmsSettings, list[tuple[str, object, int]]]:
    """The SMS providers: both sandboxes, reporting deliveries back through the gateway."""
    names = {"primary": ("sandbox-primary", cfg.sms_primary_port), "secondary": ("sandbox-secondary",
                                                                                 cfg.sms_secondary_port)}
    settings = SmsSettings(**{f"{role}_{k}": v for role, (name, port) in names.items()
                              for k, v in (("name", name), ("url", f"http://{cfg.host}:{port}"))})
    sandboxes = [(f"sms-{role}", sms_sandbox_app(SmsSandboxSettings(
        host=cfg.host, port=port, callback_url=f"{gateway}/api/v1/notifications/sms/{name}/reports")), port)
        for role, (name, port) in names.items()]
    return settings, sandboxes


def build(cfg: EmbeddedSettings) -> tuple[list[tuple[str, object, int]], MemoryBus]:
    # The bus journals its log and offsets beside the databases, so a restart loses no event; the
    # lookup rebuilds its in-memory read model from that log when it starts.
    bus = MemoryBus(MemoryBroker(journal=cfg.data_dir / "bus.sqlite3"))
    cache = MemoryCache()
    ports = {name: cfg.first_service_port + i for i, name in enumerate(SERVICES)}
    common = {"host": cfg.host, "sqlite_dir": cfg.data_dir, "bus": "memory", "store": "sqlite", "cache": "memory"}
    url = {name: f"http://{cfg.host}:{port}" for name, port in ports.items()}
    gateway, sandbox = f"http://{cfg.host}:{cfg.gateway_port}", f"http://{cfg.host}:{cfg.sandbox_port}"
    sms, sms_sandboxes = _sms(cfg, gateway)
    apps = [
        ("catalog", catalog_app(CatalogSettings(**common, port=ports["catalog"], seed_demo=cfg.seed_demo), bus=bus),
         ports["catalog"]),
        ("dossier", dossier_app(DossierSettings(
            **common, port=ports["dossier"], catalog_url=url["catalog"],
            lookup_url_template=f"{gateway}/tra-cuu?ma={{code}}&security_code={{security_code}}"), bus=bus),
         ports["dossier"]),
        ("lookup", lookup_app(LookupSettings(**common, port=ports["lookup"]), bus=bus, cache=cache), ports["lookup"]),
        ("payment", payment_app(PaymentSettings(
            **common, port=ports["payment"], vnpay_pay_url=f"{sandbox}/paymentv2/vpcpay.html",
            vnpay_api_url=f"{sandbox}/merchant_webapi/api/transaction",
            return_url=f"{gateway}/api/v1/payments/providers/vnpay/return"), bus=bus), ports["payment"]),
        ("sandbox", sandbox_app(SandboxSettings(
            sandbox_host=cfg.host, sandbox_port=cfg.sandbox_port,
            sandbox_ipn_url=f"{gateway}/api/v1/payments/providers/vnpay/ipn")), cfg.sandbox_port),
        ("notification", notification_app(
            NotificationSettings(**common, port=ports["notification"],
                                 lookup_link_template=f"{gateway}/tra-cuu?ma={{code}}",
                                 payment_url_template=f"{gateway}/thanh-toan?khoan={{item}}",
                                 petition_url_template=f"{gateway}/phan-anh-kien-nghi?ma={{id}}"),
            bus=bus, sms=sms, smtp=SmtpSettings(host=cfg.host, port=cfg.smtp_port, security="none")),
         ports["notification"]),
        *sms_sandboxes,
        ("feedback", feedback_app(FeedbackSettings(**common, port=ports["feedback"]), bus=bus,
                                  rating_settings=RatingSettings(rating_url_template=f"{gateway}/danh-gia?t={{token}}")),
         ports["feedback"]),
        ("gateway", gateway_app(GatewaySettings(
            host=cfg.host, port=cfg.gateway_port, public_url=f"http://{cfg.host}:{cfg.gateway_port}",
            catalog_url=url["catalog"], dossier_url=url["dossier"], lookup_url=url["lookup"],
            payment_url=url["payment"], notification_url=url["notification"], feedback_url=url["feedback"])),
         cfg.gateway_port),
    ]
    return apps, bus


async def run(cfg: EmbeddedSettings) -> None:
    apps, bus = build(cfg)
    mailbox = Mailbox(cfg.data_dir / "mail", cfg.host, cfg.smtp_port)
    mailbox.start()
    servers = [_Server(uvicorn.Config(app, host=cfg.host, port=port, access_log=False, log_config=None,
                                      lifespan="on", timeout_graceful_shutdown=10)) for _, app, port in apps]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)

    async def announce() -> None:
        while not all(s.started for s in servers):
            if any(s.should_exit for s in servers):
                return
            await asyncio.sleep(0.05)
        base = f"http://{cfg.host}:{cfg.gateway_port}"
        print(f"\nMột Cửa is running (embedded mode, data in {cfg.data_dir}/)\n"
              f"  gateway:   {base}/\n  API docs:  {base}/docs\n"
              f"  payments:  the VNPay sandbox at http://{cfg.host}:{cfg.sandbox_port}/ (no real money)\n"
              f"  e-mail:    kept as .eml files in {cfg.data_dir / 'mail'}/ (SMTP on port {cfg.smtp_port})\n"
              f"  SMS:       sandboxes at http://{cfg.host}:{cfg.sms_primary_port}/_sandbox/messages and "
              f":{cfg.sms_secondary_port} (nothing is sent)\n"
              f"  sign in:   curl -X POST {base}/auth/dev/token -H 'content-type: application/json' "
              "-d '{\"username\":\"citizen1\"}'\nPress Ctrl+C to stop.\n", flush=True)

    failed = False

    async def serve(server: _Server) -> None:
        nonlocal failed
        try:
            await server.serve()
        except (Exception, SystemExit):  # uvicorn exits on a port in use or a failed startup
            failed = True
            log.exception("a server failed to start; stopping the platform")
        finally:
            stop()  # one server down means the platform is down: stop the others too

    try:
        await asyncio.gather(*(serve(s) for s in servers), announce())
    finally:
        await bus.stop()
        bus.broker.close()
        mailbox.stop()
    if failed:
        raise SystemExit(1)


def main() -> None:
    cfg = EmbeddedSettings()
    setup_logging(cfg.log_level, cfg.log_format)
    setup_tracing("motcua-embedded")
    setup_metrics("motcua-embedded")  # one process, one registry: the gateway's /metrics has every service's
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    asyncio.run(run(cfg))


if __name__ == "__main__":
    main()
