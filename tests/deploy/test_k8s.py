"""deploy/k8s: every manifest validates against the Kubernetes API models (the
official `kubernetes` client's pydantic models, through `model_validate`: unknown
fields and wrong types are errors; `from_dict` would drop unknown keys), and the
pieces fit together: probes hit the health endpoints, names referenced between
objects exist, the config is a valid homerec configuration."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.security import kafka_options
from tests.deploy.catalog import ROOT

K8S = ROOT / "deploy/k8s"
KINDS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("batch/v1", "Job"): "V1Job",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
}

#: Prometheus Operator objects: applied separately, as their CRDs may be absent
OPERATOR_KINDS = {"PodMonitor", "PrometheusRule"}


def _docs(name: str | None = None) -> list[dict[str, Any]]:
    files = [K8S / name] if name else sorted(K8S.glob("*.yaml"))
    out = []
    for path in files:
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc["__file__"] = path.name
                out.append(doc)
    return out


def _one(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in _docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _models() -> Any:
    # the official client (pip install kubernetes; in the dev extras) carries the
    # API's models; without it only the structural checks below run
    return pytest.importorskip("kubernetes.client", reason="pip install kubernetes")


@pytest.mark.parametrize(
    "doc",
    [d for d in _docs() if (d["apiVersion"], d["kind"]) in KINDS],
    ids=lambda d: f"{d['__file__']}:{d['kind']}/{d['metadata']['name']}",
)
def test_manifest_matches_the_kubernetes_api(doc: dict[str, Any]) -> None:
    client = _models()
    model = getattr(client, KINDS[(doc["apiVersion"], doc["kind"])])
    body = {k: v for k, v in doc.items() if k != "__file__"}
    model.model_validate(body)  # raises on unknown fields, wrong types, missing required fields


def test_the_validation_is_strict() -> None:
    client = _models()
    bad = {k: v for k, v in _one("Deployment", "homerec-worker").items() if k != "__file__"}
    container = bad["spec"]["template"]["spec"]["containers"][0]
    container["livenessprobe"] = container["livenessProbe"]  # a typo
    with pytest.raises(ValueError):
        client.V1Deployment.model_validate(bad)
    container.pop("livenessprobe")
    container["ports"][0]["containerPort"] = "9400"  # a string
    with pytest.raises(ValueError):
        client.V1Deployment.model_validate(bad)


def test_every_manifest_is_a_known_kind_in_one_namespace() -> None:
    for doc in _docs():
        known = (doc["apiVersion"], doc["kind"]) in KINDS or doc["kind"] in OPERATOR_KINDS
        assert known, f"{doc['__file__']}: {doc['kind']} has no validation"
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "homerec", doc["__file__"]


def test_kustomization_lists_every_core_manifest() -> None:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kust["resources"])
    for name in listed:
        assert (K8S / name).is_file()
    core = {d["__file__"] for d in _docs() if d["kind"] not in OPERATOR_KINDS}
    assert core == listed


def _worker_pod() -> dict[str, Any]:
    spec: dict[str, Any] = _one("Deployment", "homerec-worker")["spec"]["template"]
    return spec


def test_worker_probes_resources_and_graceful_termination() -> None:
    pod = _worker_pod()
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 9400}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 30
    # the liveness window is longer than one loop iteration can legitimately take
    probe = container["livenessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 60
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homerec", exit_on_error=False)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("topics", "worker"):
        importlib.import_module(f"streams.commands.{name}").register(sub)
    return parser


@pytest.mark.parametrize(
    ("kind", "name"), [("Deployment", "homerec-worker"), ("Job", "homerec-topics")]
)
def test_container_args_are_accepted_by_the_cli(kind: str, name: str) -> None:
    (container,) = _one(kind, name)["spec"]["template"]["spec"]["containers"]
    args = _parser().parse_args(container["args"])
    if kind == "Deployment":
        assert args.metrics_port == 9400
    else:
        assert args.action == "create"


@pytest.mark.parametrize(
    ("kind", "name"), [("Deployment", "homerec-worker"), ("Job", "homerec-topics")]
)
def test_config_and_secret_references_resolve(kind: str, name: str) -> None:
    pod = _one(kind, name)["spec"]["template"]["spec"]
    configmaps = {d["metadata"]["name"]: d for d in _docs() if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"]: d for d in _docs() if d["kind"] == "Secret"}
    (container,) = pod["containers"]
    for source in container["envFrom"]:
        assert source["configMapRef"]["name"] in configmaps
    for env in container.get("env", []):
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in secrets[ref["name"]]["stringData"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume:
            secret = secrets[volume["secret"]["secretName"]]
            for item in volume["secret"].get("items", []):
                assert item["key"] in secret["stringData"]


def test_configmap_is_a_valid_homerec_security_config(tmp_path: Path) -> None:
    """The ConfigMap + mounted Secrets produce valid Kafka client options, with the
    files where the Deployment mounts them."""
    data = dict(_one("ConfigMap", "homerec-config")["data"])
    (container,) = _worker_pod()["spec"]["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    for var in ("HOMEREC_SSL_CAFILE", "HOMEREC_SASL_PASSWORD_FILE"):
        path = Path(data[var])
        assert str(path.parent) in mounts.values(), f"{var} is not under a mounted volume"
        local = tmp_path / path.name
        local.write_text("placeholder\n")
        data[var] = str(local)
    data["HOMEREC_SASL_USERNAME"] = "homerec"  # from the Secret, via env
    opts = kafka_options(argparse.Namespace(), env=data)
    assert opts["security_protocol"] == "SASL_SSL"
    assert opts["sasl_mechanism"] == "SCRAM-SHA-512"
    assert opts["ssl_check_hostname"] is True


def test_metrics_service_selects_the_worker_pods() -> None:
    svc = _one("Service", "homerec-worker-metrics")
    labels = _worker_pod()["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    (port,) = svc["spec"]["ports"]
    assert port["targetPort"] == "metrics" and port["port"] == 9400
    deployment = _one("Deployment", "homerec-worker")
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_podmonitor_scrapes_the_metrics_port_as_the_rules_job() -> None:
    (pm,) = [d for d in _docs() if d["kind"] == "PodMonitor"]
    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    labels = _worker_pod()["metadata"]["labels"]
    assert pm["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = pm["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    # the alert rules select job="homerec-worker"
    assert {"targetLabel": "job", "replacement": "homerec-worker"} in endpoint["relabelings"]


def test_topics_job_runs_to_completion() -> None:
    job = _one("Job", "homerec-topics")
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}
    assert job["spec"]["backoffLimit"] >= 1


def test_prometheusrule_carries_exactly_the_rules_file() -> None:
    (rule,) = [d for d in _docs() if d["kind"] == "PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    rules_file = yaml.safe_load((ROOT / "deploy/prometheus/rules/homerec.rules.yml").read_text())
    assert rule["spec"] == rules_file, "copy the groups of the rules file into prometheusrule.yaml"
