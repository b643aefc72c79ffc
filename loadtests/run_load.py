"""`make load`: the Locust scenarios headless, against a URL given or the local distributed stack.

    uv run python loadtests/run_load.py [--host URL] [--seed 10000] [-- <more Locust options>]

With --host, Locust drives that gateway (it needs the development issuer and the demo catalogue: the
embedded platform, docker compose, or the dev overlay). Without it, the local distributed stack is
started (motcua.stack: every deployable in its own process on `make infra`'s Kafka, FerretDB and Redis),
its lookup read model seeded with `--seed` dossiers (loadtests/seed.py, with a progress bar) for the
lookups to spread over, and stopped after the run. USERS, RATE and DURATION set the run as for Locust."""

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from motcua import stack as stacks
from seed import progress_bar, seed

from kit.testing import REDIS, remove_namespaces

ROOT = Path(__file__).resolve().parents[1]


def locust(host: str, extra: list[str], env: dict[str, str]) -> int:
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
               "-u", os.environ.get("USERS", "20"), "-r", os.environ.get("RATE", "5"),
               "-t", os.environ.get("DURATION", "30s"), "--host", host, *extra]
    return subprocess.run(command, env={**os.environ, **env}).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST") or None, help="a running gateway's URL")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "10000")),
                        help="dossiers seeded into the local stack's lookup read model (0: none)")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    if args.host:
        return locust(args.host, extra, {})
    logs = Path(tempfile.mkdtemp(prefix="motcua-load-"))
    print(f"starting the local distributed stack (logs in {logs})...", file=sys.stderr, flush=True)
    stack = stacks.distributed(logs)
    try:
        stack.wait_ready(timeout=180)
        env: dict[str, str] = {}
        if args.seed > 0:
            out = logs / "seed.tsv"
            asyncio.run(seed(REDIS, f"{stack.run_id}:", f"pepper-{stack.run_id}", args.seed, out,
                             progress_bar(args.seed, f"seeding {args.seed:,} dossiers")))
            env["MOTCUA_LOAD_SEED_FILE"] = str(out)
        return locust(stack.gateway, extra, env)
    finally:
        stack.stop()
        remove_namespaces([stack.run_id])  # the run's topics, databases and seeded keys


if __name__ == "__main__":
    sys.exit(main())
