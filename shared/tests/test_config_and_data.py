from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlcore.data.splitting import dedupe, split
from mlcore.data.validation import check_frame, leakage
from mlcore.foundation.config import compose, load_params, main, recorded_overrides, write_params
from mlcore.tasks.metrics import choose_threshold, classification_metrics


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    root = tmp_path / "configs"
    (root / "model").mkdir(parents=True)
    (root / "config.yaml").write_text("defaults:\n  - _self_\n  - model: a\nname: demo\npath: ${name}/x\n")
    (root / "model" / "a.yaml").write_text("c: 1\n")
    (root / "model" / "b.yaml").write_text("c: 2\n")
    return root


def test_compose_resolves_and_overrides(configs: Path) -> None:
    assert compose(configs).path == "demo/x"
    assert compose(configs, ["model=b"]).model.c == 2


def test_params_round_trip_and_cli(configs: Path, tmp_path: Path) -> None:
    out = write_params(compose(configs, ["model=b"]), tmp_path / "params.yaml")
    assert load_params(out).model.c == 2
    assert main(["--config-dir", str(configs), "--out", str(tmp_path / "p2.yaml"), "model.c=5"]) == 0
    assert load_params(tmp_path / "p2.yaml").model.c == 5
    # the overrides are recorded, so a later recomposition (retrain-on-drift) keeps them
    assert recorded_overrides(tmp_path / "p2.yaml") == ["model.c=5"] and recorded_overrides(out) == []
    assert main(["--config-dir", str(configs), "--out", str(tmp_path / "p2.yaml")]) == 0
    assert recorded_overrides(tmp_path / "p2.yaml") == [] and recorded_overrides(tmp_path / "absent.yaml") == []
    assert main(["--config-dir", str(configs), "--out", str(tmp_path / "p3.yaml"), "model=nope"]) == 2
    assert not (tmp_path / "p3.yaml").exists()
    with pytest.raises(FileNotFoundError, match="make params"):
        load_params(tmp_path / "absent.yaml")


def test_make_params_fills_in_the_mlcore_fingerprints(configs: Path, tmp_path: Path) -> None:
    """A config with an ``mlcore`` section gets a hash of each subpackage's code (dvc.yaml lists them as
    stage params); the hash follows the code, not where it is installed."""
    import json
    import shutil
    import subprocess
    import sys

    import mlcore
    from mlcore.foundation import config

    text = (configs / "config.yaml").read_text()
    (configs / "config.yaml").write_text(text + "mlcore: {foundation: '', data: ''}\n")
    assert main(["--config-dir", str(configs), "--out", str(tmp_path / "p.yaml")]) == 0
    written = dict(load_params(tmp_path / "p.yaml").mlcore)
    assert set(written) == set(config.SUBPACKAGES) and written == config.code_fingerprints()
    assert all(len(value) == 12 for value in written.values())
    copy = tmp_path / "pkg" / "mlcore"
    shutil.copytree(Path(mlcore.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))

    def fingerprints_of_copy() -> dict[str, str]:
        code = "import json; from mlcore.foundation.config import code_fingerprints as f; print(json.dumps(f()))"
        done = subprocess.run(
            [sys.executable, "-c", code], env={"PYTHONPATH": str(copy.parent)}, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert fingerprints_of_copy() == written
    (copy / "data" / "splitting.py").write_text((copy / "data" / "splitting.py").read_text() + "\n# edited\n")
    assert {k for k, v in fingerprints_of_copy().items() if v != written[k]} == {"data"}


def test_validation_reports_every_problem() -> None:
    frame = pd.DataFrame({"text": ["a", "", "a", None], "label": ["ham", "spam", "eggs", "ham"], "n": [1, 2, 3, 99]})
    schema = {
        "columns": {
            "text": {"type": "string", "not_empty": True},
            "label": {"type": "category", "allowed": ["ham", "spam"]},
            "n": {"type": "int", "max": 10},
        },
        "min_rows": 10,
        "unique_key": ["text"],
        "max_duplicate_share": 0.1,
    }
    errors = check_frame(frame, schema).errors
    assert any(e.startswith("text: 1 missing") for e in errors)
    assert any(e.startswith("text: 1 empty") for e in errors)
    assert any("eggs" in e for e in errors)
    assert any(e.startswith("n: 1 value(s) above 10") for e in errors)
    assert any("only 4 rows" in e for e in errors)
    assert any("duplicate" in e for e in errors)


def test_datetime_bounds_are_checked() -> None:
    frame = pd.DataFrame({"day": pd.to_datetime(["1996-12-31", "1997-06-01", "1998-07-01", "1998-07-02"])})
    schema = {"columns": {"day": {"type": "datetime", "min": "1997-01-01", "max": "1998-07-01"}}}
    errors = check_frame(frame, schema).errors
    assert errors == ["day: 1 value(s) below 1997-01-01", "day: 1 value(s) above 1998-07-01"]
    assert check_frame(frame.iloc[1:3], schema).ok


def test_dedupe_split_and_leakage() -> None:
    frame = pd.DataFrame({"text": [f"m{i}" for i in range(200)] + ["M0 ", "m1"], "label": ["a", "b"] * 101})
    unique = dedupe(frame, ["text"])
    assert len(unique) == 200
    train, val, test = split(unique, 0.2, 0.2, seed=1, stratify="label")
    assert (len(train), len(val), len(test)) == (120, 40, 40)
    assert leakage(train, test, ["text"]) == 0
    assert leakage(train, train.head(3), ["text"]) == 3
    with pytest.raises(ValueError, match="split sizes"):
        split(unique, 0.6, 0.5, seed=1)


def test_threshold_reaches_target_precision() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    scores = np.clip(y * 0.3 + rng.normal(0.35, 0.2, 2000), 0, 1)
    threshold = choose_threshold(y, scores, 0.9)
    metrics = classification_metrics(y, scores, threshold)
    assert metrics["precision"] >= 0.9
    assert classification_metrics(y, scores, threshold - 0.05)["recall"] >= metrics["recall"]
