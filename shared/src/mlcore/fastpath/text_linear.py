"""TF-IDF + linear text pipelines as a per-message sum over n-grams.

``Pipeline([(..., TfidfVectorizer | FeatureUnion of them), (..., LogisticRegression |
MultinomialNB)])``, with or without a leading ``TextColumn`` (``mlcore.fastpath.columns``), is, for one message, a sum over its n-grams. Building sparse matrices and
running scikit-learn's input checks costs far more than that sum, so the fitted pipeline is
compiled into a vocabulary, IDF and weight arrays, and an analyzer spec that this module
reproduces without scikit-learn (lower-casing, accent stripping, the token pattern, stop words,
word / char / char_wb n-grams). Settings it cannot reproduce (a custom tokenizer, preprocessor or
analyzer callable, file input) are not compiled. Results equal ``predict_proba`` to float
precision (tests assert it, and serving re-checks it on the model's input example).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, ClassVar

import numpy as np

_WHITE_SPACES = re.compile(r"\s\s+")
ANALYZERS = ("word", "char", "char_wb")


def _strip_unicode(text: str) -> str:
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _strip_ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ASCII", "ignore").decode("ASCII")


def _word_ngrams(tokens: list[str], low: int, high: int) -> list[str]:
    if high == 1:
        return tokens
    grams = list(tokens) if low == 1 else []
    low = max(low, 2)
    for n in range(low, min(high + 1, len(tokens) + 1)):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def _char_ngrams(text: str, low: int, high: int) -> list[str]:
    text = _WHITE_SPACES.sub(" ", text)
    grams = list(text) if low == 1 else []
    low = max(low, 2)
    for n in range(low, min(high + 1, len(text) + 1)):
        grams.extend(text[i : i + n] for i in range(len(text) - n + 1))
    return grams


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        word = f" {word} "
        for n in range(low, high + 1):
            offset = 0
            grams.append(word[offset : offset + n])
            while offset + n < len(word):
                offset += 1
                grams.append(word[offset : offset + n])
            if offset == 0:  # a short word counts once
                break
    return grams


def analyzer_spec(vectorizer: Any) -> dict[str, Any] | None:
    """The settings of a fitted vectorizer's analyzer, or None when this module cannot reproduce it."""
    if (
        vectorizer.analyzer not in ANALYZERS
        or vectorizer.preprocessor is not None
        or vectorizer.tokenizer is not None
        or vectorizer.input != "content"
        or vectorizer.strip_accents not in (None, "unicode", "ascii")
        or re.compile(vectorizer.token_pattern or "").groups > 1
    ):
        return None
    stop = vectorizer.get_stop_words() if vectorizer.analyzer == "word" else None
    return {
        "analyzer": vectorizer.analyzer,
        "ngram_range": [int(n) for n in vectorizer.ngram_range],
        "lowercase": bool(vectorizer.lowercase),
        "strip_accents": vectorizer.strip_accents,
        "token_pattern": vectorizer.token_pattern,
        "stop_words": sorted(stop) if stop is not None else None,
    }


def build_preprocessor(spec: dict[str, Any]) -> Callable[[str], str]:
    """The analyzer's first step: lower-casing and accent stripping as ``spec`` says."""
    strip = {"unicode": _strip_unicode, "ascii": _strip_ascii}.get(spec["strip_accents"] or "")
    lower = spec["lowercase"]

    def preprocess(text: str) -> str:
        text = text.lower() if lower else text
        return strip(text) if strip else text

    return preprocess


def build_analyzer(spec: dict[str, Any]) -> Callable[[str], list[str]]:
    """``TfidfVectorizer.build_analyzer()`` for the settings in ``spec`` (see ``analyzer_spec``)."""
    low, high = spec["ngram_range"]
    preprocess = build_preprocessor(spec)

    if spec["analyzer"] == "char":
        return lambda text: _char_ngrams(preprocess(text), low, high)
    if spec["analyzer"] == "char_wb":
        return lambda text: _char_wb_ngrams(preprocess(text), low, high)
    tokenize = re.compile(spec["token_pattern"]).findall
    stop = frozenset(spec["stop_words"]) if spec["stop_words"] is not None else None

    def words(text: str) -> list[str]:
        tokens = tokenize(preprocess(text))
        if stop is not None:
            tokens = [t for t in tokens if t not in stop]
        return _word_ngrams(tokens, low, high)

    return words


