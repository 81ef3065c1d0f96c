"""Deduplicate, then split train/validation/test with a fixed seed (stratified when asked)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sklearn.model_selection import train_test_split


def dedupe(frame: pd.DataFrame, key: Sequence[str], normalise: bool = True) -> pd.DataFrame:
    """Drop rows whose ``key`` repeats (case- and whitespace-insensitively for strings)."""
    if not key:
        return frame.reset_index(drop=True)
    keys = frame[list(key)].astype(str)
    if normalise:
        keys = keys.apply(lambda s: s.str.lower().str.split().str.join(" "))
    return frame.loc[~keys.duplicated()].reset_index(drop=True)


def split(
    frame: pd.DataFrame,
    val_size: float,
    test_size: float,
    seed: int,
    stratify: str | None = None,
    fixed_test: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return ``(train, val, test)``; ``val_size``/``test_size`` are shares of the whole.

    With ``fixed_test`` (a column name) and rows whose value there is ``"test"``, those rows are
    the test split, as the source published them; validation is then ``val_size`` of the rest.
    """
    if fixed_test and fixed_test in frame.columns and (frame[fixed_test] == "test").any():
        fixed = frame[fixed_test] == "test"
        rest, test = frame.loc[~fixed], frame.loc[fixed]
        strat = rest[stratify] if stratify else None
        train, val = train_test_split(rest, test_size=val_size, random_state=seed, stratify=strat)
        return train.reset_index(drop=True), val.reset_index(drop=True), test.reset_index(drop=True)
    if not 0 < test_size < 1 or not 0 <= val_size < 1 or val_size + test_size >= 1:
        raise ValueError(f"bad split sizes val={val_size} test={test_size}: each in (0, 1), sum below 1")
    strat = frame[stratify] if stratify else None
    rest, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=strat)
    if val_size == 0:
        return rest.reset_index(drop=True), rest.iloc[:0], test.reset_index(drop=True)
    strat = rest[stratify] if stratify else None
    train, val = train_test_split(rest, test_size=val_size / (1 - test_size), random_state=seed, stratify=strat)
    return train.reset_index(drop=True), val.reset_index(drop=True), test.reset_index(drop=True)
