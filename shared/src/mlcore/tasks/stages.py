"""The model stages, once for every project: train, evaluate, baselines, promote, and the sweep's
trial with its bookkeeping (the data stages, ingest, validate and split, are ``mlcore.data.stages``).

Each is a thin shell: it reads the splits, calls the project's ``Task`` and does the I/O (MLflow,
DVC outputs, plots). A project's ``pipeline/*.py`` only binds these to its task and its root.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from mlcore.data.stages import SPLITS, split_path
from mlcore.foundation.config import to_dict
from mlcore.foundation.io import read_json, write_json, write_text
from mlcore.foundation.progress import say, step
from mlcore.foundation.served import ServedModel, ServedPredictor
from mlcore.lifecycle import runs, tracking
from mlcore.tasks.base import Scored, Task
from mlcore.tasks.global_explanations import global_explanations

if TYPE_CHECKING:
    from mlcore.lifecycle.promotion import Decision

SWEEP_PARENT_ENV = "ML_SWEEP_PARENT_RUN_ID"
EXPLAIN_ITEMS = 100  # test items explained at evaluation for the global view (evaluate.explain_items)


def read_splits(cfg: DictConfig, root: Path, names: tuple[str, ...] = SPLITS) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(split_path(cfg, root, name)) for name in names}


def with_extra_rows(train: pd.DataFrame, cfg: DictConfig, root: Path) -> pd.DataFrame:
    """The train split plus the rows of ``rollout.extra_data`` (parquet files with the split's
    columns: labelled feedback that ``retrain-on-drift`` wrote); validation and test stay as they
    are, so the candidate is compared with the champion on the same data."""
    extra = list((cfg.get("rollout") or {}).get("extra_data") or [])
    if not extra:
        return train
    frames = [pd.read_parquet(Path(root) / path) for path in extra]
    for path, frame in zip(extra, frames, strict=True):
        missing = set(train.columns) - set(frame.columns)
        if missing:
            raise ValueError(f"rollout.extra_data {path} lacks the train split's columns {sorted(missing)}")
    added = pd.concat([frame[train.columns] for frame in frames], ignore_index=True)
    say("train", f"train split {len(train)} rows + {len(added)} from rollout.extra_data")
    return pd.concat([train, added], ignore_index=True)


def train(task: Task, cfg: DictConfig, root: Path) -> dict[str, Any]:
    """Fit, profile the reference, log the run and the model, copy it to ``paths.model``."""
    from mlcore.monitoring.drift import build_profile
    from mlcore.tasks.metrics import write_plots

    tracking.configure(root, cfg.project.experiment)
    splits = read_splits(cfg, root, ("train", "val"))
    splits["train"] = with_extra_rows(splits["train"], cfg, root)
    if cfg.get("trainer") and cfg.trainer.get("checkpoint_dir"):  # relative to the project, like every path
        cfg.trainer.checkpoint_dir = str(Path(root) / cfg.trainer.checkpoint_dir)
    fitted = task.fit(cfg, splits["train"], splits["val"])
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 logs and writes
        return {}
    if fitted.tables:
        write_plots(fitted.tables, Path(root) / cfg.paths.plots)
    with step("train", "reference profile for drift"):
        ref = task.reference(fitted, cfg, splits["train"], splits["val"])
        profile = build_profile(ref.frame, categorical=ref.categorical, seed=ref.seed)
    input_example = task.input_example(cfg, splits["train"], splits["val"])
    with tempfile.TemporaryDirectory() as tmp:
        run_info = tracking.log_training_run(
            root=root,
            config=to_dict(cfg),
            predictor=fitted.predictor,
            native_model=fitted.model,
            served=task.served,
            metrics=fitted.metrics,
            profile=profile,
            metadata={**task.metadata(fitted, cfg), "task_type": cfg.project.task_type},
            input_example=input_example,
            data_files={name: split_path(cfg, root, name) for name in SPLITS},
            local_dir=Path(root) / cfg.paths.model,
            run_name=cfg.model.name,
            extras=ref.extras,
            child_runs=fitted.child_runs,
            history=fitted.history,
            shipped_files=compiled_fast_path(task.served, fitted.predictor, input_example, Path(tmp)),
        )
    write_json(run_info, Path(root) / cfg.paths.run_info)
    say("train", f"run {run_info['run_id'][:8]}: {fitted.summary}")
    return run_info


def compiled_fast_path(
    served: ServedModel, predictor: ServedPredictor, input_example: pd.DataFrame, folder: Path
) -> list[str]:
    """The predictor's compiled fast path written into ``folder`` (shipped with the model), when it
    answers the input example exactly as the native model does through the pyfunc flavor; else []."""
    from mlcore import fastpath
    from mlcore.lifecycle import pyfunc

    as_pyfunc = pyfunc.SuiteModel(served, predictor)
    return fastpath.save_checked(predictor, lambda: as_pyfunc.predict(input_example).to_dict(orient="records"), folder)


def score(task: Task, model_dir: Path, test: pd.DataFrame, cfg: DictConfig) -> dict[str, float]:
    """Test metrics of the model in ``model_dir`` (promotion re-scores the champion with this)."""
    return task.score(task.served.load(model_dir), test, cfg).metrics


def evaluate(task: Task, cfg: DictConfig, root: Path) -> dict[str, float]:
    """Score the trained model on the test split, assess it further, write metrics and plots,
    and log both to the training run."""
    from mlcore.tasks.metrics import write_plots

    tracking.configure(root, cfg.project.experiment)
    splits = read_splits(cfg, root)
    predictor = task.served.load(Path(root) / cfg.paths.model)
    result: Scored = task.score(predictor, splits["test"], cfg) | task.assess(predictor, cfg, splits)
    explain_items = int(OmegaConf.select(cfg, "evaluate.explain_items", default=EXPLAIN_ITEMS))
    with step("evaluate", f"explaining {explain_items} test items with the served predictor"):
        result = result | global_explanations(predictor, task.served, splits["test"], explain_items)
    result = result | slice_metrics(predictor, task.served, splits["test"], cfg)
    written = write_plots(result.tables, Path(root) / cfg.paths.plots)
    tracking.record_evaluation(Path(root) / cfg.paths.run_info, result.metrics, Path(root) / cfg.paths.metrics, written)
    say("evaluate", "  ".join(f"{k}={result.metrics[k]:.4f}" for k in task.headline))
    return result.metrics


def slice_metrics(predictor: Any, served: ServedModel, test: pd.DataFrame, cfg: DictConfig) -> Scored:
    """Metrics per slice of the test split (``evaluate.slices``: the truth column, the answer's
    field, the metric and the slicings), scored by the served predictor; the worst slice's value
    as ``test_worst_slice_<metric>`` (a gate can read it) and the table as ``slices``."""
    from mlcore.tasks.slices import Slicing, row_scores, slice_table, worst

    spec = OmegaConf.select(cfg, "evaluate.slices", default=None)
    if not spec or not spec.get("by"):
        return Scored()
    rows = test.head(int(OmegaConf.select(cfg, "evaluate.slice_rows", default=2000)))
    slicings = [Slicing.of(to_dict(by)) for by in spec.by]
    for missing in [s for s in slicings if s.column not in rows.columns]:
        say("evaluate", f"slice {missing.name!r} left out: the test split has no column {missing.column!r}")
    slicings = [s for s in slicings if s.column in rows.columns]
    if not slicings:
        return Scored()
    with step("evaluate", f"metrics per slice on {len(rows)} test rows"):
        items = [served.item.model_validate(row) for row in served.request_items(rows)]
        answers = [answer for i in range(0, len(items), 200) for answer in predictor.predict(items[i : i + 200])]
        scores = row_scores(answers, rows[spec.truth].tolist(), spec.answer, spec.metric)
        table = slice_table(rows, scores, slicings, spec.metric)
    bad = worst(table, spec.metric)
    if bad is None:
        return Scored({}, {"slices": table})
    say(
        "evaluate",
        f"worst slice: {bad['slice']} = {bad['group']} ({spec.metric} {bad[spec.metric]:.4f}, {bad['rows']} rows)",
    )
    return Scored({f"test_worst_slice_{spec.metric}": float(bad[spec.metric])}, {"slices": table})


def trial(task: Task, cfg: DictConfig, root: Path) -> float:
    """One sweep trial (inside an MLflow run): fit, score on validation, log, return the metric."""
    splits = read_splits(cfg, root, ("train", "val"))
    fitted = task.fit(cfg, splits["train"], splits["val"])
    return tracking.log_trial(to_dict(cfg.model), fitted.metrics, cfg.optimized_metric)


def run_info(cfg: DictConfig, root: Path) -> dict[str, Any]:
    return read_json(Path(root) / cfg.paths.run_info)


def baselines(task: Task, cfg: DictConfig, root: Path) -> dict[str, Any]:
    """Train each model of ``cfg.train.baselines`` (name -> model config) on the same splits,
    score it on the test split, log it as an MLflow run tagged with the candidate's run, and write
    ``paths.baselines``: each baseline's test metrics and ``test_margin_over_baselines``,
    the candidate's primary metric minus the best baseline's (what a promotion gate can require)."""
    import mlflow
    from omegaconf import OmegaConf

    tracking.configure(root, cfg.project.experiment)
    splits = read_splits(cfg, root)
    candidate = read_json(Path(root) / cfg.paths.metrics)
    info = run_info(cfg, root)
    primary = cfg.train.promotion.primary_metric
    sign = 1.0 if cfg.train.promotion.higher_is_better else -1.0
    out: dict[str, Any] = {"candidate": {primary: candidate[primary]}, "baselines": {}}
    for name, model_cfg in (cfg.train.get("baselines") or {}).items():
        variant = cfg.copy()
        OmegaConf.set_struct(variant, False)
        variant.model = model_cfg
        fitted = task.fit(variant, splits["train"], splits["val"])
        scored = task.score(fitted.predictor, splits["test"], variant)
        with runs.owned_run(run_name=f"baseline-{name}"):
            mlflow.set_tags({"baseline_of": info["run_id"], "role": "baseline"})
            mlflow.log_params({k: str(v)[:250] for k, v in tracking.flatten(to_dict(model_cfg)).items()})
            for row in fitted.history:
                mlflow.log_metrics(
                    {f"epoch_{k}": float(v) for k, v in row.items() if k != "epoch"}, step=int(row["epoch"])
                )
            mlflow.log_metrics({**fitted.metrics, **scored.metrics})
        out["baselines"][name] = {k: scored.metrics[k] for k in task.headline if k in scored.metrics}
        say("baselines", f"{name}: " + "  ".join(f"{k}={v:.4f}" for k, v in out["baselines"][name].items()))
    if out["baselines"]:
        best = max(sign * b[primary] for b in out["baselines"].values())
        out["test_margin_over_baselines"] = sign * candidate[primary] - best
        say(
            "baselines",
            f"candidate {primary}={candidate[primary]:.4f}, margin over the best baseline {out['test_margin_over_baselines']:+.4f}",
        )
    write_json(out, Path(root) / cfg.paths.baselines)
    return out


def promotion_metrics(cfg: DictConfig, root: Path) -> dict[str, float]:
    """What promotion judges: the evaluation metrics, plus the margin over the baselines when the
    project trains baselines (``train.baselines``)."""
    metrics = read_json(Path(root) / cfg.paths.metrics)
    if cfg.train.get("baselines"):
        compared = read_json(Path(root) / cfg.paths.baselines)
        if "test_margin_over_baselines" in compared:
            metrics["test_margin_over_baselines"] = compared["test_margin_over_baselines"]
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}


def promote(task: Task, cfg: DictConfig, root: Path) -> Decision:
    """Register the candidate and move ``@champion`` (or ``rollout.register_as``) only past the
    gates and the current champion re-scored on the same test split; record the decision on the
    training run and in ``paths.promotion``, and export the champion for serving."""
    import mlflow

    from mlcore.lifecycle import registry
    from mlcore.lifecycle.promotion import gates_from_config, register_and_promote, write_decision

    tracking.configure(root, cfg.project.experiment)
    info = run_info(cfg, root)
    test = read_splits(cfg, root, ("test",))["test"]
    rules = cfg.train.promotion

    def evaluate_champion(model_uri: str) -> dict[str, float]:
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            return score(task, Path(local), test, cfg)

    with step("promote", f"register {cfg.project.model_name} and decide on @{cfg.rollout.register_as}"):
        decision = register_and_promote(
            model_name=cfg.project.model_name,
            model_uri=info["model_uri"],
            candidate_metrics=promotion_metrics(cfg, root),
            evaluate_champion=evaluate_champion,
            gates=gates_from_config(to_dict(rules.gates)),
            primary_metric=rules.primary_metric,
            higher_is_better=rules.higher_is_better,
            register_as=cfg.rollout.register_as,
        )
    with runs.owned_run(run_id=info["run_id"]):
        mlflow.set_tags(
            {
                "promotion.decision": "promoted" if decision.promoted else "rejected",
                "promotion.reason": decision.reason,
                "registered.version": decision.version,
            }
        )
    write_decision(decision, Path(root) / cfg.paths.promotion)
    with step("promote", f"model card of version {decision.version}"):
        card_version(cfg, root, decision, info, len(test))
    if decision.promoted or not (Path(root) / cfg.paths.export).exists():
        try:
            registry.download_champion(cfg.project.model_name, Path(root) / cfg.paths.export)
        except Exception as exc:  # noqa: BLE001 - no champion yet: nothing to export
            say("promote", f"no champion to export yet ({exc})")
    verdict = f"PROMOTED to @{cfg.rollout.register_as}" if decision.promoted else "kept as a candidate"
    say("promote", f"version {decision.version} {verdict}: {decision.reason}")
    return decision


def card_facts(cfg: DictConfig, root: Path, decision: Decision, info: dict[str, Any], test_rows: int) -> Any:
    """What the model card of the registered version says, read from the stages' outputs."""
    from mlcore.lifecycle.artifacts import reference_profile
    from mlcore.lifecycle.model_card import CardFacts

    root = Path(root)
    validation = read_json(root / cfg.paths.validation) if (root / cfg.paths.validation).exists() else {}
    terms = root / cfg.paths.plots / "explanation_terms.csv"
    explanation = pd.read_csv(terms).head(15).to_dict(orient="records") if terms.exists() else []
    sliced = root / cfg.paths.plots / "slices.csv"
    slices = pd.read_csv(sliced).head(12).to_dict(orient="records") if sliced.exists() else []
    try:
        signals = list(reference_profile(root / cfg.paths.model).get("features", []))
    except FileNotFoundError:
        signals = []
    data = to_dict(cfg.data)
    return CardFacts(
        name=cfg.project.model_name,
        version=str(decision.version),
        task_type=cfg.project.task_type,
        run_id=info["run_id"],
        decision=("promoted" if decision.promoted else "kept as a candidate") + f": {decision.reason}",
        data={"name": data.get("name", ""), "source": data.get("source", {})},
        data_stats=validation.get("stats", {}),
        test_rows=test_rows,
        metrics=read_json(root / cfg.paths.metrics),
        explanation=explanation,
        slices=slices,
        drift_signals=signals,
        intended_use=str(OmegaConf.select(cfg, "project.intended_use", default="") or ""),
        limitations=list(OmegaConf.select(cfg, "project.limitations", default=[]) or []),
    )


