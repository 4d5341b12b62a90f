"""An inspection compared with its asset's baselines: the JSON's block, the side-by-side picture and the
inspection page (the session's ``fitted`` service: asset T1 with its first three normals as baselines)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from .conftest import AUTH, upload

pytestmark = pytest.mark.slow


def test_an_inspection_is_compared_with_the_best_aligned_baseline(fitted, dev_data):
    c = fitted.client
    src = dev_data / "T1/faulty/T1_faulty_025.jpg"  # the view of T1_normal_002/003
    got = upload(c, "/api/v1/assets/T1/inspections", src).json()
    block = got["baseline"]
    assert block["aligned"], block["reason"]
    # named by the file it was uploaded as, not where the service stores it
    assert block["file"] in ("T1_normal_002.jpg", "T1_normal_003.jpg")
    assert [t["file"] for t in block["tried"]] == [f"T1_normal_00{i}.jpg" for i in (1, 2, 3)]
    assert block["regions"] and block["regions"][0]["finding"].startswith(
        f"since baseline {block['file']}: +"
    )
    pic = c.get(f"/api/v1/inspections/{got['id']}/baseline.png", headers=AUTH)
    assert pic.status_code == 200 and Image.open(io.BytesIO(pic.content)).format == "PNG"
    page = c.get(f"/inspections/{got['id']}", headers=AUTH).text
    assert "Since baseline" in page and block["regions"][0]["finding"] in page
    assert f"/api/v1/inspections/{got['id']}/baseline.png" in page
    report = c.get(f"/api/v1/inspections/{got['id']}/report.html", headers=AUTH).text
    assert f"Since baseline {block['file']}" in report and block["regions"][0]["finding"] in report
    assert report.count("data:image/png;base64,") == 3  # annotated, panel, baseline


def test_an_inspection_no_baseline_aligns_with_says_why(fitted, dev_data):
    c = fitted.client
    src = dev_data / "T1/faulty/T1_faulty_001.jpg"  # a close-up of another part
    got = upload(c, "/api/v1/assets/T1/inspections", src).json()
    block = got["baseline"]
    assert not block["aligned"] and block["reason"].startswith("no baseline aligned: T1_normal_001.jpg: ")
    assert c.get(f"/api/v1/inspections/{got['id']}/baseline.png", headers=AUTH).status_code == 404
    page = c.get(f"/inspections/{got['id']}", headers=AUTH).text
    assert "Not compared: no baseline aligned" in page
