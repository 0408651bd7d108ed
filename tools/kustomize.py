"""`kustomize build` for the few features deploy/kubernetes uses, so tests see what gets applied.

The real tool (`kubectl kustomize`) is not always installed; the manifest tests validate the
documents this module renders, and compare them with the real tool's output where it is. What is
supported: `resources` (files and directories holding a kustomization), `namespace`, `labels`
(with `includeSelectors` for the workload kinds below), `images` (`newTag`, `newName`, `digest`) and
`patches` that are JSON 6902 operation lists with a `target` of kind and/or name. Anything else
in a kustomization is refused (`KustomizeError`) rather than rendered wrongly.

`python -m tools.kustomize deploy/kubernetes` prints the rendered documents.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]

KUSTOMIZATION = "kustomization.yaml"
SUPPORTED = {"apiVersion", "kind", "namespace", "labels", "resources", "images", "patches"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
}
#: Where `labels` with `includeSelectors: true` also write (kustomize's commonLabels field specs,
#: for the kinds deploy/kubernetes has): (path, create when missing). `[]` walks a list.
SELECTOR_PATHS: dict[str, list[tuple[str, bool]]] = {
    "Deployment": [
        ("spec.selector.matchLabels", True),
        ("spec.template.metadata.labels", True),
        ("spec.template.spec.topologySpreadConstraints[].labelSelector.matchLabels", False),
    ],
    "StatefulSet": [
        ("spec.selector.matchLabels", True),
        ("spec.template.metadata.labels", True),
        ("spec.template.spec.topologySpreadConstraints[].labelSelector.matchLabels", False),
    ],
    "Service": [("spec.selector", True)],
    "PodDisruptionBudget": [("spec.selector.matchLabels", False)],
    "Job": [("spec.selector.matchLabels", False), ("spec.template.metadata.labels", True)],
}
#: Kinds whose selectors kustomize also rewrites but this module does not model.
UNMODELLED_SELECTORS = {"DaemonSet", "ReplicaSet", "ReplicationController", "CronJob"}
IMAGE_PATHS = (
    "spec.containers[].image",
    "spec.initContainers[].image",
    "spec.template.spec.containers[].image",
    "spec.template.spec.initContainers[].image",
)


class KustomizeError(Exception):
    """The kustomization uses what this renderer does not support, or a patch does not apply."""


def load_kustomization(folder: Path) -> Doc:
    path = folder / KUSTOMIZATION
    if not path.is_file():
        raise KustomizeError(f"{folder} has no {KUSTOMIZATION}")
    kustomization: Doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unsupported = set(kustomization) - SUPPORTED
    if unsupported:
        raise KustomizeError(f"{path}: not supported here: {', '.join(sorted(unsupported))}")
    return kustomization


def _documents(path: Path) -> list[Doc]:
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def files(folder: Path | str) -> list[Path]:
    """Every manifest file the kustomization in `folder` reaches, directly or through others."""
    root = Path(folder)
    found: list[Path] = []
    for entry in load_kustomization(root).get("resources", []):
        target = (root / entry).resolve()
        found.extend(files(target) if target.is_dir() else [target])
    return found


def build(folder: Path | str) -> list[Doc]:
    """The documents `kubectl kustomize folder` prints, in the order the resources are listed
    (kustomize sorts its output by kind; the documents are the same)."""
    root = Path(folder)
    kustomization = load_kustomization(root)
    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        target = (root / entry).resolve()
        docs.extend(build(target) if target.is_dir() else copy.deepcopy(_documents(target)))
    _check_unique(docs, root)
    for patch in kustomization.get("patches", []):
        _apply_patch(docs, patch, root)
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    for labels in kustomization.get("labels", []):
        _apply_labels(docs, labels)
    for image in kustomization.get("images", []):
        _apply_image(docs, image)
    return docs


def _check_unique(docs: list[Doc], root: Path) -> None:
    seen: set[tuple[str, str]] = set()
    for doc in docs:
        key = (doc["kind"], doc["metadata"]["name"])
        if key in seen:
            raise KustomizeError(f"{root}: {key[0]}/{key[1]} is listed twice")
        seen.add(key)


# --------------------------------------------------------------------------------------------
# Patches: JSON 6902 (RFC 6902) operation lists


def _selected(doc: Doc, target: Doc) -> bool:
    unsupported = set(target) - {"kind", "name"}
    if unsupported:
        raise KustomizeError(f"patch target: not supported here: {', '.join(sorted(unsupported))}")
    kind: str = doc["kind"]
    name: str = doc["metadata"]["name"]
    return bool(target.get("kind", kind) == kind and target.get("name", name) == name)


def _apply_patch(docs: list[Doc], patch: Doc, root: Path) -> None:
    unsupported = set(patch) - {"target", "patch", "path"}
    if unsupported:
        raise KustomizeError(f"patches: not supported here: {', '.join(sorted(unsupported))}")
    text = patch["patch"] if "patch" in patch else (root / patch["path"]).read_text("utf-8")
    operations = yaml.safe_load(text)
    if not isinstance(operations, list) or "target" not in patch:
        raise KustomizeError(f"{root}: only JSON 6902 patches with a target are supported here")
    targets = [doc for doc in docs if _selected(doc, patch["target"])]
    if not targets:
        raise KustomizeError(f"{root}: no resource matches the patch target {patch['target']}")
    for doc in targets:
        for operation in operations:
            json_patch(doc, operation)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise KustomizeError(f"not a JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _child(node: Any, token: str, path: str) -> Any:
    try:
        return node[int(token)] if isinstance(node, list) else node[token]
    except (KeyError, IndexError, ValueError) as exc:
        raise KustomizeError(f"{path}: no {token!r} there") from exc


def json_patch(doc: Doc, operation: Doc) -> None:
    """Apply one RFC 6902 operation (add, remove, replace, test) to `doc` in place."""
    op, path = operation["op"], operation["path"]
    *parents, last = _pointer(path)
    node: Any = doc
    for token in parents:
        node = _child(node, token, path)
    if op == "test":
        if _child(node, last, path) != operation["value"]:
            raise KustomizeError(f"test failed at {path}: {_child(node, last, path)!r}")
    elif op == "replace":
        _child(node, last, path)
        node[int(last) if isinstance(node, list) else last] = copy.deepcopy(operation["value"])
    elif op == "add":
        value = copy.deepcopy(operation["value"])
        if isinstance(node, list):
            node.insert(len(node) if last == "-" else int(last), value)
        else:
            node[last] = value
    elif op == "remove":
        _child(node, last, path)
        del node[int(last) if isinstance(node, list) else last]
    else:
        raise KustomizeError(f"JSON patch operation {op!r} is not supported here")


# --------------------------------------------------------------------------------------------
# Labels and images


def _walk(node: Any, parts: list[str], create: bool) -> Iterator[Doc]:
    """The mappings at a dotted path (`[]` suffix: every item of a list); created if asked."""
    if not parts:
        if isinstance(node, dict):
            yield node
        return
    head, rest = parts[0], parts[1:]
    key = head.removesuffix("[]")
    if not isinstance(node, dict):
        return
    if head.endswith("[]"):
        for item in node.get(key) or []:
            yield from _walk(item, rest, create)
        return
    if key not in node:
        if not create:
            return
        node[key] = {}
    yield from _walk(node[key], rest, create)


def _apply_labels(docs: list[Doc], labels: Doc) -> None:
    unsupported = set(labels) - {"pairs", "includeSelectors"}
    if unsupported:
        raise KustomizeError(f"labels: not supported here: {', '.join(sorted(unsupported))}")
    pairs: dict[str, str] = labels["pairs"]
    for doc in docs:
        paths = [("metadata.labels", True)]
        if labels.get("includeSelectors", False):
            if doc["kind"] in UNMODELLED_SELECTORS:
                raise KustomizeError(f"labels on the selectors of a {doc['kind']}: not modelled")
            paths += SELECTOR_PATHS.get(doc["kind"], [])
        for path, create in paths:
            for mapping in _walk(doc, path.split("."), create):
                mapping.update(pairs)


def _split_image(image: str) -> tuple[str, str]:
    """`name:tag` (or `name@digest`) -> (name, the rest with its separator)."""
    if "@" in image:
        name, _, digest = image.partition("@")
        return name, "@" + digest
    name, colon, tag = image.rpartition(":")
    if colon and "/" not in tag:
        return name, ":" + tag
    return image, ""


def _apply_image(docs: list[Doc], image: Doc) -> None:
    unsupported = set(image) - {"name", "newName", "newTag", "digest"}
    if unsupported:
        raise KustomizeError(f"images: not supported here: {', '.join(sorted(unsupported))}")
    if "digest" in image and not str(image["digest"]).startswith("sha256:"):
        raise KustomizeError(f"images: a digest is sha256:<64 hex>, not {image['digest']!r}")
    for doc in docs:
        for path in IMAGE_PATHS:
            *parents, field = path.split(".")
            for container in _walk(doc, parents, create=False):
                if field not in container:
                    continue
                name, suffix = _split_image(container[field])
                if name != image["name"]:
                    continue
                if "newTag" in image:
                    suffix = ":" + str(image["newTag"])
                if "digest" in image:  # kustomize: name@digest, or name:tag@digest with newTag
                    tag = ":" + str(image["newTag"]) if "newTag" in image else ""
                    suffix = tag + "@" + str(image["digest"])
                container[field] = image.get("newName", name) + suffix


def dump(docs: Iterable[Doc]) -> str:
    return yaml.safe_dump_all(list(docs), sort_keys=False, default_flow_style=False)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.kustomize FOLDER", file=sys.stderr)
        return 2
    try:
        print(dump(build(args[0])), end="")
    except KustomizeError as exc:
        print(f"cannot build {args[0]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
