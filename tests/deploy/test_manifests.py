"""What an operator relies on in deploy/k8s: both overlays render with kustomize, every object is valid
against the Kubernetes schemas (strict: a misspelt field is an error), and the rendered objects keep
the promises of deploy/k8s/README.md (probes on the real health endpoints, limits, non-root, HPAs for
the lookup and the gateway, PodDisruptionBudgets, NetworkPolicies, no secret value)."""

import json
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.33.0"  # the oldest minor release still supported upstream when this was written
DEPLOYABLES = {"catalog": 8101, "dossier": 8102, "lookup": 8103, "payment": 8104, "notification": 8105,
               "feedback": 8106, "gateway": 8000}
SERVICES = set(DEPLOYABLES) - {"gateway"}


@cache
def rendered(overlay: str) -> tuple[dict, ...]:
    result = subprocess.run([str(K8S / "render.sh"), str(K8S / "overlays" / overlay)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"kustomize could not render overlays/{overlay}:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(overlay: str, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in rendered(overlay) if o["kind"] == kind}


def platform_deployments(overlay: str) -> dict[str, dict]:
    return {name: d for name, d in of_kind(overlay, "Deployment").items() if name in DEPLOYABLES}


def containers(deployment: dict) -> list[dict]:
    spec = deployment["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_kubernetes_schemas(overlay):
    topic_schema = json.loads((K8S / "schemas" / "kafkatopic-v1beta2.json").read_text())
    kinds = set()
    for obj in rendered(overlay):
        kinds.add(obj["kind"])
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].startswith("kafka.strimzi.io/"):
            jsonschema.validate(obj, topic_schema)
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"overlays/{overlay}: {where} is not valid Kubernetes {KUBERNETES_VERSION}: {exc.message}")
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "NetworkPolicy", "ServiceAccount"} <= kinds


