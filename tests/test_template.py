"""The cookiecutter template: bake matrix, exact file set, invalid answers, baked projects work."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from suite import TEMPLATE, bake

TASK_TYPES = json.loads((TEMPLATE / "cookiecutter.json").read_text())[
    "task_type"
]  # a choice list: the one home of the task types
PACKAGE = "{package}"
SLUG = "{slug}"
COMMON = {
    ".cruft.json",
    ".dockerignore",
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvcignore",
    ".github/workflows/cd.yml",
    ".github/workflows/ci.yml",
    ".gitignore",
    ".pre-commit-config.yaml",
    "Dockerfile",
    "Makefile",
    "README.md",
    "configs/config.yaml",
    "deploy/alerts.yaml",
    "deploy/alertmanager.yml",
    "deploy/grafana/dashboard.json",
    "deploy/systemd/{slug}-monitor.service",
    "deploy/systemd/{slug}-monitor.timer",
    "deploy/inferenceservice.yaml",
    "deploy/kubernetes.yaml",
    "deploy/batch.yaml",
    "configs/data/default.yaml",
    "configs/data/sample.yaml",
    "configs/debug/default.yaml",
    "configs/experiment/example.yaml",
    "configs/hparams_search/optuna.yaml",
    "configs/hydra/default.yaml",
    "configs/model/default.yaml",
    "configs/monitor/default.yaml",
    "configs/rollout/default.yaml",
    "configs/serve/default.yaml",
    "configs/task/default.yaml",
    "configs/train/default.yaml",
    "data/sample/README.md",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    "src/{package}/__init__.py",
    "src/{package}/api.py",
    "src/{package}/data.py",
    "src/{package}/features.py",
    "src/{package}/model.py",
    "src/{package}/monitor.py",
    "src/{package}/rollout.py",
    "src/{package}/pipeline/__init__.py",
    "src/{package}/pipeline/evaluate.py",
    "src/{package}/pipeline/ingest.py",
    "src/{package}/pipeline/promote.py",
    "src/{package}/pipeline/split.py",
    "src/{package}/pipeline/sweep.py",
    "src/{package}/pipeline/train.py",
    "src/{package}/pipeline/validate.py",
    "src/{package}/predictor.py",
    "src/{package}/schemas.py",
    "src/{package}/smoke.py",
    "src/{package}/app.py",
    "src/{package}/task.py",
    "tests/code/test_config.py",
    "tests/code/test_readme.py",
    "tests/code/test_task.py",
    "tests/code/test_transforms.py",
    "tests/conftest.py",
    "tests/data/test_dataset.py",
    "tests/deploy/alerts.test.yaml",
    "tests/deploy/conftest.py",
    "tests/deploy/test_alerts.py",
    "tests/deploy/test_dashboard.py",
    "tests/deploy/test_schedule.py",
    "tests/deploy/test_image.py",
    "tests/deploy/test_kubernetes.py",
    "tests/model/test_api.py",
    "tests/model/test_behaviour.py",
    "tests/model/test_drift.py",
    "tests/model/fuzz_checks.py",
    "tests/model/schemathesis.toml",
    "tests/model/test_fuzz.py",
    "tests/model/test_model.py",
    "tests/model/test_open_inference.py",
    "tests/model/test_pyfunc.py",
    "tests/model/test_score.py",
    "tests/model/test_explain.py",
    "tests/model/test_app.py",
}
PER_TASK = {
    "text_classification": {
        "configs/model/nb.yaml",
        "configs/model/svm.yaml",
        "data/sample/messages.csv",
        "tests/model/test_native_flavor.py",
    },
    "tabular_regression": {
        "configs/model/ridge.yaml",
        "data/sample/diamonds.csv",
        "tests/model/test_native_flavor.py",
    },
    "clustering": {
        "configs/model/agglomerative.yaml",
        "configs/model/gmm.yaml",
        "data/sample/faithful.csv",
        "src/{package}/pipeline/featurize.py",
        "src/{package}/pipeline/profile.py",
        "tests/model/test_segments.py",
        "tests/model/test_native_flavor.py",
    },
    "image_classification": {
        "configs/data/fashion_mnist.yaml",
        "configs/data/fashion_mnist_online.yaml",
        "configs/data/mnist_5k.yaml",
        "configs/model/transfer.yaml",
        "configs/model/cnn.yaml",
        "configs/model/logistic.yaml",
        "configs/trainer/default.yaml",
        "configs/trainer/gpu.yaml",
        "configs/experiment/gpu.yaml",
        "data/sample/fashion-mnist-sample.tar",
        "src/{package}/pipeline/baselines.py",
        "src/{package}/page.py",
        "tests/model/test_upload.py",
        "tests/model/test_page.py",
        "tests/model/test_ddp.py",
        "tests/model/test_faithfulness.py",
    },
    "text_transformer_classification": {
        "configs/data/vader_movies.yaml",
        "configs/data/rotten_tomatoes.yaml",
        "configs/data/sentence_polarity_online.yaml",
        "configs/model/transformer.yaml",
        "configs/model/transformer_frozen.yaml",
        "configs/model/tfidf.yaml",
        "configs/trainer/default.yaml",
        "configs/trainer/gpu.yaml",
        "configs/experiment/gpu.yaml",
        "data/sample/movie-snippets.csv",
        "data/sample/domains.csv",
        "src/{package}/pipeline/baselines.py",
        "src/{package}/pipeline/domains.py",
        "tests/model/test_ddp.py",
        "tests/model/test_text_api.py",
        "tests/model/test_export.py",
        "tests/model/test_faithfulness.py",
    },
}
# Jinja left in a bake; `${{ ... }}` is a GitHub Actions expression (the workflows), `{{ $value }}`
# a Prometheus template (the alert rules) and `{{label}}` a Grafana legend (the dashboard), not Jinja
LEFTOVER = re.compile(r"(?<!\$)\{\{(?! \$)(?![a-z_]+\}\})|\{%|%\}|cookiecutter\.|<!-- variant:")


def baked_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module", params=TASK_TYPES)
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    task = request.param
    out = tmp_path_factory.mktemp(task)
    return task, bake({"project_name": f"Bake {task}", "task_type": task}, out)


def test_every_task_type_is_covered() -> None:
    assert set(TASK_TYPES) == set(PER_TASK)


def test_exact_file_set(baked: tuple[str, Path]) -> None:
    task, root = baked
    package = root.name.replace("-", "_")
    expected = {f.replace(PACKAGE, package).replace(SLUG, root.name) for f in COMMON | PER_TASK[task]}
    assert baked_files(root) == expected


def test_nothing_left_unrendered(baked: tuple[str, Path]) -> None:
    _, root = baked
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.parts and path.suffix not in (".csv", ".tar"):  # data, not text
            text = path.read_text(encoding="utf-8")
            match = LEFTOVER.search(text)
            assert match is None, f"{path.relative_to(root)}: {text[max(0, match.start() - 40) : match.end() + 40]!r}"
        assert "{{" not in path.name and "_variants" not in path.parts


def test_the_fuzz_settings_parse_and_name_the_task_s_exceptions(baked: tuple[str, Path]) -> None:
    import tomllib

    task, root = baked
    settings = tomllib.loads((root / "tests/model/schemathesis.toml").read_text(encoding="utf-8"))
    assert (root / settings["hooks"]).is_file() and settings["checks"]["positive_data_acceptance"]["enabled"] is False
    paths = [op.get("include-path", op.get("include-path-regex")) for op in settings["operations"]]
    image = task == "image_classification"
    assert ("^/(predict|explain)$" in paths) == image, paths  # 415: bytes that are not an image
    assert ("/explain" in paths) == image, paths  # schemathesis's false negative on the upload form


def test_answers_are_recorded(baked: tuple[str, Path]) -> None:
    task, root = baked
    record = json.loads((root / ".cruft.json").read_text())
    answers = record["context"]["cookiecutter"]
    assert answers["task_type"] == task
    assert answers["project_slug"] == root.name
    assert all((root / entry).exists() for entry in record["skip"]), "skip lists a file the bake lacks"


def test_tests_show_warnings_and_fail_on_the_projects_own(baked: tuple[str, Path], tmp_path: Path) -> None:
    """A warning raised from the project's package fails its tests; third-party warnings are shown."""
    import tomllib

    _, root = baked
    package = next(p.name for p in (root / "src").iterdir() if p.is_dir() and not p.name.endswith(".egg-info"))
    filters = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert not any(f.startswith("ignore") for f in filters), filters
    probe = root / "tests" / "code" / "test_zz_warning_probe.py"
    probe.write_text(
        "import warnings\n"
        f"import {package}\n\n\n"
        "def test_warns() -> None:\n"
        f"    exec(compile('warnings.warn(\"old\", DeprecationWarning)', '{package}', 'exec'), "
        f"{{'warnings': warnings, '__name__': '{package}.probe'}})\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", str(probe.relative_to(root))], cwd=root, capture_output=True, text=True
        )
    finally:
        probe.unlink()
    assert result.returncode == 1 and "DeprecationWarning: old" in result.stdout, result.stdout[-2000:]


