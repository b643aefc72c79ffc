"""docker-compose.yml and the Dockerfiles, checked without a Docker engine: what `docker compose up`
relies on (a health check on every long-running service, start order on health, topics created at
start, pinned images, no database port published) and what each image promises (multi-stage, the
locked dependencies only, a non-root user, a health check)."""

import re
from pathlib import Path

import pytest
import yaml

from contracts import calendar, catalog, dossier, feedback, notification, payment

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
DATABASES = {"kafka", "mongodb", "redis"}
PLATFORM = {"catalog": 8101, "dossier": 8102, "lookup": 8103, "payment": 8104, "notification": 8105,
            "feedback": 8106, "gateway": 8000}
DOCKERFILES = {"catalog": "services/catalog/Dockerfile", "dossier": "services/dossier/Dockerfile",
               "payment": "services/payment/Dockerfile", "notification": "services/notification/Dockerfile",
               "feedback": "services/feedback/Dockerfile", "gateway": "gateway/Dockerfile",
               "otel-collector": "deploy/compose/otel-collector.Dockerfile"}
TOPICS = [m.TOPIC for m in (calendar, catalog, dossier, feedback, notification, payment)]
# Tags that move: an image named by one of these is not pinned.
FLOATING = re.compile(r"^(latest|stable|edge|\d+|\d+-[a-z]+|[a-z]+)$")


def one_shot(service: dict) -> bool:
    """A job that runs to completion (its dependents wait for `service_completed_successfully`)."""
    return service.get("restart") == "no"


def test_the_full_distributed_stack_is_there():
    assert set(PLATFORM) | DATABASES | {"otel-collector", "jaeger", "prometheus", "payment-sandbox",
                                        "sms-primary", "sms-secondary", "mailpit"} <= set(SERVICES)
    assert "KAFKA_PROCESS_ROLES" in SERVICES["kafka"]["environment"]  # KRaft, no ZooKeeper
    assert "zookeeper" not in SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_long_running_service_has_a_health_check(name):
    service = SERVICES[name]
    if one_shot(service):
        return
    check = service.get("healthcheck")
    assert check and not check.get("disable"), f"{name} has no health check"
    assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name


@pytest.mark.parametrize("name", sorted(PLATFORM))
def test_platform_services_are_ready_checked_and_start_after_what_they_need(name):
    service = SERVICES[name]
    assert "/health/ready" in " ".join(service["healthcheck"]["test"])  # ready = its Kafka, store, cache answer
    assert service["environment"]["MOTCUA_PORT"] == str(PLATFORM[name])
    for dependency, condition in service["depends_on"].items():
        expected = "service_completed_successfully" if one_shot(SERVICES[dependency]) else "service_healthy"
        assert condition["condition"] == expected, (name, dependency)
    needs = set(service["depends_on"])
    assert "kafka-init" in needs or name == "gateway"  # topics exist before anyone produces or consumes
    assert service["environment"]["MOTCUA_OTEL_EXPORTER"].endswith("otlp}")  # traces and metrics to the collector
    if name == "gateway":
        assert needs >= set(PLATFORM) - {"gateway"}


def test_topics_are_created_at_start_for_every_event_contract():
    job = SERVICES["kafka-init"]
    assert one_shot(job) and job["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = " ".join(job["command"])
    for topic in TOPICS:
        assert topic.split(".")[0] in script, topic
    assert '"$$aggregate.events" "$$aggregate.events.dlq"' in script
    assert SERVICES["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_no_database_publishes_a_port_and_the_rest_only_on_loopback():
    for name in DATABASES:
        assert not SERVICES[name].get("ports"), f"{name} publishes a port"
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert published & set(PLATFORM) == {"gateway"}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name):
    service = SERVICES[name]
    image = service["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and tag, f"{name}: {image} has no tag"
    if repository.startswith("motcua/"):  # built here from this repository, by this service or another
        assert image in {s["image"] for s in SERVICES.values() if "build" in s}, f"{name}: nothing builds {image}"
        return
    assert "build" not in service, f"{name} builds an image named like a third party's"
    assert not FLOATING.match(tag), f"{name}: {image} is not pinned to a release"


def test_the_platform_containers_are_hardened():
    for name in PLATFORM:
        service = SERVICES[name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def test_prometheus_scrapes_every_deployable():
    config = yaml.safe_load((ROOT / "deploy" / "compose" / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "motcua"]
    assert job["metrics_path"] == "/metrics"
    assert set(job["static_configs"][0]["targets"]) == {f"{n}:{p}" for n, p in PLATFORM.items()}


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_each_image_is_multi_stage_non_root_and_health_checked(name):
    text = (ROOT / DOCKERFILES[name]).read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    stages = [line for line in lines if line.upper().startswith("FROM ")]
    assert len(stages) >= 2, f"{name}: not multi-stage"
    defaults = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))
    for stage in stages:
        image = stage.split()[1]
        image = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), image)
        if image in {s.split()[-1] for s in stages if " AS " in s.upper()}:
            continue  # an earlier stage of this file
        repository, _, tag = image.rpartition(":")
        assert repository and tag and not FLOATING.match(tag) and not re.fullmatch(r"\d+\.\d+-slim", tag), \
            f"{name}: base image {image} is not pinned"
    final = text[text.rfind("\nFROM "):]
    [user] = re.findall(r"^USER (\S+)$", final, re.M)
    assert user.split(":")[0] not in ("0", "root"), f"{name}: runs as {user}"
    assert re.search(r"^HEALTHCHECK ", final, re.M), f"{name}: no HEALTHCHECK"
    if name in PLATFORM or name == "dossier":
        assert "uv sync --frozen --no-dev" in text, f"{name}: not built from the lock"
        assert "/health/live" in final
