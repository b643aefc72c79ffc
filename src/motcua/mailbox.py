"""The embedded mode's SMTP server: takes every e-mail the platform sends and keeps it as a .eml file,
so a developer reads what citizens would receive (any mail client opens them) and nothing leaves the machine."""

import logging
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

log = logging.getLogger("motcua.mailbox")


class _Keep:
    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.folder.mkdir(parents=True, exist_ok=True)
        raw = envelope.original_content or envelope.content
        message_id = message_from_bytes(raw, policy=policy.SMTP).get("Message-ID", "")
        name = re.sub(r"[^A-Za-z0-9._-]", "", message_id)[:80] or "message"
        path = self.folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S.%f}-{name}.eml"
        path.write_bytes(raw)
        log.info("e-mail kept in %s", path)  # the file name carries no address
        return "250 OK kept"


class Mailbox:
    def __init__(self, folder: Path, host: str, port: int):
        # aiosmtpd logs each SMTP command at INFO, recipients' addresses included: personal data.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.folder = folder
        self._controller = Controller(_Keep(folder), hostname=host, port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def main() -> None:
    """`python -m motcua.mailbox DIR [PORT]`: the same server on its own, for the distributed stack."""
    import argparse
    import signal
    import threading

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("port", type=int, nargs="?", default=8025)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    mailbox = Mailbox(args.folder, args.host, args.port)
    mailbox.start()
    print(f"SMTP on {args.host}:{args.port}, keeping mail in {args.folder}/", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    mailbox.stop()


if __name__ == "__main__":
    main()