class Block:
    """One fitted TfidfVectorizer with its slice of the linear weights."""

    def __init__(self, spec: dict[str, Any], terms: Sequence[str], idf: np.ndarray, weights: np.ndarray) -> None:
        self.spec = spec
        self.terms = list(terms)
        self.analyze = build_analyzer(spec)
        self.preprocess = build_preprocessor(spec)
        tokenize = re.compile(spec["token_pattern"]).findall if spec.get("token_pattern") else str.split
        stop = frozenset(spec["stop_words"]) if spec.get("stop_words") is not None else frozenset()
        self.tokens: Callable[[str], list[str]] = lambda word: [t for t in tokenize(word) if t not in stop]
        self.index: dict[str, int] = {term: i for i, term in enumerate(self.terms)}
        self.idf = np.asarray(idf, dtype=float)
        self.weights = np.asarray(weights, dtype=float)
        self.sublinear, self.binary, self.l2 = spec["sublinear_tf"], spec["binary"], spec["norm"] == "l2"

    @classmethod
    def from_vectorizer(cls, vectorizer: Any, weights: np.ndarray) -> Block | None:
        spec = analyzer_spec(vectorizer)
        if spec is None or vectorizer.norm not in ("l2", None):
            return None
        spec |= {"sublinear_tf": bool(vectorizer.sublinear_tf), "binary": bool(vectorizer.binary)}
        spec |= {"norm": vectorizer.norm}
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        idf = vectorizer.idf_ if vectorizer.use_idf else np.ones(len(terms))
        return cls(spec, terms, idf, weights)

    def score(self, text: str) -> tuple[float, int, int]:
        """(weighted sum, known n-grams, all n-grams) for ``text``.

        Set intersection and ``itemgetter`` keep the per-n-gram work in C; numpy does the rest."""
        grams = self.analyze(text)
        counts = Counter(grams)
        known = list(counts.keys() & self.index.keys())
        if not known:
            return 0.0, 0, len(grams)
        pick = itemgetter(*known)
        if len(known) == 1:
            tf, rows = np.array([counts[known[0]]], dtype=float), [self.index[known[0]]]
        else:
            tf, rows = np.array(pick(counts), dtype=float), list(pick(self.index))
        n_known = int(tf.sum())
        if self.binary:
            tf = np.ones_like(tf)
        elif self.sublinear:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[rows]
        total = float(values @ self.weights[rows])
        if self.l2:
            norm = math.sqrt(float(values @ values))
            total = total / norm if norm > 0 else 0.0
        return total, n_known, len(grams)

    def occurrences(self, text: str) -> list[list[tuple[str, float]]]:
        """For each whitespace-separated word of the preprocessed ``text``, the n-gram occurrences
        it holds with the share of each it holds (1 for a gram inside the word; 1/k for a word
        n-gram or a ``char`` n-gram spread over k words)."""
        low, high = self.spec["ngram_range"]
        clean = self.preprocess(text)
        words = clean.split()
        if self.spec["analyzer"] == "char_wb":
            return [[(gram, 1.0) for gram in _char_wb_ngrams(word, low, high)] for word in words]
        placed: list[list[tuple[str, float]]] = [[] for _ in words]
        if self.spec["analyzer"] == "char":
            joined = " ".join(words)  # the analyzer collapses white space the same way
            owner = [i for i, word in enumerate(words) for _ in range(len(word) + 1)][: len(joined)]
            for n in range(low, high + 1):
                for start in range(len(joined) - n + 1):
                    held = sorted({owner[k] for k in range(start, start + n) if joined[k] != " "})
                    for index in held:
                        placed[index].append((joined[start : start + n], 1.0 / len(held)))
            return placed
        tokens = [(index, token) for index, word in enumerate(words) for token in self.tokens(word)]
        for n in range(low, high + 1):
            for start in range(len(tokens) - n + 1):
                span = tokens[start : start + n]
                gram = " ".join(token for _, token in span)
                for index, _ in span:
                    placed[index].append((gram, 1.0 / n))
        return placed

    def contributions(self, text: str) -> dict[str, float]:
        """Each known n-gram's exact share of ``score(text)[0]``: its weight times its (normalised)
        TF-IDF value; they sum to the block's score."""
        counts = Counter(self.analyze(text))
        known = [gram for gram in counts if gram in self.index]
        if not known:
            return {}
        rows = [self.index[gram] for gram in known]
        tf = np.array([counts[gram] for gram in known], dtype=float)
        if self.binary:
            tf = np.ones_like(tf)
        elif self.sublinear:
            tf = np.log(tf) + 1.0
        values = tf * self.idf[rows]
        if self.l2:
            norm = math.sqrt(float(values @ values))
            values = values / norm if norm > 0 else values * 0.0
        return dict(zip(known, (values * self.weights[rows]).tolist(), strict=True))


