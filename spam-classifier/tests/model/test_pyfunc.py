"""The registered model through MLflow's own tools answers as the suite's API does.

``mlflow.pyfunc.load_model("models:/<name>@champion")`` and ``mlflow models serve`` run in a clean
Python: it sees this environment's third-party packages but neither this project nor mlcore, so
the model must carry its own code. Both must give, row for row, the answers of ``POST /predict``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from spam_classifier.predictor import SERVED

pytestmark = pytest.mark.slow
PACKAGE = "spam_classifier"
ROWS = 40


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv that sees this one's third-party packages, through a .pth line to a view of its
    site-packages without mlcore and this project (installed editable or from a wheel)."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    view = venv.parent / "site-view"
    view.mkdir()
    hidden = ("mlcore", "mlsuite_core", "__editable__", PACKAGE)
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(hidden):
            (view / entry.name).symlink_to(entry)
    Path(site, "suite-packages.pth").write_text(f"{view}\n", encoding="utf-8")
    # `mlflow models serve` runs `uvicorn` from PATH: give it one on this interpreter.
    uvicorn = venv / "bin" / "uvicorn"
    uvicorn.write_text(f"#!{python}\nimport sys\nfrom uvicorn.main import main\nsys.exit(main())\n", encoding="utf-8")
    uvicorn.chmod(0o755)
    for module in (PACKAGE, "mlcore"):
        probe = subprocess.run(
            [str(python), "-c", f"import {module}"], env={"PATH": "/usr/bin:/bin"}, capture_output=True
        )
        assert probe.returncode != 0, f"{module} is importable in the clean environment: install it editable"
    return python


@pytest.fixture(scope="module")
def rows(trained: dict[str, Any]) -> list[dict[str, Any]]:
    root, cfg = trained["root"], trained["cfg"]
    test = pd.read_parquet(root / cfg.paths.processed / "test.parquet")
    return SERVED.request_items(test.head(ROWS))


@pytest.fixture(scope="module")
def api_answers(server: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    batch = httpx.post(f"{server}/predict", json={"items": rows}, timeout=60)
    assert batch.status_code == 200, batch.text
    one = httpx.post(f"{server}/predict", json=rows[0], timeout=60).json()
    one.pop("model_version")
    one.pop("request_id")
    answers = batch.json()["predictions"]
    assert_same([one], answers[:1])  # one item and a batch agree (compiled and pipeline paths)
    return answers


def clean_env(trained: dict[str, Any], clean_python: Path) -> dict[str, str]:
    root = trained["root"]
    return {
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONPATH": "",
        "PATH": f"{clean_python.parent}:/usr/bin:/bin",
    }


def assert_same(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(got) == len(expected)
    for index, (ours, theirs) in enumerate(zip(got, expected, strict=True)):
        assert set(ours) == set(theirs), f"row {index}: fields {sorted(ours)} != {sorted(theirs)}"
        for key, value in theirs.items():
            assert close(ours[key], value), f"row {index}, {key}: {ours[key]!r} != {value!r}"


def close(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return a == b


def test_pyfunc_in_a_clean_environment_answers_as_the_api(
    trained: dict[str, Any], clean_python: Path, rows: list[dict[str, Any]], api_answers: list[dict[str, Any]]
) -> None:
    root = trained["root"]
    (root / "pyfunc_rows.json").write_text(json.dumps(rows), encoding="utf-8")
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model('models:/{trained['cfg'].project.model_name}@champion')\n"
        "rows = json.load(open('pyfunc_rows.json'))\n"
        "many = model.predict(pd.DataFrame(rows))\n"
        "one = model.predict(pd.DataFrame(rows[:1]))\n"
        f"assert '{PACKAGE}' not in sys.modules or 'code' in sys.modules['{PACKAGE}'].__file__\n"
        "print(json.dumps({'many': json.loads(many.to_json(orient='records')),"
        " 'one': json.loads(one.to_json(orient='records'))}))\n"
    )
    done = subprocess.run(
        [str(clean_python), "-c", script],
        cwd=root,
        env=clean_env(trained, clean_python),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert_same(answers["many"], api_answers)
    assert_same(answers["one"], api_answers[:1])


def test_mlflow_models_serve_answers_as_the_api(
    trained: dict[str, Any], clean_python: Path, rows: list[dict[str, Any]], api_answers: list[dict[str, Any]]
) -> None:
    from mlcore.serving.smoke import free_port, running_server

    port = free_port()
    model_uri = f"models:/{trained['cfg'].project.model_name}@champion"
    cmd = [str(clean_python), "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local"]
    cmd += ["-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    env = clean_env(trained, clean_python)
    with running_server(cmd, port, cwd=trained["root"], env=env, ready_path="/ping") as (base, _):
        served = httpx.post(f"{base}/invocations", json={"dataframe_records": rows}, timeout=60)
        assert served.status_code == 200, served.text
        assert_same(served.json()["predictions"], api_answers)
        bad = httpx.post(f"{base}/invocations", json={"dataframe_records": [{"nonsense": 1}]}, timeout=60)
        assert 400 <= bad.status_code < 500, bad.text
