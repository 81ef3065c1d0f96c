"""The upload page in a real headless browser (Debian's chromium driven by Playwright), with every
request to an address other than the server blocked: upload a real test image and read the label
and the model version the page shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from mlcore.serving.browser import offline_page

from image_classifier.data import images_of
from image_classifier.features import encode_png

pytestmark = pytest.mark.slow


def test_upload_page_shows_the_label_and_version(server: str, trained: dict[str, Any], tmp_path: Path) -> None:
    test = pd.read_parquet(Path(trained["root"]) / trained["cfg"].paths.processed / "test.parquet")
    image = images_of(test.head(1), 28, 28)[0]
    path = tmp_path / "test-image.png"
    path.write_bytes(encode_png(np.ascontiguousarray(image)))
    expected = httpx.post(f"{server}/predict", files={"file": (path.name, path.read_bytes(), "image/png")}).json()
    with offline_page(server) as visit:
        page = visit.page
        page.goto(f"{server}/", wait_until="networkidle")
        page.set_input_files("#file", str(path))
        page.locator("#result .row").first.wait_for(timeout=60_000)
        status = page.inner_text("#status")
        rows = page.locator("#result .row").all_inner_texts()
        version = page.inner_text("#version")
        assert page.locator("#preview").is_visible()
    assert status == f"Prediction: {expected['label']}"
    assert len(rows) == 3 and rows[0].startswith(expected["label"])
    assert version == expected["model_version"]
    assert not visit.problems, visit.problems
    assert not visit.blocked, f"the page asked for outside addresses: {visit.blocked}"
