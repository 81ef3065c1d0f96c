"""After the first deployment: move the aliases, and act on drift and on the online test.

Template-owned: edit templates/ml-project, then `make sync`.

``python -m image_classifier.rollout <command>`` (the Makefile's targets):

- ``rollback [--to N] [--why ...]``: ``@champion`` back to the previous champion;
- ``promote-challenger [--why ...]``: ``@challenger`` becomes ``@champion``;
- ``challenger --version N``: give version N the alias ``@challenger``;
- ``aliases``: both aliases and the audit trail of ``@champion``;
- ``abtest-report``: the online test judged from the feedback: ``reports/abtest.{json,html}``;
- ``retrain-on-drift``: monitor; on drift retrain with the labelled feedback, register the
  candidate as ``@challenger`` and switch the running server to ``rollout.retrain.start_mode``;
- ``autopilot``: ``retrain-on-drift``, then the canary, the A/B test and the promotion (or not)
  with no person (``rollout.retrain.autopilot``); what Alertmanager's retrain route runs.

A running server on ``serve.port`` reloads after a move of ``@champion``. The machinery is
``mlcore.lifecycle.alias_commands``, ``mlcore.monitoring.abtest``, ``mlcore.lifecycle.retrain`` and
``mlcore.lifecycle.autopilot``;
this file binds it to this project.
"""

from __future__ import annotations

import argparse
import sys

from mlcore.foundation.config import load_params
from mlcore.lifecycle import alias_commands, autopilot, retrain
from mlcore.monitoring import abtest

from . import PROJECT_ROOT
from .monitor import main_fn as monitor

COMMANDS = ("rollback", "promote-challenger", "challenger", "aliases", "abtest-report", "retrain-on-drift", "autopilot")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rollout", description="Move @champion / @challenger")
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--why", default="", help="Recorded on the model version and in the audit trail")
    parser.add_argument("--to", default=None, help="rollback: the version to go back to")
    parser.add_argument("--version", default=None, help="challenger: the version to test")
    args = parser.parse_args(argv)
    cfg = load_params(PROJECT_ROOT / "params.yaml")
    if args.command == "abtest-report":
        reports = PROJECT_ROOT / cfg.paths.reports
        kind = cfg.rollout.feedback
        if kind is None:
            raise SystemExit("abtest-report: this project takes no feedback (rollout.feedback is null in configs/)")
        return abtest.report_command(
            PROJECT_ROOT / cfg.serve.prediction_log, kind, reports / "abtest.json", reports / "abtest.html"
        )
    if args.command == "retrain-on-drift":
        return retrain.retrain_on_drift(cfg, PROJECT_ROOT, lambda: monitor(cfg))
    if args.command == "autopilot":
        return autopilot.run(cfg, PROJECT_ROOT, lambda: monitor(cfg))
    return alias_commands.run(
        cfg, PROJECT_ROOT, args.command, why=args.why, to=args.to or None, version=args.version or None
    )


if __name__ == "__main__":
    sys.exit(main())
