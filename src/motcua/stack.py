"""Start the platform on this machine: the distributed stack (one process per deployable, on the real
Kafka, FerretDB and Redis that `make infra` starts) or the embedded mode (one process). Used by the
end-to-end tests, the benchmark and `make load`:

    python -m motcua.stack            # the distributed stack on free ports; prints its URLs; Ctrl-C stops it
"""

import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kit.testing import KAFKA, MONGODB, REDIS, free_port, unique

DEPLOYABLES = {
    "catalog": "catalog", "dossier": "dossier", "lookup": "dossier.lookup", "payment": "payment",
    "notification": "notification", "feedback": "feedback", "gateway": "gateway",
    "sandbox": "payment.sandbox",  # the payment provider's sandbox (a third party's protocol)
    # Two SMS gateways' sandboxes (a third party's protocol), primary and secondary.
    "sms-primary": "notification.sms.sandbox", "sms-secondary": "notification.sms.sandbox",
}
SMS_PROVIDERS = {"sms-primary": "sandbox-primary", "sms-secondary": "sandbox-secondary"}
THIRD_PARTIES = {"gateway", "sandbox", *SMS_PROVIDERS}
# The tests drive one citizen from one address far faster than a person, and poll the lookup until the
# projection catches up (a 404 counts as a wrong code): limits on, but high (their own tests are in gateway/).
GATEWAY_LIMITS = {"MOTCUA_RATE_CLIENT_LIMIT": "100000", "MOTCUA_RATE_USER_LIMIT": "100000",
                  "MOTCUA_RATE_LOOKUP_LIMIT": "100000", "MOTCUA_RATE_LOOKUP_MAX_FAILURES": "100000"}


class Stack:
    def __init__(self, logs: Path):
        self.logs = logs
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}
        self.mail: Path | None = None  # where the SMTP server keeps what it received, one .eml per message

    @property
    def gateway(self) -> str:
        return self.urls["gateway"]

    def _spawn(self, name: str, module: str, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        log = open(self.logs / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", module, *args], env={**os.environ, **env},
                                            stdout=log, stderr=subprocess.STDOUT)

    def mails(self) -> list[Path]:
        return sorted(self.mail.glob("*.eml")) if self.mail and self.mail.exists() else []

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        for name, url in self.urls.items():
            while True:
                proc = self.procs.get(name) or next(iter(self.procs.values()))
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")
                try:
                    if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready within {timeout}s:\n{self.tail(name)}")
                time.sleep(0.2)

    def tail(self, name: str) -> str:
        path = self.logs / f"{name if name in self.procs else next(iter(self.procs))}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def require_server(name: str, address: str) -> None:
    hostport = address.split("://")[-1].split("/")[0]
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=2).close()
    except OSError as exc:
        raise RuntimeError(f"{name} is not answering on {hostport} ({exc}); start it with `make infra`") from None


def distributed(logs: Path, extra_env: dict[str, str] | None = None) -> Stack:
    """Every deployable in its own process, isolated from other runs by prefixes. `extra_env` is given
    to every deployable (after the defaults)."""
    for name, address in (("Kafka", KAFKA), ("FerretDB", MONGODB), ("Redis", REDIS)):
        require_server(name, address)
    stack = Stack(logs)
    run = unique("e2e")
    ports = {name: free_port() for name in DEPLOYABLES}
    smtp_port = free_port()
    stack.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    stack.mail = logs / "mail"
    common = {"MOTCUA_BUS": "kafka", "MOTCUA_STORE": "mongodb", "MOTCUA_CACHE": "redis",
              "MOTCUA_KAFKA_BOOTSTRAP": KAFKA, "MOTCUA_MONGODB_URL": MONGODB, "MOTCUA_REDIS_URL": REDIS,
              "MOTCUA_TOPIC_PREFIX": f"{run}.", "MOTCUA_DATABASE_PREFIX": f"{run}_", "MOTCUA_CACHE_PREFIX": f"{run}:",
              "MOTCUA_OUTBOX_POLL_SECONDS": "0.2", "MOTCUA_SECURITY_PEPPER": f"pepper-{run}"}
    for name, module in DEPLOYABLES.items():
        env = {**common, "MOTCUA_PORT": str(ports[name])}
        if name == "catalog":
            env["MOTCUA_SEED_DEMO"] = "true"
        if name == "dossier":
            env["MOTCUA_CATALOG_URL"] = stack.urls["catalog"]
            env["MOTCUA_LOOKUP_URL_TEMPLATE"] = f"{stack.gateway}/tra-cuu?ma={{code}}&security_code={{security_code}}"
        if name == "payment":
            sandbox = stack.urls["sandbox"]
            env.update({"MOTCUA_VNPAY_PAY_URL": f"{sandbox}/paymentv2/vpcpay.html",
                        "MOTCUA_VNPAY_API_URL": f"{sandbox}/merchant_webapi/api/transaction",
                        "MOTCUA_RETURN_URL": f"{stack.urls['gateway']}/api/v1/payments/providers/vnpay/return"})
        if name == "sandbox":
            env.update({"MOTCUA_SANDBOX_PORT": str(ports[name]), "MOTCUA_SANDBOX_TEST_HOOKS": "true",
                        "MOTCUA_SANDBOX_IPN_URL": f"{stack.urls['gateway']}/api/v1/payments/providers/vnpay/ipn"})
        if name in SMS_PROVIDERS:
            env.update({"MOTCUA_SMS_SANDBOX_PORT": str(ports[name]), "MOTCUA_SMS_SANDBOX_TEST_HOOKS": "true",
                        "MOTCUA_SMS_SANDBOX_CALLBACK_URL":
                            f"{stack.urls['gateway']}/api/v1/notifications/sms/{SMS_PROVIDERS[name]}/reports"})
        if name == "notification":
            env.update(notification_env(stack, smtp_port))
        if name == "gateway":
            env.update(GATEWAY_LIMITS)
            env.update({f"MOTCUA_{u.upper()}_URL": stack.urls[u] for u in DEPLOYABLES if u not in THIRD_PARTIES})
            env["MOTCUA_PUBLIC_URL"] = stack.urls["gateway"]
        stack._spawn(name, module, {**env, **(extra_env or {})})
    stack._spawn("smtp", "motcua.mailbox", {}, (str(stack.mail), str(smtp_port)))
    stack.run_id = run  # type: ignore[attr-defined]
    return stack


