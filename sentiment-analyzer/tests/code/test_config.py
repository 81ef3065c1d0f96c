"""Every config option composes; params.yaml has the composed shape; Hydra stays quiet."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlcore.data.acquire import KINDS
from mlcore.foundation.config import compose, to_dict

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
OPTIONS = [
    (group, path.stem)
    for group in ("data", "model", "experiment", "debug")
    for path in sorted((CONFIGS / group).glob("*.yaml"))
]


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes(group: str, option: str) -> None:
    cfg = compose(CONFIGS, [f"{group}={option}"])
    assert cfg.project.model_name
    assert cfg.data.source.kind in KINDS


def test_params_yaml_has_the_composed_shape() -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    composed = to_dict(compose(CONFIGS))
    assert set(params) == set(composed)
    for group in ("data", "model", "train", "serve", "monitor", "paths", "project"):
        assert set(params[group]) == set(composed[group]), f"params.yaml is stale in {group}: run `make params`"


def test_hydra_never_changes_directory_or_writes_outputs() -> None:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        hydra_cfg = hydra_compose(config_name="config", return_hydra_config=True).hydra
    assert hydra_cfg.run.dir == "."
    assert hydra_cfg.output_subdir is None
    assert hydra_cfg.job.chdir is False
    raw = yaml.safe_load((CONFIGS / "config.yaml").read_text())
    assert raw["defaults"][-1] == {"experiment": None}


def test_bad_override_is_reported() -> None:
    from hydra.errors import HydraException

    with pytest.raises(HydraException):
        compose(CONFIGS, ["model=does_not_exist"])
