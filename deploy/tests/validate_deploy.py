#!/usr/bin/env python3
"""Validation suite for KubePulse's deployment artefacts; run by scripts/test-deploy.

Renders every Kustomize tree with the pinned kubectl, validates every rendered object against a
schema (Kubernetes OpenAPI schemas bundled in kubernetes-validate, the published prometheus-operator
validators, a structural schema for Chaos Mesh), checks that every overlay grants exactly the
ClusterRole of deploy/kustomize/components/watch (itself asserted equal to the Rust code's
`cluster::KUBE_PERMISSIONS` by crates/cluster/tests/it/rbac.rs) and that the remediation example
(examples/remediate) grants exactly the watch and remediation roles where its policy says, checks the
metric names against deploy/monitoring/metrics.yaml, runs promtool on the PrometheusRule, sends
every PromQL expression to a real Prometheus, and runs checkov and hadolint. Nothing is skipped:
a missing tool or a failed check fails the run with a message saying what to do.

    python deploy/tests/validate_deploy.py --kubectl .venv/bin/kubectl --node-modules .venv/node/node_modules
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# Kubernetes versions every built-in object must validate against: the oldest we support and the
# newest kubernetes-validate bundles.
K8S_VERSIONS = ("1.29", "1.37")

# What we render. KubePulse's own trees are also held to the hardening and consistency checks.
RENDERS = {
    "overlays/staging-gke": DEPLOY / "kustomize/overlays/staging-gke",
    "overlays/production-aks": DEPLOY / "kustomize/overlays/production-aks",
    # The local overlay's KubePulse part (its top level adds deploy/demo, checked by the demo checks).
    "overlays/local": DEPLOY / "kustomize/overlays/local/kubepulse",
    "base": DEPLOY / "kustomize/base",
    "monitoring": DEPLOY / "monitoring",
    "demo/loadgen": DEPLOY / "demo/loadgen",
    "demo/chaos": DEPLOY / "demo/chaos",
    "examples/remediate": DEPLOY / "kustomize/examples/remediate",
    "examples/training-sharded": DEPLOY / "kustomize/examples/training-sharded",
}
OVERLAYS = ("overlays/staging-gke", "overlays/production-aks")
PLACEHOLDER_IMAGE = "ghcr.io/kubepulse/kubepulse"
UPSTREAM_BOUTIQUE = re.compile(
    r"^https://raw\.githubusercontent\.com/GoogleCloudPlatform/microservices-demo/"
    r"v\d+\.\d+\.\d+/release/kubernetes-manifests\.yaml$"
)
# Grafana's built-in variables, replaced by representative values before Prometheus sees a query.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "30s",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "30000",
}


class Failure(Exception):
    """A check failed; the message says what and where."""


def fail(msg: str) -> None:
    raise Failure(msg)


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


class Suite:
    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[tuple[str, str]] = []

    def check(self, name: str, fn: Callable[[], str | None]) -> None:
        t0 = time.monotonic()
        try:
            detail = fn()
        except Failure as e:
            self.failed.append((name, str(e)))
            print(f"FAIL {name}\n     {str(e).rstrip()}".replace("\n", "\n     ").rstrip(), flush=True)
            return
        except Exception:  # a bug in a check is a failure too, never a pass
            self.failed.append((name, traceback.format_exc()))
            print(f"FAIL {name} (error in the check)\n{traceback.format_exc()}", flush=True)
            return
        self.passed.append(name)
        took = time.monotonic() - t0
        print(f"ok   {name}" + (f" — {detail}" if detail else "") + f" ({took:.1f}s)", flush=True)


# ---------------------------------------------------------------------------------------------
# rendering


def load_docs(text: str, source: str) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or "apiVersion" not in d or "kind" not in d:
            fail(f"{source}: a document without apiVersion/kind: {str(d)[:200]}")
    return docs


def kustomize(kubectl: str, path: Path) -> str:
    p = run([kubectl, "kustomize", str(path)])
    if p.returncode != 0:
        fail(f"`kubectl kustomize {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}` failed:\n{p.stderr}")
    return p.stdout


def name_of(o: dict) -> str:
    meta = o.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{o['kind']}/{(ns + '/') if ns else ''}{meta.get('name')}"


def find(docs: Iterable[dict], kind: str, name: str) -> dict:
    for d in docs:
        if d["kind"] == kind and d.get("metadata", {}).get("name") == name:
            return d
    fail(f"no {kind} named {name!r} in the rendered output")
    raise AssertionError  # unreachable


def api_group(o: dict) -> str:
    av = o["apiVersion"]
    return av.split("/")[0] if "/" in av else ""


# ---------------------------------------------------------------------------------------------
# schema validation


@lru_cache(maxsize=None)
def k8s_validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator:
    """A cached strict validator for one kind, from kubernetes-validate's bundled schemas."""
    from referencing import Registry, Resource

    schema_root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    candidates = sorted(
        (p for p in schema_root.iterdir() if p.name.endswith("-local-strict")),
        key=lambda p: tuple(int(x) for x in p.name[1:].split("-")[0].split(".")),
    )
    want = tuple(int(x) for x in version.split("."))
    dirs = [p for p in candidates if tuple(int(x) for x in p.name[1:].split("-")[0].split("."))[:2] <= want]
    if not dirs:
        fail(f"kubernetes-validate bundles no schemas for Kubernetes {version}")
    schema_dir = dirs[-1]
    if not schema_dir.name.startswith(f"v{version}."):
        fail(f"kubernetes-validate bundles no schemas for Kubernetes {version} (newest <= is {schema_dir.name})")
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    f = schema_dir / f"{kind.lower()}-{group_version}.json"
    if not f.exists():
        fail(f"no Kubernetes {version} schema for {api_version} {kind} ({f.name} not in kubernetes-validate)")
    schema = json.loads(f.read_text())
    defs = json.loads((schema_dir / "_definitions.json").read_text())
    registry = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(defs) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_builtin(o: dict) -> list[str]:
    errors = []
    for v in K8S_VERSIONS:
        val = k8s_validator(v, o["kind"], o["apiVersion"])
        for e in sorted(val.iter_errors(o), key=lambda e: list(e.path)):
            path = "/".join(str(p) for p in e.path)
            errors.append(f"Kubernetes {v}: {path or '(root)'}: {e.message[:300]}")
    return errors


@lru_cache(maxsize=None)
def chaos_schema() -> jsonschema.protocols.Validator:
    schema = json.loads((DEPLOY / "schemas/chaos-mesh/schedule.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@lru_cache(maxsize=None)
def gmp_schema() -> jsonschema.protocols.Validator:
    schema = json.loads((DEPLOY / "schemas/gmp/podmonitoring.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_gmp(o: dict) -> list[str]:
    if o["kind"] != "PodMonitoring":
        return [f"no schema for monitoring.googleapis.com kind {o['kind']} (only PodMonitoring is shipped)"]
    return [f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message[:300]}" for e in gmp_schema().iter_errors(o)]


def validate_chaos(o: dict) -> list[str]:
    if o["kind"] != "Schedule":
        return [f"no schema for chaos-mesh.org kind {o['kind']} (only Schedule is shipped)"]
    out = []
    for e in chaos_schema().iter_errors(o):
        out.append(f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message[:300]}")
    return out


def validate_prometheus_operator(items: list[tuple[str, dict]], node_modules: Path) -> dict[int, str | None]:
    if not items:
        return {}
    node = shutil.which("node")
    if not node:
        fail("node is not installed: scripts/test-deploy installs it (apt-get install nodejs npm)")
    if not (node_modules / "@kubernetes-models/prometheus-operator").is_dir():
        fail(f"{node_modules} lacks @kubernetes-models/prometheus-operator: run scripts/test-deploy (npm ci of deploy/package.json)")
    payload = json.dumps([{"source": s, "object": o} for s, o in items])
    p = run([node, str(DEPLOY / "tests/validate-prometheus-operator.mjs"), str(node_modules)], input=payload)
    if p.returncode != 0:
        fail(f"prometheus-operator validator crashed:\n{p.stderr}")
    results = json.loads(p.stdout)
    return {i: r["error"] for i, r in enumerate(results)}


# ---------------------------------------------------------------------------------------------
# RBAC


CLUSTERROLE = DEPLOY / "kustomize/components/watch/clusterrole.yaml"


def canonical_access() -> set[tuple[str, str, str]]:
    """The grants of the component's ClusterRole source: the Rust test crates/cluster/tests/it/rbac.rs
    asserts that this file grants exactly `cluster::KUBE_PERMISSIONS`, the API calls the code makes,
    so there is no hand-maintained list here; this suite checks the rendered overlays keep it as is."""
    role = yaml.safe_load(CLUSTERROLE.read_text())
    triples = set()
    for rule in role["rules"]:
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                for v in rule["verbs"]:
                    triples.add((g, r, v))
    if not triples:
        fail(f"{CLUSTERROLE.relative_to(ROOT)} grants nothing")
    return triples


def granted_access(docs: list[dict], sa_name: str, sa_namespace: str) -> set[tuple[str, str, str]]:
    """Every (apiGroup, resource, verb) the rendered bindings grant to one ServiceAccount."""
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("Role", "ClusterRole")}
    triples: set[tuple[str, str, str]] = set()
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        subjects = b.get("subjects") or []
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa_name
                   and s.get("namespace", b["metadata"].get("namespace")) == sa_namespace for s in subjects):
            continue
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], ns, ref["name"]))
        if role is None:
            fail(f"{name_of(b)} binds {sa_name} to {ref['kind']}/{ref['name']}, which is not in the bundle "
                 "(a role defined elsewhere cannot be checked)")
        if role.get("aggregationRule"):
            fail(f"{name_of(role)} is an aggregated role: its rules are not in the bundle")
        for rule in role.get("rules") or []:
            if rule.get("nonResourceURLs") or rule.get("resourceNames"):
                fail(f"{name_of(role)}: nonResourceURLs/resourceNames are not in KUBE_PERMISSIONS' vocabulary")
            for g in rule.get("apiGroups") or []:
                for r in rule.get("resources") or []:
                    for v in rule.get("verbs") or []:
                        if "*" in (g, r, v):
                            fail(f"{name_of(role)} grants a wildcard ({g!r}, {r!r}, {v!r})")
                        triples.add((g, r, v))
    return triples


