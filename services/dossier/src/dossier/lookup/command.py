"""`python -m dossier.lookup rebuild`: the operator's side of a rebuild (progress, summary)."""

import asyncio
import sys
import time

from kit.bus import make_bus
from kit.cache import make_cache
from kit.telemetry import setup_logging

from dossier.lookup.rebuild import RebuildReport, rebuild
from dossier.settings import LookupSettings


def run_rebuild(settings: LookupSettings, *, fresh: bool) -> int:
    if settings.bus != "kafka" or settings.cache != "redis":
        print("rebuild works on the distributed mode's log and read model (MOTCUA_BUS=kafka, MOTCUA_CACHE=redis); "
              "an in-memory read model is rebuilt by the lookup itself when it starts.", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, "text")
    started = time.monotonic()
    report = asyncio.run(_rebuild(settings, fresh=fresh))
    print(f"lookup read model rebuilt from dossier.events: {report.events} events read, "
          f"{report.dossiers} dossiers in the read model ({time.monotonic() - started:.1f} s)")
    return 0


async def _rebuild(settings: LookupSettings, *, fresh: bool) -> RebuildReport:
    bus, cache = make_bus(settings), make_cache(settings)
    await cache.start()
    try:
        with _progress_bar() as bar:
            return await rebuild(bus, cache, fresh=fresh, progress=bar.update)
    finally:
        await cache.stop()


def _progress_bar():
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is not a dependency of every install of this package: no bar then
        return _NoBar()
    return tqdm(desc="events applied", unit=" events", file=sys.stderr, mininterval=0.5)


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass
