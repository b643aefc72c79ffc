"""Operator command: move the events parked on `<topic>.dlq` back onto `<topic>`.

    motcua-dlq replay dossier.events
"""

import argparse
import asyncio
import sys

from kit.bus import make_bus
from kit.settings import PlatformSettings


async def _replay(topic: str) -> int:
    settings = PlatformSettings(service_name="dlq-replay")
    bus = make_bus(settings)
    await bus.start()
    try:
        return await bus.replay_dlq(topic)
    finally:
        await bus.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="motcua-dlq", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    replay = sub.add_parser("replay", help="replay a topic's dead-letter queue")
    replay.add_argument("topic", help="the topic whose .dlq to replay, e.g. dossier.events")
    args = parser.parse_args(argv)
    if args.topic.endswith(".dlq"):
        parser.error("name the original topic, not its .dlq")
    moved = asyncio.run(_replay(args.topic))
    print(f"replayed {moved} event(s) from {args.topic}.dlq onto {args.topic}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