def assert_rbac(docs: list[dict], source: str) -> str:
    want = canonical_access()
    sa = find(docs, "ServiceAccount", "kubepulse-watch")
    got = granted_access(docs, "kubepulse-watch", sa["metadata"].get("namespace"))
    if got != want:
        extra = sorted(got - want)
        missing = sorted(want - got)
        fail(f"{source}: kubepulse-watch's granted access differs from components/watch/clusterrole.yaml\n"
             f"  granted but not listed: {extra}\n  listed but not granted: {missing}")
    serve = find(docs, "ServiceAccount", "kubepulse-serve")
    serve_access = granted_access(docs, "kubepulse-serve", serve["metadata"].get("namespace"))
    if serve_access:
        fail(f"{source}: kubepulse-serve must have no Kubernetes API access, has {sorted(serve_access)}")
    if serve.get("automountServiceAccountToken") is not False:
        fail(f"{source}: ServiceAccount kubepulse-serve must set automountServiceAccountToken: false")
    other = [name_of(d) for d in docs if d["kind"] in ("Role", "ClusterRole") and d["metadata"]["name"] != "kubepulse-watch"]
    if other:
        fail(f"{source}: unexpected roles in the bundle: {other}")
    verbs = sorted({v for _, _, v in got})
    if set(verbs) - {"get", "list", "watch"}:
        fail(f"{source}: watch must be read-only, has verbs {verbs}")
    return f"{len(got)} (group, resource, verb) grants == components/watch/clusterrole.yaml == KUBE_PERMISSIONS"


REMEDIATE = DEPLOY / "kustomize/components/remediate"
REMEDIATE_NODES_ROLE = DEPLOY / "kustomize/components/remediate-nodes/clusterrole.yaml"
REMEDIATE_NAMESPACES_ROLE = REMEDIATE / "clusterrole-namespaces.yaml"


def role_file_access(path: Path) -> set[tuple[str, str, str]]:
    """The grants of a role source file (each asserted equal to its part of `cluster::KUBE_PERMISSIONS`
    by crates/cluster/tests/it/rbac.rs)."""
    role = yaml.safe_load(path.read_text())
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]}


def binding_access(docs: list[dict], binding: dict) -> set[tuple[str, str, str]]:
    """What one binding grants: its role's rules (wildcards, resourceNames, aggregation refused)."""
    ref = binding["roleRef"]
    ns = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
    roles = [d for d in docs if d["kind"] == ref["kind"] and d["metadata"]["name"] == ref["name"]
             and d["metadata"].get("namespace") == ns]
    if not roles:
        fail(f"{name_of(binding)} binds {ref['kind']}/{ref['name']}, which is not in the bundle")
    role = roles[0]
    if role.get("aggregationRule"):
        fail(f"{name_of(role)} is an aggregated role: its rules are not in the bundle")
    out = set()
    for rule in role.get("rules") or []:
        if rule.get("nonResourceURLs") or rule.get("resourceNames"):
            fail(f"{name_of(role)}: nonResourceURLs/resourceNames are not in KUBE_PERMISSIONS' vocabulary")
        for g in rule.get("apiGroups") or []:
            for r in rule.get("resources") or []:
                for v in rule.get("verbs") or []:
                    if "*" in (g, r, v):
                        fail(f"{name_of(role)} grants a wildcard ({g!r}, {r!r}, {v!r})")
                    out.add((g, r, v))
    return out


def assert_remediation_rbac(docs: list[dict], source: str) -> str:
    """With components/remediate(-nodes): kubepulse-watch holds, cluster-wide, exactly the watch
    ClusterRole, the nodes ClusterRole and the remediation's `list namespaces`; in each namespace the policy lists (and only there), exactly
    components/remediate/role.yaml; the RoleBindings stayed in their namespaces; serve has nothing."""
    import tomllib
    sa = find(docs, "ServiceAccount", "kubepulse-watch")
    sa_ns = sa["metadata"].get("namespace")
    cluster_wide: set[tuple[str, str, str]] = set()
    per_ns: dict[str, set[tuple[str, str, str]]] = {}
    for b in docs:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == "kubepulse-watch"
                   and s.get("namespace", b["metadata"].get("namespace")) == sa_ns for s in b.get("subjects") or []):
            continue
        if b["kind"] == "ClusterRoleBinding":
            cluster_wide |= binding_access(docs, b)
        else:
            per_ns.setdefault(b["metadata"]["namespace"], set()).update(binding_access(docs, b))
    want_cluster = (canonical_access() | role_file_access(REMEDIATE_NODES_ROLE)
                    | role_file_access(REMEDIATE_NAMESPACES_ROLE))
    if cluster_wide != want_cluster:
        fail(f"{source}: kubepulse-watch's cluster-wide access differs from the watch, remediate-nodes and "
             "remediate namespaces "
             f"ClusterRoles\n  extra: {sorted(cluster_wide - want_cluster)}\n  missing: {sorted(want_cluster - cluster_wide)}")
    policy = tomllib.loads((REMEDIATE / "policy.toml").read_text())
    listed = set(policy.get("namespaces", {}))
    if set(per_ns) != listed:
        fail(f"{source}: RoleBindings in {sorted(per_ns)}, the policy lists {sorted(listed)} "
             "(a namespace transformer moved them? use unsetOnly, see examples/remediate)")
    want_ns = role_file_access(REMEDIATE / "role.yaml")
    for ns, got in per_ns.items():
        if got != want_ns:
            fail(f"{source}: kubepulse-watch's access in {ns} differs from components/remediate/role.yaml\n"
                 f"  extra: {sorted(got - want_ns)}\n  missing: {sorted(want_ns - got)}")
    serve = find(docs, "ServiceAccount", "kubepulse-serve")
    if granted_access(docs, "kubepulse-serve", serve["metadata"].get("namespace")):
        fail(f"{source}: kubepulse-serve must have no Kubernetes API access")
    watch = find(docs, "Deployment", "kubepulse-watch")
    args = pod_spec(watch)["containers"][0]["args"]
    if "--remediate-kube" not in args or pod_spec(watch).get("automountServiceAccountToken") is not True:
        fail(f"{source}: watch must run with --remediate-kube and mount its token")
    verbs = sorted({v for _, _, v in cluster_wide | want_ns})
    if set(verbs) - {"get", "list", "patch", "create"}:
        fail(f"{source}: remediation verbs beyond get/list/patch/create: {verbs}")
    return (f"cluster-wide {len(cluster_wide)} grants == watch + remediate-nodes + remediate-namespaces ClusterRoles; "
            f"{len(want_ns)} grants in each of {sorted(per_ns)} == remediate/role.yaml == the policy's namespaces")


def rbac_self_test(docs: list[dict]) -> str:
    """The RBAC check must catch an extra verb, a missing resource and a wildcard."""
    mutations = {
        "extra verb": lambda role: role["rules"][0]["verbs"].append("delete"),
        "missing resource": lambda role: role["rules"][0]["resources"].remove("events"),
        "wildcard": lambda role: role["rules"].append({"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get"]}),
        "secrets": lambda role: role["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}),
    }
    for what, mutate in mutations.items():
        mutated = copy.deepcopy(docs)
        mutate(find(mutated, "ClusterRole", "kubepulse-watch"))
        try:
            assert_rbac(mutated, "self-test")
        except Failure:
            continue
        fail(f"the RBAC check accepted a ClusterRole with a {what}")
    return f"{len(mutations)} mutated roles rejected"


# ---------------------------------------------------------------------------------------------
# workload hardening and consistency (KubePulse's own overlays)


def pod_spec(d: dict) -> dict:
    return d["spec"]["template"]["spec"]


def selector_matches(selector: dict, labels: dict) -> bool:
    ml = selector.get("matchLabels", selector) if "matchLabels" in selector or "matchExpressions" in selector else selector
    if "matchExpressions" in selector:
        fail("matchExpressions are not used by KubePulse's manifests; extend the check if you add one")
    return bool(ml) and all(labels.get(k) == v for k, v in ml.items())


def assert_hardened(docs: list[dict], source: str) -> str:
    n = 0
    for d in docs:
        if d["kind"] == "CronJob":
            spec = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif d["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            spec = pod_spec(d)
        else:
            continue
        where = f"{source}: {name_of(d)}"
        psc = spec.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            fail(f"{where}: pod securityContext.runAsNonRoot must be true")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            fail(f"{where}: pod seccompProfile must be RuntimeDefault")
        for c in spec.get("initContainers", []) + spec["containers"]:
            cw = f"{where} container {c['name']}"
            sc = c.get("securityContext") or {}
            if sc.get("readOnlyRootFilesystem") is not True:
                fail(f"{cw}: readOnlyRootFilesystem must be true")
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(f"{cw}: allowPrivilegeEscalation must be false")
            if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
                fail(f"{cw}: capabilities.drop must be [ALL]")
            if sc.get("privileged"):
                fail(f"{cw}: must not be privileged")
            res = c.get("resources") or {}
            for k in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(k) or {}):
                        fail(f"{cw}: resources.{k}.{r} is missing")
            image = c["image"]
            if image.endswith(":latest") or (":" not in image.rsplit("/", 1)[-1] and "@sha256:" not in image):
                fail(f"{cw}: image {image!r} must carry a version tag or a digest")
            n += 1
    if n == 0:
        fail(f"{source}: no workload found")
    return f"{n} containers hardened"


