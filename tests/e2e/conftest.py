"""One stack per mode for the whole session: starting seven processes costs seconds, so the
end-to-end modules share them."""

import httpx
import pytest

from motcua import stack as stacks


@pytest.fixture(scope="session")
def started_stacks(tmp_path_factory):
    started: dict[str, stacks.Stack] = {}

    def get(kind: str) -> stacks.Stack:
        if kind not in started:
            logs = tmp_path_factory.mktemp(f"logs-{kind}")
            stack = (stacks.embedded(logs, tmp_path_factory.mktemp("embedded-data")) if kind == "embedded"
                     else stacks.distributed(logs))
            started[kind] = stack
            stack.wait_ready()
        return started[kind]

    try:
        yield get
    finally:
        for stack in started.values():
            stack.stop()


def client_for(stack: stacks.Stack):
    client = httpx.Client(base_url=stack.gateway, timeout=10)
    client.stack = stack
    return client


@pytest.fixture(scope="module", params=["embedded", pytest.param("distributed", marks=pytest.mark.integration)])
def platform(request, started_stacks):
    with client_for(started_stacks(request.param)) as client:
        yield client


@pytest.fixture(scope="module")
def distributed_platform(started_stacks):
    with client_for(started_stacks("distributed")) as client:
        yield client
