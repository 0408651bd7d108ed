"""tools/kustomize.py: what deploy/kubernetes uses renders as in kustomize; the rest is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import kustomize
from tools.kustomize import KustomizeError

BASE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: service
  labels: {app: service}
spec:
  selector: {matchLabels: {app: service}}
  template:
    metadata: {labels: {app: service}}
    spec:
      topologySpreadConstraints:
        - {topologyKey: zone, labelSelector: {matchLabels: {app: service}}}
      initContainers:
        - {name: init, image: "example.com/app:1"}
      containers:
        - {name: service, image: "example.com/app:1", env: [{name: A, value: "1"}]}
---
apiVersion: v1
kind: Service
metadata: {name: service}
spec:
  ports: [{port: 8000}]
---
apiVersion: v1
kind: Namespace
metadata: {name: ns}
"""


def write(folder: Path, kustomization: dict[str, object], **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def overlay(tmp_path: Path, **extra: object) -> Path:
    write(tmp_path / "base", {"resources": ["base.yaml"]}, **{"base.yaml": BASE})
    return write(tmp_path / "app", {"resources": ["../base"], **extra})


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in docs}


def test_json_patches_rename_and_change_what_they_target(tmp_path: Path) -> None:
    folder = overlay(
        tmp_path,
        patches=[
            {
                "target": {"name": "service"},
                "patch": "[{op: replace, path: /metadata/name, value: app}]",
            },
            {
                "target": {"kind": "Deployment"},
                "patch": yaml.safe_dump(
                    [
                        {
                            "op": "test",
                            "path": "/spec/template/spec/containers/0/name",
                            "value": "service",
                        },
                        {
                            "op": "add",
                            "path": "/spec/template/spec/containers/0/env/-",
                            "value": {"name": "B"},
                        },
                        {"op": "remove", "path": "/spec/template/spec/containers/0/env/0"},
                        {"op": "replace", "path": "/metadata/labels/app", "value": "x~/y"},
                    ]
                ),
            },
        ],
    )
    docs = by_kind(kustomize.build(folder))
    assert docs["Service"]["metadata"] == {"name": "app"}
    deployment = docs["Deployment"]
    assert deployment["metadata"] == {"name": "app", "labels": {"app": "x~/y"}}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B"}]
    assert docs["Namespace"]["metadata"] == {"name": "ns"}


def test_a_failing_test_operation_stops_the_build(tmp_path: Path) -> None:
    folder = overlay(
        tmp_path,
        patches=[
            {
                "target": {"kind": "Service"},
                "patch": "[{op: test, path: /spec/ports/0/port, value: 1}]",
            }
        ],
    )
    with pytest.raises(KustomizeError, match="test failed"):
        kustomize.build(folder)


def test_namespace_labels_with_selectors_and_image_tags(tmp_path: Path) -> None:
    folder = overlay(
        tmp_path,
        namespace="pb",
        labels=[{"pairs": {"app": "registry", "tier": "backend"}, "includeSelectors": True}],
        images=[{"name": "example.com/app", "newTag": "2.0"}],
    )
    docs = by_kind(kustomize.build(folder))
    deployment, service, namespace = docs["Deployment"], docs["Service"], docs["Namespace"]
    labels = {"app": "registry", "tier": "backend"}
    spec = deployment["spec"]
    assert deployment["metadata"]["labels"] == labels
    assert spec["selector"]["matchLabels"] == labels
    assert spec["template"]["metadata"]["labels"] == labels
    pod = spec["template"]["spec"]
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == labels
    assert [c["image"] for c in pod["initContainers"] + pod["containers"]] == [
        "example.com/app:2.0"
    ] * 2
    assert service["spec"]["selector"] == labels
    assert service["metadata"]["namespace"] == "pb"
    assert "namespace" not in namespace["metadata"]


def test_images_by_digest(tmp_path: Path) -> None:
    """As kustomize: a digest replaces the tag (`name@digest`), or follows a new tag."""
    digest = "sha256:" + "ab" * 32
    folder = overlay(tmp_path / "a", images=[{"name": "example.com/app", "digest": digest}])
    pod = by_kind(kustomize.build(folder))["Deployment"]["spec"]["template"]["spec"]
    images = [c["image"] for c in pod["initContainers"] + pod["containers"]]
    assert images == [f"example.com/app@{digest}"] * 2
    tagged = overlay(
        tmp_path / "b",
        images=[
            {"name": "example.com/app", "newName": "r.example/app", "newTag": "2", "digest": digest}
        ],
    )
    pod = by_kind(kustomize.build(tagged))["Deployment"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == f"r.example/app:2@{digest}"
    with pytest.raises(KustomizeError, match="digest"):
        kustomize.build(
            overlay(tmp_path / "c", images=[{"name": "example.com/app", "digest": "2"}])
        )


def test_job_labels_reach_its_pods(tmp_path: Path) -> None:
    job = (
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\n"
        "spec: {template: {spec: {containers: [{name: m, image: example.com/app:1}]}}}\n"
    )
    write(tmp_path / "base", {"resources": ["job.yaml"]}, **{"job.yaml": job})
    folder = write(
        tmp_path / "app",
        {"resources": ["../base"], "labels": [{"pairs": {"app": "x"}, "includeSelectors": True}]},
    )
    (built,) = kustomize.build(folder)
    assert built["metadata"]["labels"] == {"app": "x"}
    assert built["spec"]["template"]["metadata"]["labels"] == {"app": "x"}
    assert "selector" not in built["spec"], "a Job's selector is the API server's to make"


def test_what_is_not_modelled_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KustomizeError, match="namePrefix"):
        kustomize.build(overlay(tmp_path / "a", namePrefix="x-"))
    strategic = "apiVersion: v1\nkind: Service\nmetadata: {name: service}\n"
    with pytest.raises(KustomizeError, match="JSON 6902"):
        kustomize.build(overlay(tmp_path / "b", patches=[{"patch": strategic}]))
    with pytest.raises(KustomizeError, match="no resource matches"):
        kustomize.build(
            overlay(tmp_path / "c", patches=[{"target": {"kind": "Job"}, "patch": "[]"}])
        )


def test_the_command_line_prints_the_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert kustomize.main([str(overlay(tmp_path))]) == 0
    printed = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert [d["kind"] for d in printed] == ["Deployment", "Service", "Namespace"]
    assert kustomize.main([str(tmp_path)]) == 1