class LinearTextScorer:
    """``predict_proba(texts)[:, 1]`` of a compiled TF-IDF + linear pipeline."""

    kind: ClassVar[str] = "text_linear"

    def __init__(self, blocks: list[Block], intercept: float) -> None:
        self.blocks = blocks
        self.intercept = intercept

    def proba(self, text: str) -> float:
        z = self.intercept
        for block in self.blocks:
            z += block.score(text)[0]
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def many(self, texts: Sequence[str]) -> list[float]:
        return [self.proba(t) for t in texts]

    def explain(self, text: str) -> tuple[float, list[tuple[str, str, float]]]:
        """The logit's exact parts: (intercept, [(analyzer, n-gram, contribution)]); the intercept
        plus the contributions is the logit ``proba`` turns into a probability."""
        parts = [
            (block.spec["analyzer"], gram, value)
            for block in self.blocks
            for gram, value in block.contributions(text).items()
        ]
        return self.intercept, parts

    def word_contributions(self, text: str) -> tuple[float, list[tuple[str, float]], float]:
        """The logit's exact parts by word: (intercept, [(word, contribution)] for each
        whitespace-separated word of ``text`` in order, unplaced). Each n-gram's contribution is
        split evenly over its occurrences, and each occurrence over the words it comes from (a word
        n-gram over its tokens' words; a ``char_wb`` n-gram lies in one word); what no word holds
        (a ``char`` n-gram of spaces) is ``unplaced``. intercept + words + unplaced = the logit."""
        original = text.split()
        shares = [0.0] * len(original)
        unplaced = 0.0
        for block in self.blocks:
            contributions = block.contributions(text)
            if not contributions:
                continue
            placed = block.occurrences(text)
            if len(placed) != len(original):  # preprocessing changed the words: nothing to align with
                unplaced += math.fsum(contributions.values())
                continue
            held: dict[str, float] = {}  # each gram's placed occurrences (weights summed)
            for grams in placed:
                for gram, weight in grams:
                    held[gram] = held.get(gram, 0.0) + weight
            for index, grams in enumerate(placed):
                for gram, weight in grams:
                    if gram in contributions:
                        shares[index] += contributions[gram] * weight / held[gram]
            unplaced += math.fsum(value for gram, value in contributions.items() if gram not in held)
        return self.intercept, list(zip(original, shares, strict=True)), unplaced

    def oov_share(self, text: str) -> float:
        """Share of the first block's n-grams (words, by convention) missing from the vocabulary."""
        _, known, total = self.blocks[0].score(text)
        return 1.0 - known / total if total else 1.0

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        spec = {"intercept": self.intercept, "blocks": [{**b.spec, "terms": b.terms} for b in self.blocks]}
        arrays = {f"{name}{i}": getattr(b, name) for i, b in enumerate(self.blocks) for name in ("idf", "weights")}
        return spec, arrays

    @classmethod
    def from_state(cls, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> LinearTextScorer:
        blocks = []
        for i, block in enumerate(spec["blocks"]):
            settings = {k: v for k, v in block.items() if k != "terms"}
            blocks.append(Block(settings, block["terms"], arrays[f"idf{i}"], arrays[f"weights{i}"]))
        return cls(blocks, float(spec["intercept"]))


def compile(pipeline: Any, **_: Any) -> LinearTextScorer | None:  # noqa: A001 - the package's verb
    """Compile a fitted binary text pipeline, or return None when it is not of a supported shape."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import FeatureUnion, Pipeline

    from mlcore.fastpath.columns import TextColumn

    if not isinstance(pipeline, Pipeline):
        return None
    steps = [step for _, step in pipeline.steps]
    if steps and isinstance(steps[0], TextColumn):  # selects the texts: nothing to compile
        steps = steps[1:]
    if len(steps) != 2:
        return None
    features, clf = steps
    if isinstance(features, TfidfVectorizer):
        vectorizers = [features]
    elif isinstance(features, FeatureUnion) and all(
        isinstance(t, TfidfVectorizer) for _, t in features.transformer_list
    ):
        if features.transformer_weights:
            return None
        vectorizers = [t for _, t in features.transformer_list]
    else:
        return None
    if len(getattr(clf, "classes_", [])) != 2:
        return None
    if isinstance(clf, LogisticRegression):
        weights, intercept = clf.coef_[0], float(clf.intercept_[0])
    elif isinstance(clf, MultinomialNB):
        weights = clf.feature_log_prob_[1] - clf.feature_log_prob_[0]
        intercept = float(clf.class_log_prior_[1] - clf.class_log_prior_[0])
    else:
        return None
    blocks: list[Block] = []
    offset = 0
    for vec in vectorizers:
        size = len(vec.vocabulary_)
        block = Block.from_vectorizer(vec, np.asarray(weights[offset : offset + size], dtype=float))
        if block is None:
            return None
        blocks.append(block)
        offset += size
    return LinearTextScorer(blocks, intercept)


from_state = LinearTextScorer.from_state  # what mlcore.fastpath.restore calls
