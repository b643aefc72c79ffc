"""Pytest fixtures shared by every package's tests: each port's adapters, against real servers.

The integration adapters need the local Kafka, FerretDB and Redis (`make infra`). If a server does
not answer, the test fails with the reason: an integration test that skips proves nothing."""

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager

from kit.bus import EventBus, RetryPolicy
from kit.bus.kafka import KafkaBus
from kit.bus.memory import MemoryBroker, MemoryBus
from kit.cache import Cache
from kit.cache.memory import MemoryCache
from kit.cache.redis import RedisCache
from kit.store import DocumentStore
from kit.store.mongodb import MongoStore
from kit.store.sqlite import SqliteStore

KAFKA = os.environ.get("MOTCUA_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
MONGODB = os.environ.get("MOTCUA_MONGODB_URL", "mongodb://127.0.0.1:27017")
REDIS = os.environ.get("MOTCUA_REDIS_URL", "redis://127.0.0.1:6379/0")
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05)


# Every name handed out, so the session can remove its topics, databases and keys when it ends:
# left behind, thousands of test partitions make each Kafka start slower (35 s at 2,800).
_NAMESPACES: set[str] = set()


def unique(prefix: str = "t") -> str:
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    _NAMESPACES.add(name)
    return name


def pytest_sessionfinish(session, exitstatus) -> None:
    if _NAMESPACES:
        remove_namespaces(sorted(_NAMESPACES))


def remove_namespaces(names: list[str]) -> None:
    """Delete the Kafka topics, MongoDB databases and Redis keys whose names start with one of `names`.
    Best effort: a server that is down has nothing of ours to keep."""
    ours = tuple(names)
    with contextlib.suppress(Exception):
        asyncio.run(_delete_topics(ours))
    with contextlib.suppress(Exception):
        from pymongo import MongoClient

        with MongoClient(MONGODB, serverSelectionTimeoutMS=2000) as client:
            for database in client.list_database_names():
                if database.startswith(ours):
                    client.drop_database(database)
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(REDIS, socket_timeout=5)
        for name in names:
            batch = list(client.scan_iter(match=f"{name}*", count=1000))
            if batch:
                client.unlink(*batch)


async def _delete_topics(ours: tuple[str, ...]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, client_id="test-cleanup", request_timeout_ms=10000)
    await admin.start()
    try:
        topics = [topic for topic in await admin.list_topics() if topic.startswith(ours)]
        for start in range(0, len(topics), 200):
            await admin.delete_topics(topics[start:start + 200])
    finally:
        await admin.close()


def require_server(name: str, address: str) -> None:
    """Fail (never skip) when a real server the test needs is not there."""
    hostport = address.split("://")[-1].split("/")[0].split(",")[0]
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"{name} is not answering on {hostport} ({exc}); start it with `make infra`", pytrace=False)


@pytest.fixture(params=["sqlite", pytest.param("mongodb", marks=pytest.mark.integration)])
async def store(request, tmp_path) -> AsyncIterator[DocumentStore]:
    """Each store adapter in turn, empty."""
    if request.param == "sqlite":
        adapter: DocumentStore = SqliteStore(tmp_path / "store.sqlite3")
    else:
        require_server("FerretDB", MONGODB)
        adapter = MongoStore(MONGODB, unique("test_"))
    await adapter.start()
    try:
        yield adapter
    finally:
        if request.param == "mongodb":
            await adapter.drop_all()
        await adapter.stop()


BusFactory = Callable[..., EventBus]


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
async def bus_factory(request) -> AsyncIterator[BusFactory]:
    """Makes bus clients on one shared "server" (a memory broker, or Kafka under a fresh topic prefix),
    so a test can stop one client and start another, as a restarted process would."""
    clients: list[EventBus] = []
    if request.param == "memory":
        broker = MemoryBroker()

        def make(retry: RetryPolicy = FAST_RETRY) -> EventBus:
            clients.append(MemoryBus(broker, retry=retry))
            return clients[-1]
    else:
        require_server("Kafka", KAFKA)
        prefix = unique("t") + "."

        def make(retry: RetryPolicy = FAST_RETRY) -> EventBus:
            clients.append(KafkaBus(KAFKA, client_id="test", topic_prefix=prefix, retry=retry))
            return clients[-1]
    make.kind = request.param  # type: ignore[attr-defined]
    yield make
    for client in clients:
        await client.stop()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def cache(request) -> AsyncIterator[Cache]:
    if request.param == "memory":
        adapter: Cache = MemoryCache(prefix=unique("t") + ":")
    else:
        require_server("Redis", REDIS)
        adapter = RedisCache(REDIS, prefix=unique("t") + ":")
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.delete_prefix("")
        await adapter.stop()


async def eventually(check: Callable[[], object], *, timeout: float = 15.0, interval: float = 0.05):
    """Poll an (async or sync) check until it returns a truthy value; fail with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def serving(app) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (adapters, consumers, relay) and talk to it over ASGI."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


def as_user(subject: str, *roles: str, agency: str | None = None) -> dict[str, str]:
    """The headers the gateway sets for a verified user (services trust only the gateway)."""
    headers = {"X-User-Id": subject, "X-User-Roles": ",".join(roles)}
    if agency:
        headers["X-User-Agency"] = agency
    return headers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port and not listening (yet): connections are refused."""
    # IPPROTO_TCP spelled out: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose proto says
    # TCP, and with Nagle on, every response written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def running_server(app, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve an app (lifespan included) with uvicorn over real loopback TCP, for clients that need a
    socket (like aiohttp); yields its base URL. The socket is held from the start, so no other
    process can take the port in between; it is closed on exit."""
    import uvicorn

    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on",
                                           timeout_graceful_shutdown=5))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server did not start (its lifespan failed)")
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class TcpProxy:
    """A loopback TCP relay in front of a real server, to take the server away from a client and give it
    back (a network cut) without stopping the server: `cut()` closes the listener and every relayed
    connection, `restore()` listens again on the same port."""

    def __init__(self, target: str):
        host, _, port = target.rpartition(":")
        self.target = (host or "127.0.0.1", int(port))
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.transport.abort()
                self._writers.discard(writer)

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))


class SwitchableBus(MemoryBus):
    """An in-process bus whose broker can be made unreachable: every publish raises while `down`
    (events must then wait in their outbox)."""

    down = False

    async def _send(self, topic, event, key):
        if self.down:
            raise ConnectionError("broker down")
        await super()._send(topic, event, key)
