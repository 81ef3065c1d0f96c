"""The alert rules (deploy/alerts.yaml) under Prometheus's own tool: `promtool check rules`, and
`promtool test rules` with tests/deploy/alerts.test.yaml, in which every alert fires once and
stays quiet once; the Alertmanager configuration (deploy/alertmanager.yml) under `amtool`. promtool
and amtool come with Debian's `prometheus` and `prometheus-alertmanager` packages (the suite's
`make containers` puts them in its .venv/bin); without them these tests are skipped, unless
``ML_REQUIRE_CONTAINERS=1``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "alerts.yaml"
CASES = ROOT / "tests" / "deploy" / "alerts.test.yaml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager.yml"


def alerts() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def test_the_rules_pass_promtool_check(promtool: str) -> None:
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_fires_once_and_stays_quiet_once_under_promtool(promtool: str) -> None:
    cases = yaml.safe_load(CASES.read_text(encoding="utf-8"))["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    for name in alerts():
        fired = [c for c in checks if c["alertname"] == name and c["exp_alerts"]]
        quiet = [c for c in checks if c["alertname"] == name and not c["exp_alerts"]]
        assert fired and quiet, f"{name}: a case where it fires and one where it does not"
    done = subprocess.run(
        [promtool, "test", "rules", str(CASES)], capture_output=True, text=True, check=False, cwd=CASES.parent
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_every_alert_has_a_severity_a_summary_and_a_runbook_naming_a_make_target() -> None:
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
    expected = {"ServiceDown", "ErrorBudgetBurnFast", "ErrorBudgetBurnSlow", "LatencyP99High", "NoTraffic"}
    expected |= {"DriftDetected", "OnlineQualityLow", "ModelVersionMismatch", "MonitorStale", "MonitorFailing"}
    assert set(alerts()) == expected
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"], name
        named = re.findall(r"make ([a-z][a-z0-9-]*)", rule["annotations"]["runbook"])
        assert named and set(named) <= targets, f"{name}: runbook names {named}; the Makefile has {sorted(targets)}"
    jobs = set(re.findall(r'job="([^"]+)"', RULES.read_text(encoding="utf-8")))
    assert jobs == {"customer-segmentation"}, "every series is selected by this service's scrape job"


def test_only_the_drift_alert_asks_for_a_retrain_and_the_hook_knows_that_action() -> None:
    asking = {name for name, rule in alerts().items() if "action" in rule["labels"]}
    assert asking == {"DriftDetected"} and alerts()["DriftDetected"]["labels"]["action"] == "retrain"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    hook = re.search(r"^alert-hook:.*\n\t(.+)$", makefile, re.M)
    assert hook, "the Makefile has no alert-hook target"
    assert "--job customer-segmentation" in hook.group(1)
    assert "--action retrain=" in hook.group(1)


def test_alertmanager_config_passes_amtool_and_sends_every_alert_to_the_hook(amtool: str) -> None:
    done = subprocess.run([amtool, "check-config", str(ALERTMANAGER)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for name, rule in alerts().items():
        given = {"alertname": name, "job": "customer-segmentation", **rule["labels"]}
        labels = [f"{k}={v}" for k, v in given.items()]
        routed = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels],
            capture_output=True,
            text=True,
            check=False,
        )
        assert routed.stdout.strip() == "alert-hook", f"{name}: {routed.stdout} {routed.stderr}"
    hook = yaml.safe_load(ALERTMANAGER.read_text(encoding="utf-8"))["receivers"][0]["webhook_configs"][0]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    port = re.search(r"^HOOK_PORT \?= (\d+)$", makefile, re.M)
    assert port and hook["url"] == f"http://127.0.0.1:{port.group(1)}/alerts" and hook["send_resolved"] is True
