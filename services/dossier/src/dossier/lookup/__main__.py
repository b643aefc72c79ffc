"""The lookup process.

    python -m dossier.lookup [serve]            run the status lookup server
    python -m dossier.lookup rebuild [--fresh]  rebuild its read model from dossier.events"""

import argparse
import sys

from dossier.settings import LookupSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dossier.lookup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{serve,rebuild}")
    commands.add_parser("serve", help="run the status lookup server (the default)")
    rebuild = commands.add_parser("rebuild", help="rebuild the read model from the event log, then exit")
    rebuild.add_argument("--fresh", action="store_true",
                         help="first delete every lookup entry (lookups answer 'not found' until rebuilt)")
    args = parser.parse_args(argv)
    settings = LookupSettings()
    if args.command == "rebuild":
        from dossier.lookup.command import run_rebuild

        return run_rebuild(settings, fresh=args.fresh)
    from dossier.lookup.app import create_app
    from kit.http import run_service

    run_service(create_app, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