def test_the_validation_is_strict_enough_to_catch_a_misspelt_field():
    deployment = json.loads(json.dumps(platform_deployments("prod")["lookup"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/health/ready",
                                                                                           "port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployable_is_there_with_its_service_and_the_lookup_is_its_own_deployment(overlay):
    deployments, services = platform_deployments(overlay), of_kind(overlay, "Service")
    assert set(deployments) == set(DEPLOYABLES)
    for name, port in DEPLOYABLES.items():
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert {p["containerPort"] for p in container["ports"]} == {port}, name
        assert services[name]["spec"]["selector"] == {"app": name}
    lookup = deployments["lookup"]["spec"]["template"]["spec"]["containers"][0]
    assert "dossier.lookup" in lookup.get("command", []) + lookup.get("args", [])  # the dossier image, another process


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_container_runs_as_root_or_can_gain_privileges(overlay):
    for name, deployment in of_kind(overlay, "Deployment").items():  # the dev databases too
        pod = deployment["spec"]["template"]["spec"]
        pod_context = pod.get("securityContext", {})
        for container in containers(deployment):
            context = {**pod_context, **container.get("securityContext", {})}
            where = f"overlays/{overlay} {name}/{container['name']}"
            assert context.get("runAsNonRoot") is True, where
            assert context.get("runAsUser", 0) != 0, where
            assert container.get("securityContext", {}).get("allowPrivilegeEscalation") is False, where
            assert container["securityContext"].get("privileged", False) is False, where
            assert "ALL" in container["securityContext"].get("capabilities", {}).get("drop", []), where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ask_the_real_health_endpoints_and_resources_are_bounded(overlay):
    for name, deployment in platform_deployments(overlay).items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        port_names = {p["name"] for p in container["ports"]}
        for probe, path in (("startupProbe", "/health/live"), ("livenessProbe", "/health/live"),
                            ("readinessProbe", "/health/ready")):
            assert container[probe]["httpGet"]["path"] == path, (name, probe)
            assert container[probe]["httpGet"]["port"] in port_names, (name, probe)
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        # Graceful shutdown: the preStop pause and uvicorn's 15 s drain fit inside the grace period.
        pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= pause + 15 + 5, name
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/path"] == "/metrics", name
        assert int(annotations["prometheus.io/port"]) == DEPLOYABLES[name], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_lookup_and_the_gateway_scale_on_their_own(overlay):
    hpas = of_kind(overlay, "HorizontalPodAutoscaler")
    assert set(hpas) == {"lookup", "gateway"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"])
    assert hpas["lookup"]["spec"]["maxReplicas"] > 1  # the lookup scales even in dev
    if overlay == "prod":
        assert hpas["lookup"]["spec"]["minReplicas"] >= 2 and hpas["gateway"]["spec"]["minReplicas"] >= 2
        # No more lookup replicas than dossier.events has partitions: each consumes a share of them.
        [topic] = [t for t in of_kind("prod", "KafkaTopic").values() if t["spec"]["topicName"] == "dossier.events"]
        assert hpas["lookup"]["spec"]["maxReplicas"] <= topic["spec"]["partitions"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_deployable_has_a_disruption_budget(overlay):
    budgets = of_kind(overlay, "PodDisruptionBudget")
    for name in DEPLOYABLES:
        assert budgets[name]["spec"]["selector"]["matchLabels"] == {"app": name}
        assert budgets[name]["spec"].get("maxUnavailable") == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_reaches_the_services(overlay):
    policies = of_kind(overlay, "NetworkPolicy")
    deny = policies["motcua-default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "motcua"}}
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    for name in SERVICES:
        [rule] = policies[name]["spec"]["ingress"]
        allowed = {peer["podSelector"]["matchLabels"]["app"] for peer in rule["from"]}
        assert allowed == ({"gateway", "dossier"} if name == "catalog" else {"gateway"}), name
        assert [p["port"] for p in rule["ports"]] == [DEPLOYABLES[name]]
    [scrape] = policies["prometheus-scrape"]["spec"]["ingress"]
    assert [peer.keys() for peer in scrape["from"]] == [{"namespaceSelector": None}.keys()]
    assert [p["port"] for p in scrape["ports"]] == ["http"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_value_is_in_the_manifests(overlay):
    assert not of_kind(overlay, "Secret")  # motcua-secrets is created out of band
    for name, deployment in platform_deployments(overlay).items():
        for container in containers(deployment):
            for env in container.get("env", []):
                sensitive = any(word in env["name"] for word in ("SECRET", "PEPPER", "PASSWORD", "API_KEY", "TOKEN"))
                if sensitive:
                    assert "value" not in env, (name, env["name"])
                    assert env["valueFrom"]["secretKeyRef"]["name"] == "motcua-secrets", (name, env["name"])
    [config] = of_kind(overlay, "ConfigMap").values()
    assert not any(word in key for key in config["data"] for word in ("SECRET", "PEPPER", "PASSWORD"))


def test_prod_images_are_pinned_and_its_topics_are_managed_by_strimzi():
    for name, deployment in platform_deployments("prod").items():
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag not in ("latest", "dev"), (name, image)
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind("prod", "KafkaTopic").values()}
    aggregates = ("catalog", "dossier", "payment", "notification", "feedback", "calendar")
    assert set(topics) == {f"{a}.events{dlq}" for a in aggregates for dlq in ("", ".dlq")}
    assert topics["dossier.events"]["config"]["retention.ms"] == -1  # the log the read models are rebuilt from
    assert topics["calendar.events"]["config"]["cleanup.policy"] == "compact"
    for spec in topics.values():
        assert spec["replicas"] >= 3 and spec["config"]["min.insync.replicas"] == 2


def test_the_kafka_topic_schema_refuses_what_strimzi_would():
    schema = json.loads((K8S / "schemas" / "kafkatopic-v1beta2.json").read_text())
    [topic] = [t for t in of_kind("prod", "KafkaTopic").values() if t["spec"]["topicName"] == "dossier.events"]
    for broken in ({"partitions": 0}, {"partition": 12}, {"replicas": "three"}):
        bad = json.loads(json.dumps(topic))
        bad["spec"].update(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
