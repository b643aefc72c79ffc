"""The raw baseline of `make bench`: the least an HTTP status lookup can cost on this machine, a minimal
ASGI app (no framework, no validation, no hashing) that answers every request with one Redis GET,
served exactly as the platform's deployables are (uvicorn, one worker, the same settings).

    python loadtests/raw_baseline.py --port 8999 --redis redis://127.0.0.1:6379/0 --key <a key that exists>"""

import argparse

import uvicorn
from redis import asyncio as aioredis


def make_app(redis_url: str, key: str):
    client = aioredis.Redis.from_url(redis_url)

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["method"] == "POST":  # drain the body, as the lookup must
            while (await receive()).get("more_body"):
                pass
        value = await client.get(key)
        body = b'{"status":"ok"}' if scope["path"].startswith("/health") else (value or b"{}")
        await send({"type": "http.response.start", "status": 200 if value or scope["path"].startswith("/health") else 404,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    # The platform's own server settings (kit.http.server).
    uvicorn.run(make_app(args.redis, args.key), host="127.0.0.1", port=args.port, access_log=False, log_config=None,
                lifespan="on", timeout_graceful_shutdown=15)


if __name__ == "__main__":
    main()