def assert_serve_contract(docs: list[dict], source: str, hpa_bounds: tuple[int, int] | None) -> str:
    dep = find(docs, "Deployment", "kubepulse-serve")
    spec = pod_spec(dep)
    c = spec["containers"][0]
    where = f"{source}: Deployment kubepulse-serve"
    if "replicas" in dep["spec"]:
        fail(f"{where}: must not set replicas (the HPA owns them)")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if ports.get("http") != 5000:
        fail(f"{where}: container port 'http' must be 5000, ports are {ports}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
        if got != path:
            fail(f"{where}: {probe} must GET {path}, has {got!r}")
    if c.get("args", [None])[0] != "serve":
        fail(f"{where}: must run `kubepulse serve`, args are {c.get('args')}")
    if spec.get("automountServiceAccountToken") is not False:
        fail(f"{where}: must not mount a service account token")
    labels = dep["spec"]["template"]["metadata"]["labels"]

    svc = find(docs, "Service", "kubepulse-serve")
    if not selector_matches(svc["spec"]["selector"], labels):
        fail(f"{source}: Service kubepulse-serve's selector does not match the serve pods")
    for p in svc["spec"]["ports"]:
        if p["targetPort"] not in ports and p["targetPort"] not in ports.values():
            fail(f"{source}: Service kubepulse-serve targets port {p['targetPort']!r}, not a container port")

    hpa = find(docs, "HorizontalPodAutoscaler", "kubepulse-serve")
    ref = hpa["spec"]["scaleTargetRef"]
    if (ref["kind"], ref["name"]) != ("Deployment", "kubepulse-serve"):
        fail(f"{source}: the HPA scales {ref}, not Deployment kubepulse-serve")
    cpu = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
    if len(cpu) != 1 or cpu[0]["resource"]["target"] != {"type": "Utilization", "averageUtilization": 50}:
        fail(f"{source}: the HPA must target 50% CPU utilisation, has {hpa['spec']['metrics']}")
    lo, hi = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
    if hpa_bounds is not None and (lo, hi) != hpa_bounds:
        fail(f"{source}: the HPA must scale between {hpa_bounds[0]} and {hpa_bounds[1]}, has {lo}..{hi}")
    if not (2 <= lo <= hi <= 10):
        fail(f"{source}: HPA bounds {lo}..{hi} are outside 2..10")

    pdb = find(docs, "PodDisruptionBudget", "kubepulse-serve")
    if not selector_matches(pdb["spec"]["selector"], labels):
        fail(f"{source}: the PodDisruptionBudget does not select the serve pods")
    min_avail = pdb["spec"].get("minAvailable")
    if not isinstance(min_avail, int) or not (1 <= min_avail < lo):
        fail(f"{source}: PDB minAvailable {min_avail!r} must be >= 1 and below the HPA minimum {lo} "
             "(else node drains block)")

    np_ = find(docs, "NetworkPolicy", "kubepulse-serve")
    if not selector_matches(np_["spec"]["podSelector"], labels):
        fail(f"{source}: NetworkPolicy kubepulse-serve does not select the serve pods")
    ingress_ports = {p["port"] for rule in np_["spec"].get("ingress", []) for p in rule.get("ports", [])}
    if ingress_ports != {5000}:
        fail(f"{source}: serve's NetworkPolicy must admit exactly port 5000, admits {ingress_ports}")
    if "Egress" not in np_["spec"]["policyTypes"]:
        fail(f"{source}: serve's NetworkPolicy must restrict egress")
    cm_refs = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
    for cm in cm_refs:
        find(docs, "ConfigMap", cm)
    return f"ports, probes, HPA {lo}..{hi} @ 50% CPU, PDB minAvailable {min_avail}, NetworkPolicy"


def assert_watch_contract(docs: list[dict], source: str) -> str:
    dep = find(docs, "Deployment", "kubepulse-watch")
    spec = pod_spec(dep)
    c = spec["containers"][0]
    where = f"{source}: Deployment kubepulse-watch"
    args = c.get("args") or []
    if not args or args[0] != "watch" or "--prometheus" not in args or "--alertmanager" not in args:
        fail(f"{where}: must run `kubepulse watch --prometheus URL --alertmanager URL`, args are {args}")
    if spec.get("serviceAccountName") != "kubepulse-watch":
        fail(f"{where}: must run as ServiceAccount kubepulse-watch")
    env: dict[str, str] = {}
    for e in c.get("envFrom", []):
        cm = find(docs, "ConfigMap", e["configMapRef"]["name"])
        env.update(cm.get("data") or {})
    for e in c.get("env", []):
        env[e["name"]] = e.get("value", "")
    for a in args:
        for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
            if var not in env:
                fail(f"{where}: argument {a!r} refers to ${var}, which its environment does not define")
    for var in ("PROMETHEUS_URL", "ALERTMANAGER_URL"):
        if not re.match(r"^https?://[^\s/]+", env.get(var, "")):
            fail(f"{where}: {var} must be an http(s) URL, is {env.get(var)!r}")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    if ports.get("metrics") != 9464:
        fail(f"{where}: container port 'metrics' must be 9464, ports are {ports}")
    # Alive while the process runs; ready once a cycle has read every Prometheus query.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if (get.get("path"), get.get("port")) != (path, "metrics"):
            fail(f"{where}: {probe} must GET {path} on the metrics port (9464), has {get}")
    svc = find(docs, "Service", "kubepulse-watch")
    if not selector_matches(svc["spec"]["selector"], dep["spec"]["template"]["metadata"]["labels"]):
        fail(f"{source}: Service kubepulse-watch does not select the watch pods")
    feedback = assert_ui_feedback_volumes(docs, spec, c, args, where)
    return f"PROMETHEUS_URL={env['PROMETHEUS_URL']} ALERTMANAGER_URL={env['ALERTMANAGER_URL']} {feedback}"


def flag_value(args: list[str], flag: str) -> str | None:
    """The value of `--flag VALUE` or `--flag=VALUE` in a container's args."""
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def flag_values(args: list[str], flag: str) -> list[str]:
    """The values of `--flag A B C` (up to the next `--option`) in a container's args."""
    if flag not in args:
        return []
    out = []
    for a in args[args.index(flag) + 1:]:
        if a.startswith("--"):
            break
        out.append(a)
    return out


def assert_ui_feedback_volumes(docs: list[dict], spec: dict, c: dict, args: list[str], where: str) -> str:
    """The UI's feedback in watch (docs/ui.md): --ui-token-file is the key `token` of the Secret
    kubepulse-ui-token mounted read-only (optional: feedback is off until it exists), --feedback-dir a
    writable mount of a PersistentVolumeClaim defined in the same manifests (the labels outlive the pod)."""
    token_file = flag_value(args, "--ui-token-file")
    feedback_dir = flag_value(args, "--feedback-dir")
    if not token_file or not feedback_dir:
        fail(f"{where}: must pass --ui-token-file and --feedback-dir (the UI's feedback), args are {args}")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["mountPath"].rstrip("/"): m for m in c.get("volumeMounts", [])}

    token_dir, _, token_name = token_file.rpartition("/")
    mount = mounts.get(token_dir)
    if mount is None:
        fail(f"{where}: no volume is mounted at {token_dir}, where --ui-token-file {token_file} is")
    secret = (volumes.get(mount["name"]) or {}).get("secret")
    if not secret or secret.get("secretName") != "kubepulse-ui-token":
        fail(f"{where}: {token_dir} must be the Secret kubepulse-ui-token, is {volumes.get(mount['name'])}")
    if not mount.get("readOnly"):
        fail(f"{where}: the UI token's mount {token_dir} must be readOnly")
    if secret.get("optional") is not True:
        fail(f"{where}: the Secret kubepulse-ui-token must be optional (feedback off until it is created)")
    paths = {i["path"]: i["key"] for i in secret.get("items", [])} or {token_name: token_name}
    if paths.get(token_name) != "token":
        fail(f"{where}: {token_file} must be the Secret's key `token`, items are {secret.get('items')}")
    if any(d.get("kind") == "Secret" for d in docs):
        fail(f"{where}: the manifests must not carry a Secret (the token is created in the cluster)")

    mount = mounts.get(feedback_dir.rstrip("/"))
    if mount is None:
        fail(f"{where}: no volume is mounted at --feedback-dir {feedback_dir}")
    if mount.get("readOnly"):
        fail(f"{where}: the feedback directory {feedback_dir} must be writable")
    claim = ((volumes.get(mount["name"]) or {}).get("persistentVolumeClaim") or {}).get("claimName")
    if not claim:
        fail(f"{where}: {feedback_dir} must be a PersistentVolumeClaim (feedback outlives the pod)")
    find(docs, "PersistentVolumeClaim", claim)
    return f"feedback={feedback_dir} (PVC {claim}) token={token_file}"


def assert_overlay_specifics(docs: list[dict], source: str) -> str:
    workloads = [d for d in docs if d["kind"] in ("Deployment", "CronJob")]
    specs = [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] if d["kind"] == "CronJob" else pod_spec(d)
             for d in workloads]
    images = {c["image"] for ps in specs for c in ps.get("initContainers", []) + ps["containers"]}
    if any(i.startswith(PLACEHOLDER_IMAGE) for i in images):
        fail(f"{source}: still uses the placeholder image {PLACEHOLDER_IMAGE}; set the registry in `images:`")
    if len(images) != 1:
        fail(f"{source}: serve, watch and the training loop must run the same image, have {sorted(images)}")
    for d, ps in zip(workloads, specs):
        if not ps.get("nodeSelector"):
            fail(f"{source}: {name_of(d)} has no nodeSelector for its cloud's node pools")
    for d in docs:
        if d["kind"] == "PersistentVolumeClaim" and "ReadWriteMany" in d["spec"].get("accessModes", []) \
                and not d["spec"].get("storageClassName"):
            fail(f"{source}: {name_of(d)} is ReadWriteMany without a storageClassName (the cloud's RWX class)")
    for d in docs:
        ns = d["metadata"].get("namespace")
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding") and ns != "kubepulse":
            fail(f"{source}: {name_of(d)} is not in namespace kubepulse")
    return f"image {images.pop()}"


def assert_training_contract(docs: list[dict], source: str) -> str:
    """The retraining loop (components/training): the CronJob runs doctor → collect → train → gate, one
    step per container, on one dataset; the gate publishes to the file serve and watch load with --model,
    on one PersistentVolumeClaim they mount read-only (their init container seeds it, writable); the
    job reads the Kubernetes API as kubepulse-watch (whose grants the rbac check holds to
    KUBE_PERMISSIONS); a NetworkPolicy selects its pods."""
    cj = find(docs, "CronJob", "kubepulse-training")
    where = f"{source}: CronJob kubepulse-training"
    spec = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    steps = spec.get("initContainers", []) + spec["containers"]
    names = [c["name"] for c in steps]
    if names != ["doctor", "collect", "train", "gate"] or [c["name"] for c in spec["containers"]] != ["gate"]:
        fail(f"{where}: steps must be init containers doctor, collect, train then the container gate, are {names}")
    by = {c["name"]: c for c in steps}
    for c in steps:
        if (c.get("args") or [None])[0] != c["name"]:
            fail(f"{where}: container {c['name']} must run `kubepulse {c['name']}`, args are {c.get('args')}")
    arg = lambda step, flag: flag_value(by[step]["args"], flag)
    if cj["spec"].get("concurrencyPolicy") != "Forbid":
        fail(f"{where}: concurrencyPolicy must be Forbid (two runs would race on the model file)")
    data = arg("collect", "--out")
    if not data or arg("train", "--data") != data or arg("gate", "--data") != data:
        fail(f"{where}: collect --out, train --data and gate --data must be one directory")
    if arg("train", "--out") != arg("gate", "--candidate"):
        fail(f"{where}: gate --candidate must be train --out")
    if "--train-until" not in by["train"]["args"]:
        fail(f"{where}: train needs --train-until: the gate tests on the data after it")
    volumes = {v["name"]: v for v in spec["volumes"]}

    def volume_at(c: dict, path: str) -> tuple[dict, dict]:
        best = None
        for m in c.get("volumeMounts", []):
            mp = m["mountPath"].rstrip("/")
            if (path == mp or path.startswith(mp + "/")) and (best is None or len(mp) > len(best["mountPath"])):
                best = m
        if best is None:
            fail(f"{source}: container {c['name']} has no volume at {path}")
        return best, volumes[best["name"]]

    work = {volume_at(by[s], data)[0]["name"] for s in ("collect", "train", "gate")}
    if len(work) != 1 or "emptyDir" not in volumes[work.pop()]:
        fail(f"{where}: the dataset must be one emptyDir shared by collect, train and gate")
    current = arg("gate", "--current")
    mount, vol = volume_at(by["gate"], current)
    claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
    if not claim or mount.get("readOnly"):
        fail(f"{where}: gate --current {current} must be on a writable PersistentVolumeClaim")
    find(docs, "PersistentVolumeClaim", claim)
    if arg("doctor", "--model") != current:
        fail(f"{where}: doctor must judge the model in service, --model {current}")
    if "kube" not in (arg("collect", "--labels-from") or "").split(","):
        fail(f"{where}: collect must read labels with --labels-from kube")
    if spec.get("serviceAccountName") != "kubepulse-watch" or spec.get("automountServiceAccountToken") is not True:
        fail(f"{where}: must run as kubepulse-watch with its token (collect --labels-from kube)")
    env: dict[str, str] = {}
    for c in steps:
        env_c = dict(env)
        for e in c.get("envFrom", []):
            env_c.update(find(docs, "ConfigMap", e["configMapRef"]["name"]).get("data") or {})
        for a in c["args"]:
            for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
                if var not in env_c:
                    fail(f"{where}: {c['name']} argument {a!r} refers to ${var}, which its environment does not define")
    pod_labels = cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    if not any(d["kind"] == "NetworkPolicy" and selector_matches(d["spec"]["podSelector"], pod_labels) for d in docs):
        fail(f"{where}: no NetworkPolicy selects its pods")
    for name in ("kubepulse-serve", "kubepulse-watch"):
        dep = find(docs, "Deployment", name)
        ps = pod_spec(dep)
        c = ps["containers"][0]
        dw = f"{source}: Deployment {name}"
        if flag_value(c.get("args") or [], "--model") != current:
            fail(f"{dw}: must load the published model, --model {current}; args are {c.get('args')}")
        vols = {v["name"]: v for v in ps.get("volumes", [])}
        mounts = [m for m in c.get("volumeMounts", []) if current.startswith(m["mountPath"].rstrip("/") + "/")]
        if len(mounts) != 1 or not mounts[0].get("readOnly") \
                or (vols[mounts[0]["name"]].get("persistentVolumeClaim") or {}).get("claimName") != claim:
            fail(f"{dw}: {current} must be the PersistentVolumeClaim {claim}, mounted read-only")
        seeds = [i for i in ps.get("initContainers", []) if (i.get("args") or [])[:2] == ["gate", "--init"]]
        if len(seeds) != 1 or flag_value(seeds[0]["args"], "--current") != current:
            fail(f"{dw}: needs an init container `kubepulse gate --init --current {current}` (first start)")
    return f"doctor → collect → train → gate; model {current} on PVC {claim}, read-only in serve and watch"