def card_version(cfg: DictConfig, root: Path, decision: Decision, info: dict[str, Any], test_rows: int) -> Path:
    """Write the version's model card (``reports/model_card.md`` and ``.html``), log both on the
    training run (``model_card/``) and link them from the version's description in the registry."""
    import mlflow

    from mlcore.lifecycle import model_card

    facts = card_facts(cfg, root, decision, info, test_rows)
    markdown = model_card.render(facts)
    folder = Path(root) / cfg.paths.reports
    md = write_text(folder / "model_card.md", markdown)
    html = write_text(folder / "model_card.html", model_card.to_html(markdown, f"{facts.name} v{facts.version}"))
    with runs.owned_run(run_id=info["run_id"]):
        mlflow.log_artifact(str(md), artifact_path="model_card")
        mlflow.log_artifact(str(html), artifact_path="model_card")
    if decision.version:
        link = f"runs:/{info['run_id']}/model_card/model_card.html"
        headline = [(k, v) for k, v in facts.metrics.items() if k.startswith("test_")][:3]
        summary = ", ".join(f"{k.removeprefix('test_')} {v:.4f}" for k, v in headline)
        mlflow.MlflowClient().update_model_version(
            cfg.project.model_name, str(decision.version), description=f"Model card: {link} ({summary})"
        )
    return html


