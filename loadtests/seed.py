"""Seed the status lookup's read model with N dossiers, with a progress bar, and write their codes.

    uv run python loadtests/seed.py --dossiers 1000000 --prefix <MOTCUA_CACHE_PREFIX> --pepper <pepper> \
        [--redis redis://127.0.0.1:6379/0] [--out var/load/seed.tsv]

Each dossier becomes the entry the lookup's own projection makes from a `dossier.submitted` event
(`dossier.lookup.view.shape`, the same bytes), written to Redis in pipelined batches: about a minute for
a million on this machine, where submitting them through the platform would take hours. The output file
holds one `code<TAB>security code` line per dossier: give it to Locust as MOTCUA_LOAD_SEED_FILE so its
lookups spread over all of them. The pepper must be the lookup's MOTCUA_SECURITY_PEPPER."""

import argparse
import asyncio
import random
import sys
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

from redis import asyncio as aioredis

from contracts import build, parse
from contracts.dossier import DossierSubmitted
from dossier.lookup.projection import key
from dossier.lookup.view import shape
from dossier.security import ALPHABET, hash_security_code
from kit.events import utcnow

AGENCY = "000.00.21.H49"
PER_DAY = 9999  # the daily sequence has four digits
BATCH = 2000


def dossier_codes(count: int, *, seed: int = 42) -> Iterator[tuple[str, str]]:
    """(dossier code, security code) pairs shaped as the real ones: agency-yymmdd-sequence, 8 characters."""
    rng = random.Random(seed)
    first = date(2026, 1, 1)
    for n in range(count):
        day = first + timedelta(days=n // PER_DAY)
        yield f"{AGENCY}-{day:%y%m%d}-{n % PER_DAY + 1:04d}", "".join(rng.choices(ALPHABET, k=8))


def entry(code: str, security_code: str, pepper: str) -> bytes:
    """The read-model entry of a just-submitted dossier, made by the projection's own code."""
    at = utcnow()
    event = build(DossierSubmitted(
        code=code, sequence=1, action="submit_online", state="submitted", status_code=1,
        procedure_code="1.000894", procedure_name="Đăng ký kết hôn", agency_code=AGENCY, channel="online",
        occurred_at=at, due_at=at + timedelta(days=5), result_channel="online",
        security_code_hash=hash_security_code(pepper, code, security_code)), source="/seed", subject=code)
    return shape(parse(event), None).encode()


async def seed(redis_url: str, prefix: str, pepper: str, count: int, out: Path | None = None,
               progress: Callable[[int], None] | None = None) -> int:
    client = aioredis.Redis.from_url(redis_url)
    written = 0
    lines = out.open("w") if out is not None else None
    try:
        batch: dict[str, bytes] = {}
        for code, security_code in dossier_codes(count):
            batch[prefix + key(code)] = entry(code, security_code, pepper)
            if lines is not None:
                lines.write(f"{code}\t{security_code}\n")
            if len(batch) >= BATCH:
                await client.mset(batch)
                written += len(batch)
                batch.clear()
                if progress:
                    progress(written)
        if batch:
            await client.mset(batch)
            written += len(batch)
            if progress:
                progress(written)
    finally:
        if lines is not None:
            lines.close()
        await client.aclose()
    return written


def progress_bar(total: int, label: str):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit=" dossiers", file=sys.stderr, unit_scale=True, dynamic_ncols=True)
    done = 0

    def update(written: int) -> None:
        nonlocal done
        bar.update(written - done)
        done = written
        if done >= total:
            bar.close()

    return update


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=10_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefix", default="", help="the lookup's MOTCUA_CACHE_PREFIX")
    parser.add_argument("--pepper", required=True, help="the lookup's MOTCUA_SECURITY_PEPPER")
    parser.add_argument("--out", type=Path, default=Path("var/load/seed.tsv"))
    args = parser.parse_args()
    if args.dossiers < 1:
        parser.error("--dossiers must be at least 1")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = asyncio.run(seed(args.redis, args.prefix, args.pepper, args.dossiers, args.out,
                               progress_bar(args.dossiers, "seeding the lookup read model")))
    print(f"{written} dossiers in the read model (prefix {args.prefix!r}); codes in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