def training_self_test(docs: list[dict]) -> str:
    def broken(edit: Callable[[list[dict]], None]) -> list[dict]:
        d = copy.deepcopy(docs)
        edit(d)
        return d

    def other_model(d: list[dict]) -> None:
        args = pod_spec(find(d, "Deployment", "kubepulse-watch"))["containers"][0]["args"]
        args[args.index("--model") + 1] = "/tmp/other.kpm"

    def writable(d: list[dict]) -> None:
        for m in pod_spec(find(d, "Deployment", "kubepulse-serve"))["containers"][0]["volumeMounts"]:
            m.pop("readOnly", None)

    def no_doctor(d: list[dict]) -> None:
        spec = find(d, "CronJob", "kubepulse-training")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        spec["initContainers"] = spec["initContainers"][1:]

    for edit in (other_model, writable, no_doctor):
        try:
            assert_training_contract(broken(edit), "self-test")
        except Failure:
            continue
        fail(f"the training check accepted a broken loop ({edit.__name__})")
    return "3 broken loops rejected"


def assert_sharded_training(docs: list[dict], source: str) -> str:
    """components/training-sharded: an Indexed Job (CronJob kubepulse-training-shards, the loop's
    schedule) of n pods, pod i collecting its targets (init container `collect --shard $(SHARD)/n --out
    <collect>/$(SHARD)`, labels from kube as the loop's) then running `train --shard $(SHARD)/n --data
    <collect>/0 ... <collect>/n-1 --sample-out <dir>/$(SHARD)` with SHARD the pod's completion index,
    split relative to the data's end; the loop no longer collects: its train step trains on exactly the
    n sample directories (`--from-shards`) and its gate takes that candidate and backtests on the n
    datasets; datasets and samples on one ReadWriteMany claim every pod mounts; every step reading
    another pod's output waits for it (`--wait`)."""
    loop = find(docs, "CronJob", "kubepulse-training")
    shards = find(docs, "CronJob", "kubepulse-training-shards")
    where = f"{source}: CronJob kubepulse-training-shards"
    job = shards["spec"]["jobTemplate"]["spec"]
    n = job.get("completions")
    if job.get("completionMode") != "Indexed" or not isinstance(n, int) or n < 2 or job.get("parallelism") != n:
        fail(f"{where}: must be an Indexed Job with completions == parallelism >= 2, is "
             f"{job.get('completionMode')} {n}/{job.get('parallelism')}")
    if shards["spec"]["schedule"] != loop["spec"]["schedule"]:
        fail(f"{where}: must start with the loop (schedule {loop['spec']['schedule']!r})")
    spec = job["template"]["spec"]
    if len(spec["containers"]) != 1 or [i["name"] for i in spec.get("initContainers", [])] != ["collect"]:
        fail(f"{where}: one init container `kubepulse collect --shard`, one container `kubepulse train --shard`")
    c = spec["containers"][0]
    col = spec["initContainers"][0]
    args = c.get("args") or []
    cargs = col.get("args") or []
    if args[:1] != ["train"] or cargs[:1] != ["collect"]:
        fail(f"{where}: must run `kubepulse collect` then `kubepulse train`, args are {cargs} and {args}")
    index_path = "metadata.annotations['batch.kubernetes.io/job-completion-index']"

    def index_var(cont: dict) -> str:
        found = [e["name"] for e in cont.get("env", [])
                 if (e.get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == index_path]
        if len(found) != 1:
            fail(f"{where}: {cont['name']} needs one env var from the pod's job-completion-index annotation")
        return found[0]
    var = index_var(c)
    if index_var(col) != var:
        fail(f"{where}: collect and train must read the completion index into the same variable")
    for who, a in (("collect", cargs), ("train", args)):
        if flag_value(a, "--shard") != f"$({var})/{n}":
            fail(f"{where}: {who} --shard must be $({var})/{n}, is {flag_value(a, '--shard')}")
    collected = flag_value(cargs, "--out") or ""
    if not collected.endswith(f"/$({var})"):
        fail(f"{where}: collect --out must end in /$({var}), is {collected!r}")
    if "kube" not in (flag_value(cargs, "--labels-from") or "").split(","):
        fail(f"{where}: collect must read labels with --labels-from kube")
    if spec.get("serviceAccountName") != "kubepulse-watch" or spec.get("automountServiceAccountToken") is not True:
        fail(f"{where}: must run as kubepulse-watch with its token (collect --labels-from kube)")
    datasets = [collected.replace(f"$({var})", str(i)) for i in range(n)]
    if flag_values(args, "--data") != datasets:
        fail(f"{where}: train --data must list every shard's dataset {datasets}, lists {flag_values(args, '--data')}")
    sample = flag_value(args, "--sample-out") or ""
    if not sample.endswith(f"/$({var})"):
        fail(f"{where}: --sample-out must end in /$({var}), is {sample!r}")
    if not (flag_value(args, "--train-until") or "").startswith("end-"):
        fail(f"{where}: --train-until must be relative to the data's end (end-...), the same in every shard")
    lspec = loop["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    steps = {x["name"]: x for x in lspec.get("initContainers", []) + lspec["containers"]}
    if "collect" in steps:
        fail(f"{source}: the loop must not collect again: the shards collect its dataset")
    targs = steps["train"]["args"]
    if "--from-shards" not in targs:
        fail(f"{source}: the loop's train step must train --from-shards, args are {targs}")
    dirs = flag_values(targs, "--from-shards")
    want = [sample.replace(f"$({var})", str(i)) for i in range(n)]
    if dirs != want:
        fail(f"{source}: the loop's train --from-shards must list {want}, lists {dirs}")
    if flag_value(targs, "--out") != flag_value(steps["gate"]["args"], "--candidate"):
        fail(f"{source}: the loop's gate --candidate must be its train --out")
    if flag_values(steps["gate"]["args"], "--data") != datasets:
        fail(f"{source}: the loop's gate --data must list every shard's dataset {datasets}")
    for who, a in ((where, args), (f"{source}: the loop's train step", targs)):
        if not flag_value(a, "--wait"):
            fail(f"{who}: needs --wait (the steps run as separate pods started together)")

    def claim_at(ps: dict, cont: dict, path: str) -> str:
        vols = {v["name"]: v for v in ps.get("volumes", [])}
        for m in cont.get("volumeMounts", []):
            mp = m["mountPath"].rstrip("/")
            if path == mp or path.startswith(mp + "/"):
                return (vols[m["name"]].get("persistentVolumeClaim") or {}).get("claimName") or ""
        return ""
    claims = {claim_at(spec, col, datasets[0]), claim_at(spec, c, datasets[0]), claim_at(spec, c, sample),
              claim_at(lspec, steps["train"], dirs[0]), claim_at(lspec, steps["gate"], datasets[0])}
    if len(claims) != 1 or "" in claims:
        fail(f"{source}: the datasets and samples must be on one PersistentVolumeClaim for every pod, are {claims}")
    claim = claims.pop()
    pvc = find(docs, "PersistentVolumeClaim", claim)
    if "ReadWriteMany" not in pvc["spec"].get("accessModes", []):
        fail(f"{source}: PersistentVolumeClaim {claim} must be ReadWriteMany (pods on several nodes)")
    labels = job["template"]["metadata"]["labels"]
    if not any(d["kind"] == "NetworkPolicy" and selector_matches(d["spec"]["podSelector"], labels) for d in docs):
        fail(f"{where}: no NetworkPolicy selects its pods")
    return f"{n} shards (Indexed Job: collect --shard → train --shard) → train --from-shards → gate, on PVC {claim}"


def sharded_training_self_test(docs: list[dict]) -> str:
    def broken(edit: Callable[[list[dict]], None]) -> list[dict]:
        d = copy.deepcopy(docs)
        edit(d)
        return d

    def three_shards(d: list[dict]) -> None:
        find(d, "CronJob", "kubepulse-training-shards")["spec"]["jobTemplate"]["spec"]["completions"] = 3

    def one_dir_missing(d: list[dict]) -> None:
        spec = find(d, "CronJob", "kubepulse-training")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        spec["initContainers"][1]["args"].pop()

    def one_dataset_missing(d: list[dict]) -> None:
        c = find(d, "CronJob", "kubepulse-training-shards")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        c["args"].pop(c["args"].index("--data") + 1)

    def unsharded_collect(d: list[dict]) -> None:
        c = find(d, "CronJob", "kubepulse-training-shards")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["initContainers"][0]
        i = c["args"].index("--shard")
        del c["args"][i:i + 2]

    def now_split(d: list[dict]) -> None:
        c = find(d, "CronJob", "kubepulse-training-shards")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        c["args"][c["args"].index("--train-until") + 1] = "now-1d"

    for edit in (three_shards, one_dir_missing, one_dataset_missing, unsharded_collect, now_split):
        try:
            assert_sharded_training(broken(edit), "self-test")
        except Failure:
            continue
        fail(f"the sharded training check accepted a broken loop ({edit.__name__})")
    return ("a shard count mismatch, a missing sample directory, a missing dataset, an unsharded collect and "
            "a `now-` split are rejected")


def assert_local_overlay(docs: list[dict], source: str) -> str:
    """The local overlay: the loaded image everywhere, never pulled; everything in namespace kubepulse;
    its top level adds the demo."""
    containers = [c for d in docs if d["kind"] in ("Deployment", "CronJob")
                  for s in [pod_spec(d) if d["kind"] == "Deployment" else d["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
                  for c in s.get("initContainers", []) + s["containers"]]
    images = {c["image"] for c in containers}
    if images != {"kubepulse:local"}:
        fail(f"{source}: every container must run the loaded image kubepulse:local, run {sorted(images)}")
    pulls = {c.get("imagePullPolicy") for c in containers}
    if pulls != {"IfNotPresent"}:
        fail(f"{source}: a loaded image must not be pulled (imagePullPolicy IfNotPresent), have {pulls}")
    for d in docs:
        ns = d["metadata"].get("namespace")
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding") and ns != "kubepulse":
            fail(f"{source}: {name_of(d)} is not in namespace kubepulse")
    top = yaml.safe_load((DEPLOY / "kustomize/overlays/local/kustomization.yaml").read_text())
    if sorted(top.get("resources", [])) != ["../../../demo", "kubepulse"]:
        fail(f"overlays/local/kustomization.yaml must assemble kubepulse and ../../../demo, has {top.get('resources')}")
    return f"{len(containers)} containers on kubepulse:local (IfNotPresent); with deploy/demo"


def assert_podmonitorings_match(docs: list[dict], source: str) -> str:
    pms = [d for d in docs if d["kind"] == "PodMonitoring"]
    if {d["metadata"]["name"] for d in pms} != {"kubepulse-serve", "kubepulse-watch"}:
        fail(f"{source}: expected PodMonitorings kubepulse-serve and kubepulse-watch (their names are the job labels the rules use)")
    for pm in pms:
        deps = [d for d in docs if d["kind"] == "Deployment"
                and selector_matches(pm["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
        if len(deps) != 1 or deps[0]["metadata"]["name"] != pm["metadata"]["name"]:
            fail(f"{source}: PodMonitoring {pm['metadata']['name']} selects {[name_of(d) for d in deps]}")
        ports = {p["name"] for c in pod_spec(deps[0])["containers"] for p in c.get("ports", [])}
        for ep in pm["spec"]["endpoints"]:
            if ep["port"] not in ports:
                fail(f"{source}: PodMonitoring {pm['metadata']['name']} scrapes port {ep['port']!r}, pods have {sorted(ports)}")
    return f"{len(pms)} PodMonitorings select their Deployment and an existing port"


def assert_servicemonitors_match(monitoring: list[dict], overlay: list[dict], source: str) -> str:
    n = 0
    for sm in (d for d in monitoring if d["kind"] == "ServiceMonitor"):
        services = [s for s in overlay if s["kind"] == "Service"
                    and s["metadata"].get("namespace") in sm["spec"]["namespaceSelector"]["matchNames"]
                    and selector_matches(sm["spec"]["selector"], s["metadata"].get("labels") or {})]
        if len(services) != 1:
            fail(f"ServiceMonitor {sm['metadata']['name']} selects {len(services)} Services of {source}, expected 1")
        port_names = {p.get("name") for p in services[0]["spec"]["ports"]}
        for ep in sm["spec"]["endpoints"]:
            if ep["port"] not in port_names:
                fail(f"ServiceMonitor {sm['metadata']['name']} scrapes port {ep['port']!r}; "
                     f"Service {services[0]['metadata']['name']} has {sorted(port_names)}")
        n += 1
    if n != 2:
        fail(f"expected ServiceMonitors for serve and watch, found {n}")
    return f"{n} ServiceMonitors select exactly one Service and an existing port"


# ---------------------------------------------------------------------------------------------
# demo


def demo_kustomization() -> tuple[dict, str]:
    k = yaml.safe_load((DEPLOY / "demo/kustomization.yaml").read_text())
    urls = [r for r in k["resources"] if "://" in r]
    if len(urls) != 1 or not UPSTREAM_BOUTIQUE.match(urls[0]):
        fail("deploy/demo/kustomization.yaml must reference Online Boutique's release manifest by a URL pinned "
             f"to a release tag (…/microservices-demo/vX.Y.Z/release/kubernetes-manifests.yaml), has {urls}")
    return k, urls[0]


STUB_BOUTIQUE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: server, image: example.invalid/frontend:v0}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: loadgenerator}
spec:
  selector: {matchLabels: {app: loadgenerator}}
  template:
    metadata: {labels: {app: loadgenerator}}
    spec: {containers: [{name: main, image: example.invalid/loadgenerator:v0}]}
---
apiVersion: v1
kind: Service
metadata: {name: frontend}
spec: {selector: {app: frontend}, ports: [{name: http, port: 80, targetPort: 8080}]}
"""


def assert_demo_assembles(kubectl: str, tmp: Path) -> str:
    k, url = demo_kustomization()
    work = tmp / "demo"
    shutil.copytree(DEPLOY / "demo", work)
    (work / "upstream-stub.yaml").write_text(STUB_BOUTIQUE)
    k["resources"] = ["upstream-stub.yaml" if r == url else r for r in k["resources"]]
    (work / "kustomization.yaml").write_text(yaml.safe_dump(k, sort_keys=False))
    docs = load_docs(kustomize(kubectl, work), "deploy/demo (upstream stubbed)")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    if ("Deployment", "loadgenerator") in names:
        fail("the demo's patch does not remove Online Boutique's own loadgenerator")
    for need in [("Deployment", "kubepulse-loadgen"), ("Deployment", "frontend"), ("Namespace", "boutique")]:
        if need not in names:
            fail(f"the assembled demo lacks {need}")
    schedules = [d for d in docs if d["kind"] == "Schedule"]
    types = sorted(d["spec"]["type"] for d in schedules)
    if types != ["NetworkChaos", "PodChaos", "StressChaos", "StressChaos"]:
        fail(f"the demo must schedule pod-kill, CPU stress, memory stress and network delay; has {types}")
    kinds = set()
    for s in schedules:
        body = s["spec"][s["spec"]["type"][0].lower() + s["spec"]["type"][1:]]
        if body["selector"].get("namespaces") != ["boutique"]:
            fail(f"Schedule {s['metadata']['name']} must target the boutique namespace only")
        kinds.add(body.get("action") or next(iter(body["stressors"])))
    if kinds != {"pod-kill", "cpu", "memory", "delay"}:
        fail(f"chaos actions are {sorted(kinds)}, expected pod-kill, cpu, memory, delay")
    loadgen = find(docs, "Deployment", "kubepulse-loadgen")
    env = {e["name"]: e.get("value") for e in pod_spec(loadgen)["containers"][0].get("env", [])}
    frontend_port = find(docs, "Service", "frontend")["spec"]["ports"][0]["port"]
    if env.get("FRONTEND_ADDR") != f"frontend:{frontend_port}":
        fail(f"the load generator targets {env.get('FRONTEND_ADDR')!r}, the frontend Service is frontend:{frontend_port}")
    not_in_ns = [name_of(d) for d in docs if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "boutique"]
    if not_in_ns:
        fail(f"demo objects outside namespace boutique: {not_in_ns}")
    # objects only the top-level demo kustomization adds (the namespace) get their schema check here
    stub = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(STUB_BOUTIQUE)}
    own = [d for d in docs if (d["kind"], d["metadata"]["name"]) not in stub and d["kind"] == "Namespace"]
    errors = [f"{name_of(d)}: {e}" for d in own for e in validate_builtin(d)]
    if errors:
        fail("schema errors in deploy/demo:\n" + "\n".join(errors))
    return f"{url.split('/')[-3]} stubbed offline; {len(docs)} objects, upstream loadgenerator replaced"


# ---------------------------------------------------------------------------------------------
# monitoring: metric names, promtool, PromQL against a real Prometheus


def contract_metrics() -> dict[str, str]:
    data = yaml.safe_load((DEPLOY / "monitoring/metrics.yaml").read_text())
    return {name: spec["type"] for group in data.values() for name, spec in group.items()}


def rule_groups(monitoring: list[dict]) -> list[dict]:
    rules = [d for d in monitoring if d["kind"] == "PrometheusRule"]
    if len(rules) != 1:
        fail(f"expected one PrometheusRule in deploy/monitoring, found {len(rules)}")
    return rules[0]["spec"]["groups"]


def dashboard() -> dict:
    return json.loads((DEPLOY / "monitoring/grafana-dashboard.json").read_text())


def dashboard_panels(d: dict) -> list[dict]:
    out = []
    for p in d.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def grafana_to_promql(expr: str, variables: set[str]) -> str:
    """Replaces Grafana variables by representative values; fails on an unknown variable."""
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name in variables:
            return ".*"
        fail(f"unknown Grafana variable ${name} in {expr!r}")
        return ""
    return re.sub(r"\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z0-9_]+)", sub, expr)


def all_promql(monitoring: list[dict]) -> list[tuple[str, str]]:
    """(where, PromQL) for every rule and every dashboard query, Grafana variables substituted."""
    out = []
    for g in rule_groups(monitoring):
        for r in g["rules"]:
            out.append((f"rule {g['name']}/{r.get('alert') or r.get('record')}", r["expr"]))
    d = dashboard()
    variables = {v["name"] for v in d.get("templating", {}).get("list", [])}
    for v in d.get("templating", {}).get("list", []):
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", q)
        if not m:
            fail(f"dashboard variable {v['name']}: only label_values(selector, label) queries are supported, got {q!r}")
        out.append((f"dashboard variable ${v['name']}", grafana_to_promql(m.group(1), variables)))
    for p in dashboard_panels(d):
        for t in p.get("targets", []):
            if "expr" in t:
                out.append((f"dashboard panel {p['title']!r} {t['refId']}", grafana_to_promql(t["expr"], variables)))
    return out


def assert_metric_names(monitoring: list[dict]) -> str:
    metrics = contract_metrics()
    allowed = set()
    for name, kind in metrics.items():
        allowed.add(name)
        if kind == "histogram":
            allowed.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    used: set[str] = set()
    for where, expr in all_promql(monitoring):
        for tok in re.findall(r"\bkubepulse_[a-z0-9_]+", expr):
            if tok not in allowed:
                fail(f"{where} uses {tok}, which KubePulse does not export (deploy/monitoring/metrics.yaml)")
            used.add(re.sub(r"_(bucket|sum|count)$", "", tok) if tok not in metrics else tok)
    unused = sorted(set(metrics) - used)
    if unused:
        fail(f"exported metrics shown nowhere (neither a rule nor the dashboard): {unused}")
    return f"{len(used)} of {len(metrics)} contract metrics used, no other kubepulse_* name"


def assert_dashboard_shape() -> str:
    d = dashboard()
    panels = dashboard_panels(d)
    ids = [p["id"] for p in panels]
    if len(ids) != len(set(ids)):
        fail("duplicate panel ids in the Grafana dashboard")
    for p in panels:
        if p["type"] == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"panel {p['title']!r} must use the $datasource variable")
        gp = p["gridPos"]
        if gp["x"] + gp["w"] > 24:
            fail(f"panel {p['title']!r} is wider than the 24-column grid")
        if not p.get("targets"):
            fail(f"panel {p['title']!r} has no query")
    if not d.get("uid") or not d.get("title"):
        fail("the dashboard needs a uid and a title")
    return f"{sum(p['type'] != 'row' for p in panels)} panels, uid {d['uid']}"


def write_rule_file(monitoring: list[dict], tmp: Path) -> Path:
    f = tmp / "kubepulse-rules.yaml"
    f.write_text(yaml.safe_dump({"groups": rule_groups(monitoring)}, sort_keys=False))
    return f


def assert_promtool(monitoring: list[dict], tmp: Path) -> str:
    promtool = shutil.which("promtool")
    if not promtool:
        fail("promtool is not installed: run scripts/install-test-deps (apt-get install prometheus)")
    rules = write_rule_file(monitoring, tmp)
    p = run([promtool, "check", "rules", str(rules)])
    if p.returncode != 0:
        fail(f"promtool check rules failed:\n{p.stdout}{p.stderr}")
    n = re.search(r"(\d+) rules found", p.stdout + p.stderr)
    shutil.copy(DEPLOY / "monitoring/tests/rules.test.yaml", tmp / "rules.test.yaml")
    t = run([promtool, "test", "rules", "rules.test.yaml"], cwd=tmp)
    if t.returncode != 0:
        fail(f"promtool test rules (deploy/monitoring/tests/rules.test.yaml) failed:\n{t.stdout}{t.stderr}")
    tests = len(yaml.safe_load((tmp / "rules.test.yaml").read_text())["tests"])
    return f"check rules: {n.group(1) if n else '?'} rules; test rules: {tests} scenarios pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, tmp: Path) -> None:
        self.binary = shutil.which("prometheus")
        if not self.binary:
            fail("prometheus is not installed: run scripts/install-test-deps (apt-get install prometheus)")
        self.dir = tmp / "prometheus"
        self.dir.mkdir()
        (self.dir / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> "Prometheus":
        for _ in range(3):  # a free port can be taken between probing and binding: retry
            self.port = free_port()
            self.log = open(self.dir / "stderr.log", "w")
            self.proc = subprocess.Popen(
                [self.binary, f"--config.file={self.dir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=self.log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as r:
                        if r.status == 200:
                            return self
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    time.sleep(0.1)
            self.stop()
        tail = (self.dir / "stderr.log").read_text()[-2000:]
        fail(f"Prometheus did not become ready on 127.0.0.1 within 30 s:\n{tail}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def query(self, expr: str) -> tuple[int, dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


def assert_promql(monitoring: list[dict], tmp: Path) -> str:
    exprs = all_promql(monitoring)
    with Prometheus(tmp) as prom:
        status, body = prom.query("sum(rate(kubepulse_http_requests_total[5m]) by (")  # must be refused
        if status != 400:
            fail(f"Prometheus answered {status} to a malformed query; the check could not detect errors")
        bad = []
        for where, expr in exprs:
            status, body = prom.query(expr)
            if status != 200 or body.get("status") != "success":
                bad.append(f"{where}: HTTP {status}: {body.get('error', body)}\n    {expr.strip()}")
        if bad:
            fail(f"{len(bad)} of {len(exprs)} PromQL expressions rejected by Prometheus:\n" + "\n".join(bad))
        version = "?"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{prom.port}/api/v1/status/buildinfo", timeout=5) as r:
                version = json.loads(r.read())["data"]["version"]
        except Exception:
            pass
    rules = sum(1 for w, _ in exprs if w.startswith("rule"))
    return f"{len(exprs)} expressions ({rules} rules, {len(exprs) - rules} dashboard) accepted by Prometheus {version}"


# ---------------------------------------------------------------------------------------------
# checkov, hadolint, Dockerfile


def assert_checkov(files: list[Path], tmp: Path) -> str:
    checkov = Path(sys.executable).parent / "checkov"
    if not checkov.exists():
        fail(f"checkov is not installed in {checkov.parent}: run scripts/test-deploy (pip install -r deploy/requirements.txt)")
    workflows = workflow_files()
    args = [str(checkov), "--config-file", str(DEPLOY / "checkov.yaml"), "-o", "json", "--compact",
            "--framework", "kubernetes", "dockerfile", "github_actions"]
    for f in files + [ROOT / "Dockerfile", *workflows]:
        args += ["-f", str(f)]
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false", LOG_LEVEL="WARNING")
    p = run(args, cwd=ROOT, env=env)
    try:
        reports = json.loads(p.stdout)
    except json.JSONDecodeError:
        fail(f"checkov produced no JSON report (exit {p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    if isinstance(reports, dict):
        reports = [reports]
    summary = []
    failed_lines = []
    skipped_lines = []
    frameworks = set()
    for rep in reports:
        fw = rep.get("check_type")
        frameworks.add(fw)
        s = rep["summary"]
        if s.get("parsing_errors"):
            fail(f"checkov could not parse {s['parsing_errors']} file(s) ({fw})")
        summary.append(f"{fw}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped "
                       f"on {s['resource_count']} resources")
        for c in rep["results"].get("failed_checks", []):
            failed_lines.append(f"{fw} {c['check_id']} {c['check_name']} — {c['resource']} "
                                f"({Path(c['file_path']).name})")
        for c in rep["results"].get("skipped_checks", []):
            reason = (c.get("check_result") or {}).get("suppress_comment") or "(no reason given)"
            skipped_lines.append(f"{fw} {c['check_id']} on {c['resource']}: {reason}")
    for fw in ("kubernetes", "dockerfile", "github_actions"):
        if fw not in frameworks:
            fail(f"checkov reported nothing for {fw}: the files were not scanned\n{p.stderr[-2000:]}")
    (tmp / "checkov-skips.txt").write_text("\n".join(skipped_lines) + "\n")
    for line in skipped_lines:
        if line.endswith("(no reason given)"):
            fail(f"a checkov skip without a justification: {line}")
    if failed_lines:
        fail("checkov found failed checks:\n" + "\n".join(failed_lines) + "\n" + "; ".join(summary))
    per_check: dict[str, str] = {}
    for line in skipped_lines:
        cid = line.split()[1]
        per_check.setdefault(cid, line.split(": ", 1)[1])
    global_skips = yaml.safe_load((DEPLOY / "checkov.yaml").read_text()).get("skip-check", [])
    detail = "; ".join(summary) + f"\n     not run (deploy/checkov.yaml, justified there): {', '.join(global_skips)}"
    detail += "\n     skipped (justified): " + "\n       ".join(
        f"{cid}: {why}" for cid, why in sorted(per_check.items()))
    return detail


def assert_hadolint() -> str:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        fail(f"hadolint is not installed in {hadolint.parent}: run scripts/test-deploy (pip install -r deploy/requirements.txt)")
    p = run([str(hadolint), "--no-color", "--failure-threshold", "info", str(ROOT / "Dockerfile")])
    if p.returncode != 0:
        fail(f"hadolint reports:\n{p.stdout}{p.stderr}")
    v = run([str(hadolint), "--version"]).stdout.strip()
    return f"no finding at level info or above ({v})"


def assert_dockerfile() -> str:
    text = (ROOT / "Dockerfile").read_text()
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    froms = [l for l in lines if l.upper().startswith("FROM ")]
    if len(froms) < 2:
        fail("the Dockerfile must be multi-stage (a build stage and a runtime stage)")
    final = froms[-1].split()[1]
    if not re.match(r"^gcr\.io/distroless/[a-z0-9-]+:nonroot$", final):
        fail(f"the runtime stage must be a distroless :nonroot image, is {final}")
    users = [l.split()[1] for l in lines if l.upper().startswith("USER ")]
    if not users or not re.match(r"^[1-9][0-9]*(:[1-9][0-9]*)?$", users[-1]):
        fail(f"the image must end as a numeric non-root USER, has {users}")
    if "EXPOSE 5000" not in lines:
        fail("the Dockerfile must EXPOSE 5000")
    if not re.search(r"cargo build --release --locked -p kubepulse", text):
        fail("the build stage must run `cargo build --release --locked -p kubepulse`")
    if any(re.match(r"^(RUN|CMD|ENTRYPOINT)\s+[^\[]", l) for l in lines[lines.index(froms[-1]):]):
        fail("the runtime stage must not need a shell (use exec-form CMD/ENTRYPOINT, no RUN)")
    ignore = (ROOT / ".dockerignore").read_text().split()
    for must in ("target", ".git", ".venv"):
        if must not in ignore:
            fail(f".dockerignore must exclude {must}")
    return f"multi-stage, runtime {final}, USER {users[-1]}, EXPOSE 5000, shell-free runtime"


def dockerignored(rel: str, patterns: list[str]) -> bool:
    """True when .dockerignore excludes the repository-relative path (the subset of the syntax we use)."""
    import fnmatch
    parts = rel.split("/")
    excluded = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.rstrip("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        hit = any(fnmatch.fnmatch(pre, pat) or (pat.startswith("**/") and fnmatch.fnmatch(pre.split("/")[-1], pat[3:]))
                  for pre in prefixes)
        if hit:
            excluded = not neg
    return excluded


def assert_build_context() -> str:
    """Every file the Rust code embeds (include_bytes!/include_str!, e.g. the default model) must be in
    the Docker build context, or the image would not build (or not work without a volume)."""
    patterns = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
                if l.strip() and not l.strip().startswith("#")]
    embedded = 0
    for src in sorted((ROOT / "crates").rglob("*.rs")):
        if "target" in src.parts:
            continue
        text = src.read_text(errors="replace")
        for m in re.finditer(r'include_(?:bytes|str)!\(\s*(?:concat!\(\s*env!\("CARGO_MANIFEST_DIR"\)\s*,\s*)?"([^"]+)"', text):
            lit = m.group(1)
            base = src.parent
            if "CARGO_MANIFEST_DIR" in text[m.start():m.end()]:
                base = next(p for p in src.parents if (p / "Cargo.toml").exists())
                lit = lit.lstrip("/")
            target = (base / lit).resolve()
            where = f"{src.relative_to(ROOT)} embeds {m.group(1)!r}"
            if not target.is_relative_to(ROOT):
                fail(f"{where}, which is outside the repository: a Docker build cannot see it")
            rel = target.relative_to(ROOT).as_posix()
            if dockerignored(rel, patterns):
                fail(f"{where} ({rel}), which .dockerignore excludes from the build context")
            embedded += 1
    for must_keep in ("Cargo.toml", "Cargo.lock", "crates/kubepulse/src/main.rs"):
        if dockerignored(must_keep, patterns):
            fail(f".dockerignore excludes {must_keep}")
    if not dockerignored("target/release/kubepulse", patterns) or not dockerignored(".git/HEAD", patterns):
        fail(".dockerignore must exclude target/ and .git/")
    return f"{embedded} embedded files in the build context; target/, .git/, .venv/ excluded"


def assert_shellcheck(tmp: Path) -> str:
    """shellcheck on scripts/test-deploy and on every `run:` step of the workflow (with each
    ${{ expression }} replaced by a plain word, as GitHub substitutes it before the shell runs)."""
    shellcheck = Path(sys.executable).parent / "shellcheck"
    if not shellcheck.exists():
        fail(f"shellcheck is not installed in {shellcheck.parent}: run scripts/test-deploy (pip install -r deploy/requirements.txt)")
    files = [ROOT / "scripts/test-deploy"]
    steps_dir = tmp / "workflow-steps"
    steps_dir.mkdir()
    for path in workflow_files():
        workflow = path.stem
        wf = yaml.safe_load(path.read_text())
        for job_name, job in wf["jobs"].items():
            for i, step in enumerate(job.get("steps", [])):
                if "run" not in step:
                    continue
                body = re.sub(r"\$\{\{.*?\}\}", "GHA_EXPRESSION", step["run"])
                f = steps_dir / f"{workflow}-{job_name}-step{i}.sh"
                f.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + body)
                files.append(f)
    p = run([str(shellcheck), "--severity=style", "--format=gcc", *map(str, files)])
    if p.returncode != 0:
        fail("shellcheck findings:\n" + p.stdout.replace(str(steps_dir) + "/", ".github/workflows/ job ") + p.stderr)
    return f"{len(files)} scripts clean (scripts/test-deploy and {len(files) - 1} workflow run steps)"


WORKFLOWS = ROOT / ".github/workflows"
# `uses: owner/repo[/path]@<40-hex commit>`, then a comment naming what the commit is: its release tag
# (`# v1.2.3`) or, for an action released as branches (dtolnay/rust-toolchain), `# <branch> branch, <date>`.
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
PIN_COMMENT = re.compile(r"^v\d+(\.\d+){0,2}$|^[\w.-]+ branch, \d{4}-\d{2}-\d{2}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*[\"']?([^\s\"'#]+)[\"']?\s*(?:#\s*(.*?))?\s*$")


def workflow_files() -> list[Path]:
    """Every GitHub Actions workflow of the repository."""
    files = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    if not files:
        fail(f"no workflow in {WORKFLOWS.relative_to(ROOT)}")
    return files


def unpinned_actions(name: str, text: str) -> tuple[int, list[str]]:
    """The `uses:` of a workflow (steps' actions and jobs' reusable workflows) that are not pinned to a
    full commit SHA with the release tag in a comment; local actions (`./...`) need no pin."""
    wf = yaml.safe_load(text) or {}
    parsed = [u for j in (wf.get("jobs") or {}).values()
              for u in [j.get("uses")] + [st.get("uses") for st in j.get("steps") or []] if u]
    lines = [(n, m.group(1), m.group(2)) for n, line in enumerate(text.splitlines(), 1)
             if (m := USES_LINE.match(line))]
    errors = []
    if sorted(parsed) != sorted(u for _, u, _ in lines):
        errors.append(f"{name}: every `uses:` must be written `uses: owner/repo@<sha> # vX.Y.Z` on one line "
                      f"(parsed {sorted(parsed)}, found on lines {sorted(u for _, u, _ in lines)})")
    for n, uses, comment in lines:
        if uses.startswith("./"):
            continue
        if not PINNED_ACTION.match(uses):
            errors.append(f"{name}:{n}: action {uses} is not pinned to a full commit SHA")
        elif not comment or not PIN_COMMENT.match(comment):
            errors.append(f"{name}:{n}: action {uses} needs the release tag it pins as a comment "
                          f"(`# vX.Y.Z`, or `# <branch> branch, YYYY-MM-DD`), has {comment!r}")
    return len(lines), errors


def assert_pinned_actions() -> str:
    """Every action of every workflow pinned to a commit SHA with its tag in a comment (docs/deploy.md,
    "Pinned actions"); the check itself rejects a floating tag, a short SHA and a missing comment."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    for broken in (f"jobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4\n",
                   f"jobs:\n  a:\n    steps:\n      - uses: actions/checkout@{sha[:12]} # v4.0.0\n",
                   f"jobs:\n  a:\n    steps:\n      - uses: actions/checkout@{sha}\n",
                   f"jobs:\n  a:\n    steps:\n      - {{uses: actions/checkout@v4}}\n"):
        if not unpinned_actions("self-test", broken)[1]:
            fail(f"the pin check accepted a broken pin:\n{broken}")
    if unpinned_actions("self-test", f"jobs:\n  a:\n    steps:\n      - uses: actions/checkout@{sha} # v4.2.2\n")[1]:
        fail("the pin check rejected a correct pin")
    counts, errors = [], []
    for f in workflow_files():
        n, errs = unpinned_actions(str(f.relative_to(ROOT)), f.read_text())
        counts.append(f"{f.name} {n}")
        errors += errs
    if errors:
        fail("actions not pinned (see docs/deploy.md, \"Pinned actions\", to re-pin):\n" + "\n".join(errors))
    return f"every `uses:` pinned to a commit SHA with its tag ({', '.join(counts)}); self-test rejects floating, short and uncommented pins"


def assert_workflow() -> str:
    wf = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    on = wf.get(True) or wf.get("on")
    # the GitHub workflow JSON schema bundled with checkov (from SchemaStore); checkov silently
    # ignores a workflow that does not match it, so a mismatch must fail here
    from checkov.github_actions.schemas import gha_workflow
    as_json = {("on" if k is True else k): v for k, v in wf.items()}
    errors = [f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message[:200]}"
              for e in jsonschema.Draft7Validator(gha_workflow).iter_errors(as_json)]
    if errors:
        fail(".github/workflows/ci.yml does not match the GitHub workflow schema:\n" + "\n".join(errors))
    jobs = wf["jobs"]
    text = (ROOT / ".github/workflows/ci.yml").read_text()
    for needle in ("cargo fmt --all --check", "cargo clippy", "scripts/test", "kubectl kustomize",
                   "docker/build-push-action"):
        if needle not in text:
            fail(f".github/workflows/ci.yml lacks `{needle}`")
    for overlay in OVERLAYS:
        if overlay.split("/")[1] not in text:
            fail(f".github/workflows/ci.yml does not build {overlay}")
    deploys = {n: j for n, j in jobs.items() if j.get("environment")}
    envs = {(j["environment"]["name"] if isinstance(j["environment"], dict) else j["environment"]) for j in deploys.values()}
    if envs != {"staging", "production"}:
        fail(f"expected deploy jobs gated by the staging and production environments, found {envs}")
    for n, j in deploys.items():
        if (j.get("permissions") or {}).get("id-token") != "write":
            fail(f"deploy job {n} must request `id-token: write` for workload-identity (OIDC) authentication")
        cond = j.get("if", "")
        env = j["environment"]["name"] if isinstance(j["environment"], dict) else j["environment"]
        if env == "staging" and "refs/heads/main" not in cond:
            fail(f"deploy job {n} (staging) must run only on main, has if: {cond!r}")
        if env == "production" and "refs/tags/" not in cond:
            fail(f"deploy job {n} (production) must run only on tags, has if: {cond!r}")
    if "secrets." in text and re.search(r"secrets\.(?!GITHUB_TOKEN)", text):
        fail("the workflow must authenticate with OIDC/workload identity, not stored cloud secrets")
    triggers = sorted(on.keys()) if isinstance(on, dict) else on
    return f"valid workflow schema; jobs {sorted(jobs)}; triggers {triggers}; environments {sorted(envs)}"


def any_pod_spec(d: dict) -> dict:
    """The pod spec of a workload, a CronJob's included."""
    if d["kind"] == "CronJob":
        return d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pod_spec(d)


def kubepulse_subcommands() -> set[str]:
    """The binary's subcommands, from its `Command` enum (crates/kubepulse/src/lib.rs)."""
    text = (ROOT / "crates/kubepulse/src/lib.rs").read_text()
    body = text[text.index("pub enum Command {"):]
    body = body[:body.index("\n}")]
    return {m.lower() for m in re.findall(r"^\s+([A-Z][A-Za-z]*)\(", body, re.M)}


def assert_release_workflow(rendered: dict[str, list[dict]]) -> str:
    """.github/workflows/release.yml: on a version tag only, builds this Dockerfile and pushes it as the
    image the manifests name (every overlay's one `images:` entry maps that name; the base pins the
    workspace version), with commit-pinned actions and no stored secret; the Dockerfile builds the
    `kubepulse` binary as entrypoint and every container of that image in deploy/ runs one of its
    subcommands."""
    path = ROOT / ".github/workflows/release.yml"
    wf = yaml.safe_load(path.read_text())
    text = path.read_text()
    from checkov.github_actions.schemas import gha_workflow
    as_json = {("on" if k is True else k): v for k, v in wf.items()}
    errors = [f"{'/'.join(str(p) for p in e.path) or '(root)'}: {e.message[:200]}"
              for e in jsonschema.Draft7Validator(gha_workflow).iter_errors(as_json)]
    if errors:
        fail(f"{path.name} does not match the GitHub workflow schema:\n" + "\n".join(errors))
    on = wf.get(True) or wf.get("on")
    if on != {"push": {"tags": ["v*"]}}:
        fail(f"{path.name} must run on version tags only (push: tags: [v*]), runs on {on}")
    _, unpinned = unpinned_actions(path.name, text)  # also checked for every workflow by assert_pinned_actions
    if unpinned:
        fail("\n".join(unpinned))
    if re.search(r"secrets\.(?!GITHUB_TOKEN)", text):
        fail(f"{path.name}: pushes with GITHUB_TOKEN only, no stored secret")
    pushes = [(j, st) for j in wf["jobs"].values() for st in j.get("steps", [])
              if st.get("uses", "").startswith("docker/build-push-action@")]
    if len(pushes) != 1:
        fail(f"{path.name}: one docker/build-push-action step expected, found {len(pushes)}")
    job, push = pushes[0]
    w = push.get("with", {})
    if w.get("push") is not True or w.get("context") != "." or w.get("file", "Dockerfile") != "Dockerfile":
        fail(f"{path.name}: must build ./Dockerfile and push it, has {w}")
    image = (job.get("env") or {}).get("IMAGE")
    if image != PLACEHOLDER_IMAGE or not str(w.get("tags", "")).startswith("${{ env.IMAGE }}:"):
        fail(f"{path.name}: must push {PLACEHOLDER_IMAGE}:<version> (env IMAGE), pushes {w.get('tags')} with IMAGE={image}")
    if (job.get("permissions") or {}).get("packages") != "write":
        fail(f"{path.name}: the push job needs `packages: write`")
    cargo = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M)
    version = cargo.group(1) if cargo else "?"
    pinned = {c["image"] for d in rendered["base"] for c in
              (any_pod_spec(d).get("initContainers", []) + any_pod_spec(d).get("containers", [])
               if d["kind"] in ("Deployment", "CronJob", "Job") else [])}
    if pinned != {f"{PLACEHOLDER_IMAGE}:{version}"}:
        fail(f"the base must name {PLACEHOLDER_IMAGE}:{version} (the workspace version the release pushes), names {pinned}")
    for o in OVERLAYS + ("overlays/local",):
        k = yaml.safe_load((RENDERS[o] / "kustomization.yaml").read_text())
        names = [i.get("name") for i in k.get("images", [])]
        if names != [PLACEHOLDER_IMAGE]:
            fail(f"{o}: its one images: entry must map {PLACEHOLDER_IMAGE}, maps {names}")
    docker = (ROOT / "Dockerfile").read_text()
    if '"/usr/local/bin/kubepulse"' not in docker or "install -D -m 0755 target/release/kubepulse /out/kubepulse" not in docker:
        fail("the Dockerfile must install the kubepulse binary and run it as ENTRYPOINT")
    commands = kubepulse_subcommands()
    runs: set[str] = set()
    for label, docs in rendered.items():
        for d in docs:
            if d["kind"] not in ("Deployment", "CronJob", "Job", "StatefulSet", "DaemonSet"):
                continue
            ps = any_pod_spec(d)
            for c in ps.get("initContainers", []) + ps.get("containers", []):
                if "kubepulse" not in c["image"].split("/")[-1]:
                    continue
                sub = (c.get("args") or ["serve"])[0]
                if sub not in commands:
                    fail(f"{label}: {name_of(d)} container {c['name']} runs `kubepulse {sub}`, not a subcommand ({sorted(commands)})")
                runs.add(sub)
    return (f"tags v* → {PLACEHOLDER_IMAGE}:{version} from ./Dockerfile, SHA-pinned actions; every overlay maps that "
            f"one image; deploy runs kubepulse {', '.join(sorted(runs))}")


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kubectl", required=True)
    ap.add_argument("--node-modules", required=True, type=Path)
    args = ap.parse_args()
    suite = Suite()
    tmp = Path(tempfile.mkdtemp(prefix="kubepulse-test-deploy-"))
    rendered: dict[str, list[dict]] = {}
    files: list[Path] = []
    try:
        v = run([args.kubectl, "version", "--client"]).stdout.replace("\n", " ").strip()
        print(f"tools: {v}; kubernetes-validate {kubernetes_validate.__version__} "
              f"(schemas for Kubernetes {', '.join(K8S_VERSIONS)})", flush=True)

        def render(label: str, path: Path) -> Callable[[], str]:
            def go() -> str:
                text = kustomize(args.kubectl, path)
                f = tmp / (label.replace("/", "_") + ".yaml")
                f.write_text(text)
                files.append(f)
                rendered[label] = load_docs(text, label)
                kinds: dict[str, int] = {}
                for d in rendered[label]:
                    kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
                return f"{len(rendered[label])} objects: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            return go

        for label, path in RENDERS.items():
            suite.check(f"kustomize build {label}", render(label, path))
        if len(rendered) != len(RENDERS):
            print("stopping: not every tree renders", flush=True)
            return report(suite)

        def schemas() -> str:
            counts = {"builtin": 0, "prometheus-operator": 0, "chaos-mesh": 0, "gmp": 0}
            errors: list[str] = []
            promop: list[tuple[str, dict]] = []
            for label, docs in rendered.items():
                for d in docs:
                    where = f"{label}: {name_of(d)}"
                    group = api_group(d)
                    if group == "" or group.endswith(".k8s.io") or "." not in group:
                        errors += [f"{where}: {e}" for e in validate_builtin(d)]
                        counts["builtin"] += 1
                    elif group == "monitoring.coreos.com":
                        promop.append((where, d))
                    elif group == "chaos-mesh.org":
                        errors += [f"{where}: {e}" for e in validate_chaos(d)]
                        counts["chaos-mesh"] += 1
                    elif group == "monitoring.googleapis.com":
                        errors += [f"{where}: {e}" for e in validate_gmp(d)]
                        counts["gmp"] += 1
                    else:
                        errors.append(f"{where}: no schema for API group {group!r}")
            for i, err in validate_prometheus_operator(promop, args.node_modules).items():
                counts["prometheus-operator"] += 1
                if err:
                    errors.append(f"{promop[i][0]}: {err}")
            if errors:
                fail(f"{len(errors)} schema errors:\n" + "\n".join(errors))
            total = sum(counts.values())
            return (f"{total} objects valid: {counts['builtin']} built-in against Kubernetes "
                    f"{' and '.join(K8S_VERSIONS)} (strict), {counts['prometheus-operator']} prometheus-operator "
                    f"(@kubernetes-models/prometheus-operator), {counts['chaos-mesh']} Chaos Mesh and "
                    f"{counts['gmp']} GKE PodMonitoring (structural schemas)")

        suite.check("schemas: every rendered object", schemas)

        def schema_self_test() -> str:
            bad = copy.deepcopy(find(rendered["base"], "Deployment", "kubepulse-serve"))
            bad["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = 5000
            if not validate_builtin(bad):
                fail("the Kubernetes schema check accepted an unknown field")
            sched = copy.deepcopy(rendered["demo/chaos"][0])
            sched["spec"]["concurrencyPolicy"] = "Sometimes"
            if not validate_chaos(sched):
                fail("the Chaos Mesh schema accepted concurrencyPolicy: Sometimes")
            sm = copy.deepcopy(find(rendered["monitoring"], "ServiceMonitor", "kubepulse-serve"))
            sm["spec"]["endpoints"][0]["interval"] = "30 seconds"
            if not validate_prometheus_operator([("self-test", sm)], args.node_modules)[0]:
                fail("the prometheus-operator validator accepted interval: '30 seconds'")
            pm = copy.deepcopy(find(rendered["overlays/staging-gke"], "PodMonitoring", "kubepulse-serve"))
            pm["spec"]["endpoints"][0]["intervall"] = "30s"
            if not validate_gmp(pm):
                fail("the PodMonitoring schema accepted an unknown field")
            return "an unknown field, a bad enum and a bad duration are rejected by each validator"

        suite.check("schemas: self-test (the validators reject broken objects)", schema_self_test)

        for o in OVERLAYS + ("overlays/local",):
            docs = rendered[o]
            suite.check(f"rbac: {o} grants watch exactly components/watch/clusterrole.yaml", lambda d=docs, o=o: assert_rbac(d, o))
        suite.check("rbac: examples/training-sharded grants watch exactly components/watch/clusterrole.yaml",
                    lambda: assert_rbac(rendered["examples/training-sharded"], "examples/training-sharded"))
        suite.check("rbac: examples/remediate grants watch exactly the watch and remediation roles",
                    lambda: assert_remediation_rbac(rendered["examples/remediate"], "examples/remediate"))
        suite.check("rbac: self-test (extra verb, missing resource, wildcard, secrets rejected)",
                    lambda: rbac_self_test(rendered[OVERLAYS[0]]))

        for o in ("base",) + OVERLAYS + ("overlays/local",):
            docs = rendered[o]
            suite.check(f"hardening: {o}", lambda d=docs, o=o: assert_hardened(d, o))
        local = rendered["overlays/local"]
        suite.check("serve: overlays/local", lambda: assert_serve_contract(local, "overlays/local", None))
        suite.check("watch: overlays/local", lambda: assert_watch_contract(local, "overlays/local"))
        suite.check("training: overlays/local (the retraining loop's CronJob, model volume, --model)",
                    lambda: assert_training_contract(local, "overlays/local"))
        suite.check("training: self-test (another --model path, a writable model mount, a missing step rejected)",
                    lambda: training_self_test(local))
        sharded = rendered["examples/training-sharded"]
        suite.check("hardening: examples/training-sharded", lambda: assert_hardened(sharded, "examples/training-sharded"))
        suite.check("training: examples/training-sharded (Indexed Job of collect + extraction shards → train --from-shards → gate)",
                    lambda: assert_sharded_training(sharded, "examples/training-sharded"))
        suite.check("training: sharded self-test (shard count, sample and dataset directories, unsharded collect, split rejected)",
                    lambda: sharded_training_self_test(sharded))
        suite.check("overlay: overlays/local (loaded image, namespace, demo)", lambda: assert_local_overlay(local, "overlays/local"))
        suite.check("hardening: demo/loadgen", lambda: assert_hardened(rendered["demo/loadgen"], "demo/loadgen"))
        suite.check("serve: base (HPA 2..10 at 50% CPU, probes, port 5000)",
                    lambda: assert_serve_contract(rendered["base"], "base", (2, 10)))
        for o in OVERLAYS:
            docs = rendered[o]
            suite.check(f"training: {o} (the retraining loop's CronJob, model volume, --model)",
                        lambda d=docs, o=o: assert_training_contract(d, o))
            suite.check(f"serve: {o}", lambda d=docs, o=o: assert_serve_contract(d, o, None))
            suite.check(f"watch: {o}", lambda d=docs, o=o: assert_watch_contract(d, o))
            suite.check(f"overlay: {o} (registry, node selection, namespace)", lambda d=docs, o=o: assert_overlay_specifics(d, o))
            suite.check(f"monitoring: ServiceMonitors match {o}",
                        lambda d=docs, o=o: assert_servicemonitors_match(rendered["monitoring"], d, o))
        suite.check("monitoring: GKE PodMonitorings match overlays/staging-gke",
                    lambda: assert_podmonitorings_match(rendered["overlays/staging-gke"], "overlays/staging-gke"))
        suite.check("demo: assembles with Online Boutique (upstream stubbed offline)", lambda: assert_demo_assembles(args.kubectl, tmp))
        suite.check("monitoring: metric names are the exported ones", lambda: assert_metric_names(rendered["monitoring"]))
        suite.check("monitoring: dashboard structure", assert_dashboard_shape)
        suite.check("monitoring: promtool check rules + test rules", lambda: assert_promtool(rendered["monitoring"], tmp))
        suite.check("monitoring: every PromQL expression accepted by a real Prometheus",
                    lambda: assert_promql(rendered["monitoring"], tmp))
        suite.check("image: Dockerfile and .dockerignore", assert_dockerfile)
        suite.check("image: build context has every embedded file (.dockerignore)", assert_build_context)
        suite.check("image: hadolint", assert_hadolint)
        suite.check("ci: workflow jobs, triggers, environments, OIDC", assert_workflow)
        suite.check("workflows: every action pinned to a commit SHA (tag in the comment)", assert_pinned_actions)
        suite.check("release: the workflow publishes the image deploy/ names, built by the Dockerfile",
                    lambda: assert_release_workflow(rendered))
        suite.check("shellcheck: scripts/test-deploy and the workflow's run steps", lambda: assert_shellcheck(tmp))
        suite.check("checkov: rendered manifests, Dockerfile, workflow", lambda: assert_checkov(files, tmp))
        return report(suite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(suite: Suite) -> int:
    print()
    if suite.failed:
        print(f"test-deploy FAILED: {', '.join(n for n, _ in suite.failed)}")
    print(f"test-deploy: {len(suite.passed)} passed, {len(suite.failed)} failed")
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