def sweep_trial(task: Task, cfg: DictConfig, root: Path) -> float:
    """One trial of ``make sweep`` (Hydra multirun, Optuna): a child run of the sweep's parent run
    (made by the first trial, found by the others through ``SWEEP_PARENT_ENV``); the best trial so
    far is recorded on the parent and in ``reports/sweep_best.yaml``."""
    import mlflow

    tracking.configure(root, cfg.project.experiment)
    parent = os.environ.get(SWEEP_PARENT_ENV)
    if parent is None:
        with runs.owned_run(run_name=f"sweep-{cfg.project.name}") as run:
            mlflow.set_tag("sweep", "optuna")
        parent = os.environ[SWEEP_PARENT_ENV] = run.info.run_id
    with runs.owned_run(run_id=parent), runs.owned_run(nested=True, run_name="trial") as child:
        value = trial(task, cfg, root)
        mlflow.set_tag("mlflow.parentRunId", parent)
    best = record_best_trial(parent, cfg, root, value, child.info.run_id)
    print(f"[sweep] trial {child.info.run_id[:8]}: {cfg.optimized_metric}={value:.4f} (best {best:.4f})", flush=True)
    return value


def record_best_trial(parent: str, cfg: DictConfig, root: Path, value: float, run_id: str) -> float:
    """The best objective so far: this trial's when it beats the parent run's record (then logged
    there and written to ``reports/sweep_best.yaml``)."""
    import mlflow
    import yaml

    client = mlflow.MlflowClient()
    best = client.get_run(parent).data.metrics.get(f"best_{cfg.optimized_metric}")
    maximize = cfg.get("optimized_direction", "maximize") == "maximize"
    if best is not None and not (value > best if maximize else value < best):
        return best
    client.log_metric(parent, f"best_{cfg.optimized_metric}", value)
    client.set_tag(parent, "best_trial_run_id", run_id)
    out = Path(root) / cfg.paths.reports / "sweep_best.yaml"
    best_cfg = {
        "optimized_metric": cfg.optimized_metric,
        "value": value,
        "trial_run_id": run_id,
        "model": to_dict(cfg.model),
    }
    write_text(out, yaml.safe_dump(best_cfg, sort_keys=False))
    client.log_artifact(parent, str(out))
    return value
