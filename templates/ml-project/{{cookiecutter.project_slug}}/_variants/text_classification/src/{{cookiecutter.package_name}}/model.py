"""The estimator: features + a linear classifier chosen by ``configs/model``. Project-owned."""

from __future__ import annotations

from mlcore.fastpath.columns import TextColumn
from omegaconf import DictConfig
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from .features import build_features


def build_model(cfg: DictConfig, seed: int = 42) -> Pipeline:
    if cfg.estimator == "logreg":
        clf = LogisticRegression(C=cfg.C, class_weight=cfg.class_weight, max_iter=cfg.max_iter, random_state=seed)
    elif cfg.estimator == "nb":
        clf = MultinomialNB(alpha=cfg.alpha)
    elif cfg.estimator == "svm":
        clf = CalibratedClassifierCV(LinearSVC(C=cfg.C, class_weight=cfg.class_weight, random_state=seed), cv=3)
    else:
        raise ValueError(f"model.estimator={cfg.estimator!r} is not one of logreg, nb, svm")
    # TextColumn: the model takes the documented frame (a `text` column) or the texts themselves.
    return Pipeline([("text", TextColumn("text")), ("features", build_features(cfg)), ("classifier", clf)])