def notification_env(stack: Stack, smtp_port: int) -> dict[str, str]:
    """The notification service on the stack's SMTP server and SMS sandboxes, retrying quickly."""
    env = {"MOTCUA_SMTP_HOST": "127.0.0.1", "MOTCUA_SMTP_PORT": str(smtp_port), "MOTCUA_SMTP_SECURITY": "none",
           "MOTCUA_DELIVERY_BACKOFF_SECONDS": "0.2", "MOTCUA_DELIVERY_POLL_SECONDS": "0.2",
           "MOTCUA_SMS_BACKOFF_SECONDS": "0.05", "MOTCUA_SMS_ATTEMPTS": "2", "MOTCUA_SMS_BREAKER_FAILURES": "3",
           "MOTCUA_LOOKUP_LINK_TEMPLATE": f"{stack.gateway}/tra-cuu?ma={{code}}",
           # The test's webhook receiver listens on plain http on loopback.
           "MOTCUA_WEBHOOK_ALLOW_PLAIN_HTTP": "true", "MOTCUA_WEBHOOK_POLL_SECONDS": "0.2"}
    for role, sandbox in (("primary", "sms-primary"), ("secondary", "sms-secondary")):
        env[f"MOTCUA_SMS_{role.upper()}_NAME"] = SMS_PROVIDERS[sandbox]
        env[f"MOTCUA_SMS_{role.upper()}_URL"] = stack.urls[sandbox]
    return env


def embedded(logs: Path, data: Path) -> Stack:
    """The embedded mode as `make run` starts it, on free ports and a fresh data directory."""
    stack = Stack(logs)
    # Eleven consecutive free ports below the ephemeral range, so no client socket takes one meanwhile:
    # six services, the gateway, the payment sandbox, two SMS sandboxes, the SMTP server.
    first = random.randrange(20000, 30000, 20)
    while any(_taken(first + i) for i in range(11)):
        first = random.randrange(20000, 30000, 20)
    gateway, sandbox, sms_primary, sms_secondary, smtp = (first + i for i in range(6, 11))
    stack._spawn("embedded", "motcua.embedded", {
        "MOTCUA_EMBEDDED_GATEWAY_PORT": str(gateway), "MOTCUA_EMBEDDED_FIRST_SERVICE_PORT": str(first),
        "MOTCUA_EMBEDDED_SANDBOX_PORT": str(sandbox), "MOTCUA_EMBEDDED_DATA_DIR": str(data),
        "MOTCUA_EMBEDDED_SMS_PRIMARY_PORT": str(sms_primary), "MOTCUA_EMBEDDED_SMS_SECONDARY_PORT": str(sms_secondary),
        "MOTCUA_EMBEDDED_SMTP_PORT": str(smtp), **GATEWAY_LIMITS})
    stack.urls = {"gateway": f"http://127.0.0.1:{gateway}", "sandbox": f"http://127.0.0.1:{sandbox}",
                  "sms-primary": f"http://127.0.0.1:{sms_primary}", "sms-secondary": f"http://127.0.0.1:{sms_secondary}"}
    stack.mail = data / "mail"
    return stack


def _taken(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m motcua.stack", description="The distributed stack on this machine")
    parser.add_argument("--logs", type=Path, help="where each process writes its log (default: a temporary directory)")
    args = parser.parse_args()
    logs = args.logs or Path(tempfile.mkdtemp(prefix="motcua-stack-"))
    logs.mkdir(parents=True, exist_ok=True)
    stack = distributed(logs)
    try:
        stack.wait_ready()
        for name, url in stack.urls.items():
            print(f"{name:<14} {url}")
        print(f"logs in {logs}; Ctrl-C stops the stack", flush=True)
        while all(proc.poll() is None for proc in stack.procs.values()):
            time.sleep(1)
        print("a process exited; stopping the stack", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
