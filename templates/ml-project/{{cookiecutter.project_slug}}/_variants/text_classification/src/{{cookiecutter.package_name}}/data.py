"""Parse the raw data into the canonical table: one row per message, columns ``text`` and ``label``.

Project-owned: adapt ``parse_raw`` to your source's format; keep the output columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig


def parse_csv(path: Path, text_column: str, label_column: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {text_column, label_column} - set(frame.columns)
    if missing:
        raise ValueError(f"{path.name} lacks column(s) {sorted(missing)}; set data.text_column / data.label_column")
    return canonical(frame[text_column], frame[label_column])


def canonical(text: pd.Series | list[str], label: pd.Series | list[str]) -> pd.DataFrame:
    """The canonical table: stripped text, lower-case labels, fresh index."""
    frame = pd.DataFrame({"text": pd.Series(text, dtype=object), "label": pd.Series(label, dtype=object)})
    frame["text"] = frame["text"].astype(str).str.strip()
    frame["label"] = frame["label"].astype(str).str.strip().str.lower()
    return frame.reset_index(drop=True)


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format == "csv":
        return parse_csv(path, cfg.text_column, cfg.label_column)
    raise ValueError(f"data.format={cfg.format!r} is not supported; use csv")