def test_workflows_pass_actionlint_with_shellcheck(baked: tuple[str, Path]) -> None:
    """CI and CD workflows: expressions, job outputs, action versions and the shell of every run: step."""
    _, root = baked
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "shellcheck").exists(), "actionlint checks run: steps only with shellcheck on PATH"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    workflows = sorted(str(p) for p in (root / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) == 2
    result = subprocess.run(
        [str(bin_dir / "actionlint"), *workflows], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint(baked: tuple[str, Path]) -> None:
    _, root = baked
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "Dockerfile"], cwd=root, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_baked_project_is_a_git_and_dvc_repo(baked: tuple[str, Path]) -> None:
    _, root = baked
    assert (root / ".git").is_dir()
    config = (root / ".dvc" / "config").read_text()
    assert "analytics = false" in config and "remote = local" in config


def test_generator_prints_the_next_steps(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ML_TEMPLATE_QUIET"}
    cmd = [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(tmp_path), str(TEMPLATE)]
    result = subprocess.run([*cmd, "task_type=clustering"], env=env, capture_output=True, text=True, check=True)
    assert "Next steps:" in result.stdout
    for command in ("cd ", "make install", "make test", "make train", "make serve"):
        assert command in result.stdout, command


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"project_slug": "Bad Slug!"}, "project_slug"),
        ({"package_name": "1bad-name"}, "package_name"),
        ({"python_version": "2.7"}, "python_version"),
        ({"python_version": "3.19"}, "must be one of 3.11"),
        ({"package_name": "json"}, "would shadow the module"),
        ({"package_name": "os"}, "would shadow the module"),
        ({"package_name": "mlflow"}, "would shadow the module"),
        ({"package_name": "sklearn"}, "would shadow the module"),
        ({"package_name": "class"}, "Python keyword"),
        ({"package_name": "import"}, "Python keyword"),
        ({"project_name": "dvc"}, "would shadow the module"),  # slug and package default to dvc
        ({"project_name": "{{ 7*7 }}"}, "template syntax"),
        ({"description": "{% if 1 %}x{% endif %}"}, "template syntax"),
        ({"project_name": "a" * 300}, "use at most 64"),
    ],
)
def test_invalid_answers_stop_with_one_line(answers: dict[str, str], message: str, tmp_path: Path) -> None:
    """Each refusal is one line saying what is wrong and what would work: no traceback."""
    args = [f"{k}={v}" for k, v in answers.items()]
    cmd = [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(tmp_path), str(TEMPLATE), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR:") and message in lines[0], lines
    assert not any(tmp_path.iterdir()), "a half-generated project was left behind"


def test_quotes_and_backslashes_in_free_text_are_escaped_where_they_land(tmp_path: Path) -> None:
    import ast
    import tomllib
    import warnings

    description, author = 'Say "hi" \\ to <b>me</b> *now* "quoted" \\', 'O"Brien \\'
    cmd = [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(tmp_path), str(TEMPLATE)]
    answers = ["project_name=Quote Test", f"description={description}", f"author={author}"]
    subprocess.run([*cmd, *answers], capture_output=True, text=True, check=True)
    root = tmp_path / "quote-test"
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["description"] == description and project["authors"] == [{"name": author}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unescaped backslash is a SyntaxWarning/DeprecationWarning: fail
        docstring = ast.get_docstring(ast.parse((root / "src" / "quote_test" / "__init__.py").read_text()))
    assert docstring == f"Quote Test: {description}"
    assert "\\<b\\>me\\</b\\> \\*now\\*" in (root / "README.md").read_text()  # shown as typed, not as HTML


def test_an_unknown_task_type_is_refused_by_the_choice_list(tmp_path: Path) -> None:
    """cookiecutter validates a choice itself; on the command line it answers with its own
    ValueError (a traceback whose last line names the choices), and generates nothing."""
    cmd = [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(tmp_path), str(TEMPLATE)]
    result = subprocess.run([*cmd, "task_type=time_travel"], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "time_travel provided for choice variable task_type" in last and all(t in last for t in TASK_TYPES), last
    assert not any(tmp_path.iterdir()), "a half-generated project was left behind"


def test_a_variant_never_overwrites_a_base_file(tmp_path: Path) -> None:
    import shutil

    template = tmp_path / "template"
    shutil.copytree(TEMPLATE, template)
    variant = next((template / "{{cookiecutter.project_slug}}" / "_variants").iterdir())
    (variant / "Makefile").write_text("# a variant's own Makefile\n")
    cmd = [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(tmp_path / "out"), str(template)]
    result = subprocess.run([*cmd, f"task_type={variant.name}"], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "would overwrite base files ['Makefile']" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_baked_project_passes_its_own_lint(baked: tuple[str, Path]) -> None:
    _, root = baked
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["make", "--no-print-directory", "lint"], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.slow
def test_baked_project_passes_its_own_tests(baked: tuple[str, Path]) -> None:
    """A fresh bake passes its own tests, the slow ones (the trained pipeline, servers, images)
    aside: the suite's projects are the same files under other names (sync check) and run every
    tier, and test_text_project_runs_dvc_repro_and_serves trains a fresh bake."""
    _, root = baked
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "MLFLOW_TRACKING"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-m", "not slow"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


@pytest.mark.slow
def test_text_project_runs_dvc_repro_and_serves(tmp_path: Path) -> None:
    from mlcore.serving.smoke import free_port, running_server

    root = bake({"project_name": "Pipeline Check", "task_type": "text_classification"}, tmp_path)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ML_", "MLFLOW_TRACKING"))},
        "PYTHONPATH": str(root / "src"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    dvc = str(Path(sys.executable).parent / "dvc")
    first = subprocess.run([dvc, "repro"], cwd=root, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert json.loads((root / "reports" / "promotion.json").read_text())["promoted"]
    second = subprocess.run([dvc, "repro"], cwd=root, env=env, capture_output=True, text=True, check=False)
    assert "Data and pipelines are up to date" in second.stdout, second.stdout
    port = free_port()
    cmd = [sys.executable, "-m", "pipeline_check.api", f"serve.port={port}"]
    with running_server(cmd, port, cwd=root, env=env) as (base, _):
        response = httpx.post(f"{base}/predict", json={"text": "WINNER! claim your free prize now"})
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == "1"
        assert httpx.post(f"{base}/predict", json={"txt": "typo"}).status_code == 422


@pytest.mark.slow
def test_a_project_baked_outside_the_suite_installs_and_tests_on_its_own(tmp_path: Path) -> None:
    """As a new user: cookiecutter into a folder of their own, then the README's `make install`
    (its own .venv: the pins and mlcore's wheel vendored at bake time) and `make test`, its fast
    tier: the slow tier (training, servers, images) runs on the same files in the suite's five
    projects (sync check), and here it took over 4 of this section's minutes."""
    import tomllib

    cmd = [str(Path(sys.executable).parent / "cookiecutter"), "--no-input", "-o", str(tmp_path), str(TEMPLATE)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ML_", "MLFLOW_TRACKING", "VIRTUAL_ENV"))}
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if not p.startswith(str(Path(sys.executable).parent)))
    baked = subprocess.run(
        [*cmd, "project_name=Standalone Check", "task_type=tabular_regression"],
        env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert baked.returncode == 0, baked.stderr[-2000:]
    root = tmp_path / "standalone-check"
    version = tomllib.loads((TEMPLATE.parents[1] / "shared" / "pyproject.toml").read_text())["project"]["version"]
    assert sorted(p.name for p in (root / "vendor").iterdir()) == [f"mlsuite_core-{version}-py3-none-any.whl"]
    assert all(
        (root / pins).exists() for pins in ("constraints.txt", "requirements-serve.txt", "requirements-spark.txt")
    )
    fast = {**env, "PYTEST_ADDOPTS": "-m 'not slow'"}
    for target in ("install", "test"):
        done = subprocess.run(
            ["make", "--no-print-directory", target], cwd=root, env=fast, capture_output=True, text=True, timeout=1500
        )
        assert done.returncode == 0, f"make {target}: " + done.stdout[-3000:] + done.stderr[-3000:]
    assert (root / ".venv" / "bin" / "python").exists() and " passed" in done.stdout
    pip = subprocess.run([str(root / ".venv" / "bin" / "pip"), "show", "mlsuite-core"], capture_output=True, text=True)
    assert f"Version: {version}" in pip.stdout and "Editable" not in pip.stdout
