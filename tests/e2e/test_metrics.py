"""Every deployable of the distributed stack serves Prometheus metrics on `/metrics`, and the named ones
move when a citizen submits a dossier and an officer receives it: the gateway's and the dossier service's
request counters for those routes, the dossier service's events published and its dossiers by state, the
lookup's and the notification service's events consumed, and every consumer's lag back at zero."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .helpers import submit, token, until

pytestmark = [pytest.mark.e2e]

SERVICES = ("catalog", "dossier", "lookup", "payment", "notification", "feedback", "gateway")


def scrape(stack, name: str) -> list:
    r = httpx.get(f"{stack.urls[name]}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(r.text) for s in family.samples]


def total(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.mark.integration
def test_the_named_metrics_move_when_a_dossier_is_submitted_and_received(distributed_platform):
    client, stack = distributed_platform, distributed_platform.stack
    before = {name: scrape(stack, name) for name in SERVICES}
    for name, samples in before.items():  # each process names itself, and reports its memory
        assert {s.labels.get("service_name") for s in samples if s.name == "target_info"} == {name}, name
        assert total(samples, "process_resident_memory_bytes") > 0

    receipt = submit(client, token(client, "citizen1"))
    received = client.post(f"/api/v1/dossiers/{receipt['code']}/receive", headers=token(client, "reception1"))
    assert received.status_code == 200, received.text

    def moved(name: str, metric: str, **labels: str) -> float:
        return total(scrape(stack, name), metric, **labels) - total(before[name], metric, **labels)

    # The gateway labels what it forwards with its role matrix's route, not the path (no dossier code).
    assert moved("gateway", "motcua_http_server_requests_total", route="/api/v1/dossiers", method="POST",
                 status="201") >= 1
    assert moved("gateway", "motcua_http_server_requests_total", route="/api/v1/dossiers/{code}/receive",
                 status="200") == 1
    assert moved("dossier", "motcua_http_server_duration_seconds_count", route="/dossiers/{code}/receive") == 1
    assert receipt["code"] not in "".join(str(s.labels) for s in scrape(stack, "gateway"))
    until(lambda: moved("dossier", "motcua_events_published_total", topic="dossier.events") >= 2, timeout=15)
    until(lambda: moved("lookup", "motcua_events_consumed_total", topic="dossier.events", group="lookup",
                        outcome="handled") >= 2, timeout=15)
    until(lambda: moved("notification", "motcua_events_consumed_total", topic="dossier.events",
                        group="notification", outcome="handled") >= 2, timeout=15)
    # Gauges read from the store are refreshed at most every few seconds (kit.metrics.MIN_REFRESH_SECONDS).
    until(lambda: moved("dossier", "motcua_dossiers", state="received") >= 1, timeout=20, interval=0.5)
    dossier = scrape(stack, "dossier")
    assert total(dossier, "motcua_dossiers", state="received") >= 1
    assert {s.labels["state"] for s in dossier if s.name == "motcua_dossiers"} >= {"submitted", "received", "returned"}
    assert any(s.name == "motcua_dossiers_overdue" for s in dossier)
    assert total(dossier, "motcua_outbox_backlog", collection="dossiers") >= 0
    assert any(s.name == "motcua_outbox_backlog" and s.labels["collection"] == "dossiers" for s in dossier)
    # Caught up: the lag of every group on dossier.events returns to zero (it is read each second).
    until(lambda: all(total(scrape(stack, name), "motcua_consumer_lag", topic="dossier.events") == 0
                      for name in ("lookup", "notification")), timeout=15)
    assert any(s.name == "motcua_consumer_lag" for s in scrape(stack, "lookup"))


def test_in_the_embedded_mode_the_one_process_serves_every_services_metrics(started_stacks):
    from .conftest import client_for

    with client_for(started_stacks("embedded")) as client:
        receipt = submit(client, token(client, "citizen1"))
        assert receipt["state"] == "submitted"

        def scraped():
            r = client.get("/metrics")
            assert r.status_code == 200
            return [s for family in text_string_to_metric_families(r.text) for s in family.samples]

        def caught_up(samples):
            consumed = total(samples, "motcua_events_consumed_total", topic="dossier.events", group="lookup")
            return samples if consumed >= 1 and total(samples, "motcua_dossiers", state="submitted") >= 1 else None

        samples = until(lambda: caught_up(scraped()), timeout=20, interval=0.5)
        assert {s.labels.get("service_name") for s in samples if s.name == "target_info"} == {"motcua-embedded"}
        assert total(samples, "motcua_dossiers", state="submitted") >= 1
        services = {s.labels["service"] for s in samples if s.name == "motcua_http_server_requests_total"}
        assert {"gateway", "dossier"} <= services
