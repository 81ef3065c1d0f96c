"""Declarative checks of a dataset against the schema in ``configs/data/``.

Schema (all keys optional except ``columns``)::

    columns:                 # name -> {type: string|int|float|category|datetime, min, max,
      text: {type: string, not_empty: true}          #  allowed: [...], nullable: false}
      date: {type: datetime, min: 1997-01-01}        #  (datetime bounds as dates)
      label: {type: category, allowed: [ham, spam]}
    min_rows: 100
    max_duplicate_share: 0.2   # share of rows duplicated on ``unique_key``
    unique_key: [text]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

TYPES = {
    "string": pd.api.types.is_object_dtype,
    "category": lambda s: pd.api.types.is_object_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype),
    "int": pd.api.types.is_integer_dtype,
    "float": pd.api.types.is_numeric_dtype,
    "datetime": pd.api.types.is_datetime64_any_dtype,
}


@dataclass
class ValidationReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.errors, "warnings": self.warnings, "stats": self.stats}


def check_frame(frame: pd.DataFrame, schema: Mapping[str, Any]) -> ValidationReport:
    """Check ``frame`` against ``schema``; pure, returns every problem found."""
    report = ValidationReport()
    columns: Mapping[str, Mapping[str, Any]] = schema.get("columns", {})
    report.stats["rows"] = int(len(frame))
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        report.errors.append(f"missing columns: {missing}")
    for name, rule in columns.items():
        if name not in frame.columns:
            continue
        col = frame[name]
        kind = rule.get("type", "string")
        if kind not in TYPES:
            report.errors.append(f"{name}: unknown type {kind!r} in schema (use one of {sorted(TYPES)})")
        elif not TYPES[kind](col):
            report.errors.append(f"{name}: expected {kind}, found dtype {col.dtype}")
        nulls = int(col.isna().sum())
        report.stats[f"{name}.missing"] = nulls
        if nulls and not rule.get("nullable", False):
            report.errors.append(f"{name}: {nulls} missing value(s)")
        present = col.dropna()
        if rule.get("not_empty"):
            empty = int((present.astype(str).str.strip() == "").sum())
            if empty:
                report.errors.append(f"{name}: {empty} empty value(s)")
        if "allowed" in rule:
            allowed = {str(v) for v in rule["allowed"]}
            unknown = sorted(set(present.astype(str)) - allowed)
            if unknown:
                report.errors.append(f"{name}: values outside {sorted(allowed)}: {unknown[:10]}")
            report.stats[f"{name}.counts"] = {str(k): int(v) for k, v in present.astype(str).value_counts().items()}
        numeric = pd.api.types.is_numeric_dtype(present)
        dated = pd.api.types.is_datetime64_any_dtype(present)
        for bound in ("min", "max"):
            if bound not in rule or not (numeric or dated):
                continue
            limit = pd.Timestamp(rule[bound]) if dated else rule[bound]
            bad = int((present < limit).sum() if bound == "min" else (present > limit).sum())
            if bad:
                report.errors.append(f"{name}: {bad} value(s) {'below' if bound == 'min' else 'above'} {rule[bound]}")
    if len(frame) < schema.get("min_rows", 1):
        report.errors.append(f"only {len(frame)} rows; schema needs at least {schema.get('min_rows')}")
    key = list(schema.get("unique_key", []))
    if key and not missing:
        dup = int(frame.duplicated(subset=key).sum())
        share = dup / max(len(frame), 1)
        report.stats["duplicates"] = dup
        limit = schema.get("max_duplicate_share", 1.0)
        if dup:
            message = f"{dup} duplicate row(s) on {key} ({share:.1%}; limit {limit:.0%}); split removes them"
            (report.errors if share > limit else report.warnings).append(message)
    return report


def leakage(train: pd.DataFrame, test: pd.DataFrame, key: list[str]) -> int:
    """Rows of ``test`` whose ``key`` also appears in ``train`` (must be 0)."""
    train_keys = set(map(tuple, train[key].astype(str).to_numpy()))
    return int(sum(tuple(row) in train_keys for row in test[key].astype(str).to_numpy()))
