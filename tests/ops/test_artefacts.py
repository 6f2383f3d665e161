"""The deployable artefacts: Kubernetes manifests valid against the API's schemas, YAML lint
clean, the CloudNativePG cluster's structure, the image definition, the compose file.
"""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.30.0"
# the command the tests run as ``ranopt serve`` (tests/ops/ops_world.py), from the image's
# console script
SERVE = ["ranopt", "serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104 - in a container


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        out += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return out


def _kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _documents() if doc["kind"] == kind]


def test_yaml_is_lint_clean() -> None:
    config = YamlLintConfig(file=str(DEPLOY / ".yamllint.yaml"))
    files = [*sorted(DEPLOY.rglob("*.yaml"))]
    assert len(files) >= 7
    problems = [
        f"{path.relative_to(DEPLOY)}:{p.line}: {p.desc}"
        for path in files
        for p in linter.run(path.read_text(), config)
    ]
    assert problems == []


def test_manifests_validate_against_kubernetes_schemas() -> None:
    checked = set()
    for path, doc in _documents():
        if doc["apiVersion"].startswith("postgresql.cnpg.io/"):
            continue  # a CRD: its schema ships with the operator (checked below)
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked.add(doc["kind"])
        assert doc["metadata"]["name"], path
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
            "CronJob", "ConfigMap", "PersistentVolumeClaim"} <= checked  # fmt: skip


def test_a_broken_manifest_is_caught() -> None:
    deployment = _kind("Deployment")[0]
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_the_deployment_probes_runs_non_root_and_takes_secrets_by_reference() -> None:
    deployment = next(d for d in _kind("Deployment") if d["metadata"]["name"] == "ranopt")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] + container["args"] == SERVE
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert secrets == {
        "RANOPT_SECRET_KEYS": "ranopt-keys",
        "RANOPT_DATABASE_URL": "ranopt-database",
    }
    assert not _kind("Secret"), "secret values do not belong in the repository"
    (pdb,) = _kind("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    (hpa,) = _kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ranopt"
    assert hpa["spec"]["minReplicas"] >= 2
    jobs = {j["metadata"]["name"]: j for j in _kind("CronJob")}
    backup = jobs["ranopt-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert backup["containers"][0]["args"][:2] == ["db", "backup"]
    drill = jobs["ranopt-restore-drill"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert drill["containers"][0]["args"][:2] == ["db", "drill"]


def test_the_cloudnativepg_cluster_is_replicated_and_synchronous() -> None:
    (cluster,) = _kind("Cluster")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert set(spec) <= {
        "instances", "imageName", "primaryUpdateStrategy", "minSyncReplicas", "maxSyncReplicas",
        "postgresql", "bootstrap", "storage", "monitoring",
    }  # fmt: skip
    assert isinstance(spec["instances"], int)
    assert spec["instances"] >= 2
    assert 1 <= spec["minSyncReplicas"] <= spec["maxSyncReplicas"] < spec["instances"]
    assert spec["postgresql"]["parameters"]["wal_log_hints"] == "on"
    assert re.fullmatch(r"\d+(Gi|Ti)", spec["storage"]["size"])
    assert spec["bootstrap"]["initdb"]["secret"]["name"]


def test_the_image_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, flags=re.MULTILINE)
    assert len(stages) >= 2
    assert re.search(r"^COPY --from=build ", text, flags=re.MULTILINE)
    user = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert user
    assert user[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*/health", text, flags=re.MULTILINE)
    entry = yaml.safe_load(re.search(r"^ENTRYPOINT (.*)$", text, flags=re.MULTILINE)[1])
    cmd = yaml.safe_load(re.search(r"^CMD (.*)$", text, flags=re.MULTILINE)[1])
    assert entry + cmd == SERVE


def test_compose_runs_ranopt_postgres_redis_and_the_emulator() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"ranopt", "postgres", "redis", "emulator"}
    assert ["ranopt", *services["ranopt"]["command"]] == SERVE
    assert services["emulator"]["command"][:2] == ["emulate", "run"]
    env = services["ranopt"]["environment"]
    assert env["RANOPT_RATE_LIMIT_STORAGE_URI"].startswith("redis://redis:")
    assert "@postgres:5432/" in env["RANOPT_DATABASE_URL"]
    docker = shutil.which("docker")
    has_compose = docker is not None and subprocess.run(  # noqa: S603
        [docker, "compose", "version"], capture_output=True, check=False
    ).returncode == 0  # fmt: skip
    if not has_compose:
        pytest.skip("docker compose is not installed here: `docker compose config` not run")
    assert docker is not None
    checked = subprocess.run(  # noqa: S603
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True, text=True, check=False,
        env={"POSTGRES_PASSWORD": "x", "RANOPT_SECRET_KEYS": "x", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
