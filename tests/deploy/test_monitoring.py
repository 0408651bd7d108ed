"""deploy/monitoring: the alert rules are valid and do what they say (promtool `check rules` and
`test rules`), read only metrics the services really export, link a runbook section that exists,
and the PodMonitors scrape ports the pods really have."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from libs.common.metrics import ServiceMetrics
from tools import kustomize, promtool

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
RUNBOOK = REPO / "docs" / "runbook.md"
SERVICES = ("registry", "coverage", "stations", "training")


def rule_groups() -> list[dict[str, Any]]:
    rule = yaml.safe_load((MONITORING / "alerts.yaml").read_text(encoding="utf-8"))
    assert rule["kind"] == "PrometheusRule"
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def alerts() -> list[dict[str, Any]]:
    return [r for g in rule_groups() for r in g["rules"] if "alert" in r]


def runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's second-level headings (the alert names, lowercased)."""
    text = RUNBOOK.read_text(encoding="utf-8")
    return {m.group(1).strip().lower() for m in re.finditer(r"(?m)^## (.+)$", text)}


def test_every_alert_has_a_severity_a_summary_and_a_runbook_section() -> None:
    anchors = runbook_anchors()
    names = [a["alert"] for a in alerts()]
    assert len(names) == len(set(names))
    for alert in alerts():
        assert alert["labels"]["severity"] in ("critical", "warning"), alert["alert"]
        assert alert["annotations"]["summary"]
        assert alert["annotations"]["description"]
        url = alert["annotations"]["runbook_url"]
        assert url.endswith("#" + alert["alert"].lower()), url
        assert alert["alert"].lower() in anchors, f"docs/runbook.md has no ## {alert['alert']}"


def test_the_alerts_read_only_metrics_the_services_export() -> None:
    """A renamed metric would silence its alert without a word: every `pb_*` series an alert or
    recording rule reads must be on a service's /metrics."""
    metrics = ServiceMetrics("registry")
    metrics.requests("GET", "/x", "200").inc()
    metrics.request_seconds.labels("GET", "/x").observe(0.1)
    metrics.events_dead_lettered.labels("c").inc()
    metrics.consumer_lag.labels("c").set(1)
    exported = set(re.findall(r"(?m)^(pb_[a-z_]+)", generate_latest(metrics.registry).decode()))
    read = {
        name
        for group in rule_groups()
        for rule in group["rules"]
        for name in re.findall(r"\b(pb_[a-z_]+)", rule["expr"])
    }
    assert read, "no rule reads a pb_ metric"
    assert read <= exported, f"not exported: {sorted(read - exported)}"


def test_a_pod_monitor_per_service_and_for_nats_on_ports_the_pods_have() -> None:
    built = kustomize.build(MONITORING)
    assert {d["kind"] for d in built} == {"PodMonitor", "PrometheusRule"}
    monitors = {d["metadata"]["name"]: d for d in built if d["kind"] == "PodMonitor"}
    workers = {f"{name}-worker" for name in SERVICES}
    assert set(monitors) == {*SERVICES, *workers, "nats"}, "the API's and the worker's pods"
    workloads = {
        d["metadata"]["name"]: d
        for d in kustomize.build(REPO / "deploy" / "kubernetes")
        if d["kind"] in ("Deployment", "StatefulSet")
    }
    for name, monitor in monitors.items():
        assert monitor["kind"] == "PodMonitor"
        assert monitor["metadata"]["namespace"] == "partybuilding"
        pod = workloads[name]["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint["port"] in ports, (name, endpoint["port"], ports)
        assert {"targetLabel": "service"}.items() <= endpoint["relabelings"][0].items()
        # Each monitor scrapes its own Deployment's pods only: no series is scraped twice.
        for other, workload in workloads.items():
            if other != name:
                other_labels = workload["spec"]["template"]["metadata"]["labels"]
                assert not monitor["spec"]["selector"]["matchLabels"].items() <= (
                    other_labels.items()
                ), (name, other)
        if name != "nats":
            assert {"targetLabel": "component"}.items() <= endpoint["relabelings"][1].items()


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PrometheusRule's groups as a plain rules file, beside a copy of the unit tests."""
    where = tmp_path_factory.mktemp("rules")
    (where / "alerts.rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups()}))
    shutil.copy(MONITORING / "tests" / "alerts.test.yaml", where)
    return where


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = promtool.find()
    if binary is None:
        pytest.skip(f"promtool cannot be had here: {promtool.find.reason}")
    return subprocess.run(
        [str(binary), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_promtool_accepts_the_rules(rules_dir: Path) -> None:
    checked = run_promtool("check", "rules", "alerts.rules.yaml", cwd=rules_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_groups())} rules found" in checked.stdout


def test_the_alerts_fire_when_they_should_and_only_then(rules_dir: Path) -> None:
    tested = run_promtool("test", "rules", "alerts.test.yaml", cwd=rules_dir)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
