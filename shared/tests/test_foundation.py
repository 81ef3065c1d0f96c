"""Atomic files, the model folder's layout, flavors and the configurable regression interval."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from demo_api import Answer, Item, Scaler
from mlcore.foundation.io import read_json, write_json, write_parquet
from mlcore.lifecycle import artifacts, flavors
from mlcore.tasks.metrics import conformal_halfwidth, interval, interval_residuals


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = write_json({"a": 1}, tmp_path / "deep" / "out.json")
    assert read_json(path) == {"a": 1}

    class Broken:
        def to_parquet(self, tmp: Path, index: bool) -> None:
            tmp.write_bytes(b"half")
            raise OSError("disk full")

    with pytest.raises(OSError):
        write_parquet(Broken(), path)
    assert read_json(path) == {"a": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]
    write_parquet(pd.DataFrame({"x": [1, 2]}), tmp_path / "t.parquet")
    assert pd.read_parquet(tmp_path / "t.parquet")["x"].tolist() == [1, 2]


def test_extras_and_profile_are_written_and_read_under_one_layout(tmp_path: Path) -> None:
    written = artifacts.write_extras(tmp_path / "stage", {"columns": {}}, {"segments.json": {"segments": [1]}})
    assert sorted(Path(p).name for p in written) == [artifacts.REFERENCE_PROFILE, "segments.json"]
    model_dir = tmp_path / "model"
    (model_dir / artifacts.EXTRA_DIR).mkdir(parents=True)
    for path in written:  # MLflow copies extra_files into <model>/extra_files/
        Path(path).rename(model_dir / artifacts.EXTRA_DIR / Path(path).name)
    assert artifacts.reference_profile(model_dir) == {"columns": {}}
    assert artifacts.read_extra(model_dir, "segments.json") == {"segments": [1]}
    assert artifacts.read_extra(model_dir, "absent.json", {"none": True}) == {"none": True}
    with pytest.raises(FileNotFoundError, match="reference_profile.json"):
        artifacts.reference_profile(tmp_path)


def test_flavor_is_chosen_by_the_model_and_unknown_models_are_named() -> None:
    from sklearn.linear_model import LinearRegression

    assert flavors.for_model(LinearRegression()).name == "sklearn"
    with pytest.raises(TypeError, match="no model flavor saves a dict"):
        flavors.for_model({})


def test_interval_is_relative_on_log_scale_and_absolute_on_linear() -> None:
    y = np.array([100.0, 200.0, 300.0, 400.0])
    pred = np.array([110.0, 190.0, 330.0, 380.0])
    h_log = conformal_halfwidth(interval_residuals(y, pred, "log"), 0.9)
    low, high = interval(pred, h_log, "log")
    assert np.allclose(high / pred, np.exp(h_log)) and np.all((y >= low - 1e-9) & (y <= high + 1e-9))
    h_lin = conformal_halfwidth(interval_residuals(y, pred, "linear"), 0.9)
    low, high = interval(pred, h_lin, "linear")
    assert np.allclose(high - pred, h_lin) and np.all((y >= low - 1e-9) & (y <= high + 1e-9))


def test_log_interval_refuses_targets_that_are_not_positive() -> None:
    with pytest.raises(ValueError, match="interval_scale=linear"):
        interval_residuals(np.array([0.0, -5.0]), np.array([1.0, 1.0]), "log")
    residuals = interval_residuals(np.array([0.0, -5.0]), np.array([1.0, -4.0]), "linear")
    assert residuals.tolist() == [-1.0, -1.0]
    with pytest.raises(ValueError, match="not one of log, linear"):
        interval_residuals(np.array([1.0]), np.array([1.0]), "sqrt")


def test_class_metrics_for_three_classes_and_binary_as_the_special_case() -> None:
    from mlcore.tasks.metrics import class_metrics, classification_metrics, confusion_table

    labels = ["T-shirt/top", "Trouser", "Bag"]
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 2])
    proba = np.full((10, 3), 0.1)
    proba[np.arange(10), y_pred] = 0.8
    m = class_metrics(y_true, y_pred, labels, proba)
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["precision_class_t_shirt_top"] == pytest.approx(2 / 3)  # 2 of the 3 called T-shirt
    assert m["recall_class_bag"] == pytest.approx(0.8) and m["support_class_bag"] == 5
    assert m["f1_class_trouser"] == pytest.approx(0.8)  # precision 2/3, recall 1
    f1s = [m[f"f1_class_{s}"] for s in ("t_shirt_top", "trouser", "bag")]
    assert m["f1_macro"] == pytest.approx(np.mean(f1s))
    assert m["f1_weighted"] == pytest.approx(np.average(f1s, weights=[3, 2, 5]))
    assert m["log_loss"] > 0 and 0.5 < m["roc_auc_ovr"] <= 1
    table = confusion_table(y_true, y_pred, labels)
    assert len(table) == 9 and table["count"].sum() == 10
    assert table.query("actual == 'Bag' and predicted == 'T-shirt/top'")["count"].item() == 1
    binary = classification_metrics(np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.4, 0.6]), 0.5, ("ham", "spam"))
    assert binary["f1"] == pytest.approx(binary["f1_class_spam"]) == pytest.approx(0.5)
    assert binary["tp"] == 1 and binary["fp"] == 1 and "f1_macro" in binary


def test_network_blocked_refuses_remote_hosts_but_not_loopback() -> None:
    import socket

    from mlcore.foundation.offline import network_blocked

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with network_blocked():
            assert os.environ["HF_HUB_OFFLINE"] == "1"
            with socket.socket() as remote, pytest.raises(OSError, match="network blocked"):
                remote.connect(("192.0.2.1", 443))  # TEST-NET-1: never reached
            with socket.socket() as local:
                local.connect(server.getsockname())
    with socket.socket() as unguarded:
        assert socket.socket.connect.__name__ == "connect" and unguarded.family == socket.AF_INET


def test_credentials_are_masked_in_text_and_in_json_logs() -> None:
    import logging

    from mlcore.foundation.logs import JsonFormatter
    from mlcore.foundation.redact import mask_credentials

    text = "store postgresql://ml:pa55@db:5432/mlflow, http://u:p%40ss@h/x and ssh://git@host/repo"
    assert (
        mask_credentials(text) == "store postgresql://ml:***@db:5432/mlflow, http://u:***@h/x and ssh://git@host/repo"
    )
    record = logging.LogRecord("x", logging.ERROR, "", 0, "cannot reach %s", ("http://a:b-secret@h",), None)
    record.reason = "MlflowException: http://a:b-secret@h/api failed"
    line = JsonFormatter().format(record)
    assert "b-secret" not in line and line.count("a:***@h") == 2


def test_the_token_file_is_made_once_for_its_owner_only(tmp_path: Path) -> None:
    from mlcore.foundation.secrets import read_token, token_file

    path = tmp_path / "sub" / ".admin-token"
    assert read_token(path) is None
    first = token_file(path)
    assert len(first) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert token_file(path) == first == read_token(path), "every process of the project gets the same token"


class _Explaining(Scaler):
    def explain(self, items: Any) -> list[dict[str, Any]]:
        return [{"y": 0.0, "explanation": {}} for _ in items]


def _plain_loader(path: Any) -> Scaler:
    return Scaler(1.0)


def _explaining_loader(path: Any) -> _Explaining:
    return _Explaining(1.0)


def _unannotated_loader(path):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
    return _Explaining(1.0)


def test_a_served_model_explains_when_its_loaders_predictor_overrides_explain() -> None:
    """``ServedModel.explains`` reads the class ``load`` returns from its annotation."""
    from mlcore.foundation.served import ServedModel

    def served(load: Any) -> ServedModel:
        return ServedModel("tests", "tests.x:SERVED", Item, Answer, load, lambda frame: [])

    loaders = (_plain_loader, _explaining_loader, _unannotated_loader)
    assert [served(load).explains for load in loaders] == [False, True, False]
