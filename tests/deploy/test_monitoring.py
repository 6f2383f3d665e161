"""The shipped Prometheus alert rules and Grafana dashboard: valid, tested, and naming only
metrics ranopt exports (checked against the real registries, so a renamed metric fails here).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from ranopt.api.metrics import Metrics
from ranopt.service.runner import LoopMetrics
from ranopt.store.engine import make_engine

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "ranopt-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "ranopt-rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "ranopt.json"
METRIC = re.compile(r"\b(ranopt_[a-z0-9_]+|up)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def promtool() -> str:
    """Debian's promtool (``make test`` installs the prometheus package)."""
    found = shutil.which("promtool")
    assert found, "promtool not found: `make prometheus` installs Debian's prometheus package"
    return found


def exported_series(tmp_path: Path) -> set[str]:
    """Every sample name ranopt's API and loop registries expose, plus Prometheus' ``up``."""
    metrics = Metrics()
    metrics.watch_database(make_engine(f"sqlite:///{tmp_path / 'm.db'}"))
    loop = CollectorRegistry()
    LoopMetrics(loop)
    names = {"up"}
    for registry in (metrics.registry, loop):
        for family in registry.collect():
            names.add(family.name)
            names.update(family.name + s for s in SUFFIXES.get(family.type, ()))
    return names


def test_rules_pass_promtool_check_and_their_unit_tests() -> None:
    check = subprocess.run(  # noqa: S603 - fixed arguments
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 5 rules found" in check.stdout
    tested = subprocess.run(  # noqa: S603 - fixed arguments
        [promtool(), "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rules_hold_the_thresholds() -> None:
    rules = {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert rules["RanoptAvailabilityLow"]["expr"].rstrip().endswith("< 0.95")
    assert rules["RanoptResponseTimeHigh"]["expr"].rstrip().endswith("> 5")
    assert rules["RanoptErrorRateHigh"]["expr"].rstrip().endswith("> 0.05")
    assert rules["RanoptDatabaseDown"]["expr"].rstrip().endswith("== 0")


def test_rules_and_dashboard_name_only_exported_metrics(tmp_path: Path) -> None:
    exported = exported_series(tmp_path)
    rules = yaml.safe_load(RULES.read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    named = {m for e in exprs for m in METRIC.findall(e)}
    assert named - exported == set()
    # the dashboard shows every alert's figure
    shown = {
        m for p in dashboard["panels"] for t in p["targets"] for m in METRIC.findall(t["expr"])
    }
    assert {"up", "ranopt_database_up", "ranopt_http_requests_total"} <= shown
    assert "ranopt_http_request_duration_seconds_bucket" in shown


def test_dashboard_is_importable_grafana_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "ranopt-overview"
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "job"}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in dashboard["panels"]:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["targets"], p["title"]
        box = p["gridPos"]
        assert box["x"] + box["w"] <= 24, p["title"]
        covered = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not covered & cells, f"{p['title']} overlaps another panel"
        cells |= covered


@pytest.mark.parametrize("path", [RULES, RULE_TESTS])
def test_yaml_files_parse(path: Path) -> None:
    assert yaml.safe_load(path.read_text())
