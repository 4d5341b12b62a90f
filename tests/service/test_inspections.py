"""Inspections through the API against the library itself: the same JSON and pictures as
``Inspector.predict`` with the same model file; history, the worst open finding, fallbacks, background
fits, pages and exports. One model fitted for the session (see conftest's ``fitted``)."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from PIL import Image

from thermal_anomaly.pipeline import Inspector
from thermal_anomaly.thermal.severity import severity_rank

from .conftest import AUTH, Running, chromium, upload

pytestmark = pytest.mark.slow


def model_file(running, asset: str):
    info = running.client.get(f"/api/v1/assets/{asset}", headers=AUTH).json()["model"]
    return next((running.settings.data_dir / "assets").glob(f"*/models/{info['id']}/*.pth"))


def test_an_inspection_is_predict_plus_id(fitted, t1_faulty, tmp_path):
    c = fitted.client
    src = t1_faulty[0]
    r = upload(c, "/api/v1/assets/T1/inspections", src)
    assert r.status_code == 201, r.text
    got = r.json()
    assert isinstance(got["id"], int) and got["note"] is None and got["asset"] == "T1"
    # the library on the same file with the same model file, as `predict --group T1` runs it
    report = Inspector.load(model_file(fitted, "T1")).predict(
        [src], tmp_path / "out", group="T1", progress=False
    )
    want = json.loads((tmp_path / "out" / f"{src.name}.json").read_text())
    assert want["score"] == report.results[0].score
    assert got["image"] == src.name
    for key, value in want.items():
        if key != "image":
            assert got[key] == value, key
    assert got["is_anomalous"] and got["severity"] != "none"
    assert c.get(f"/api/v1/inspections/{got['id']}", headers=AUTH).json() == got
    for kind in ("annotated.png", "panel.png"):
        pic = c.get(f"/api/v1/inspections/{got['id']}/{kind}", headers=AUTH)
        assert pic.status_code == 200 and pic.headers["content-type"] == "image/png"
        assert (
            Image.open(io.BytesIO(pic.content)).size
            == Image.open(tmp_path / "out" / f"{src.name}.{kind}").size
        )
    orig = c.get(f"/api/v1/inspections/{got['id']}/image", headers=AUTH)
    assert orig.content == src.read_bytes()


def test_history_lists_every_inspection_in_time_order(fitted, t1_faulty, t1_normals):
    c = fitted.client
    before = c.get("/api/v1/assets/T1/history", headers=AUTH).json()["inspections"]
    ids = [upload(c, "/api/v1/assets/T1/inspections", p).json()["id"] for p in (t1_normals[4], t1_faulty[1])]
    hist = c.get("/api/v1/assets/T1/history", headers=AUTH).json()
    rows = hist["inspections"]
    assert [r["id"] for r in rows[len(before) :]] == ids
    assert [r["created"] for r in rows] == sorted(r["created"] for r in rows)
    for row in rows:
        full = c.get(f"/api/v1/inspections/{row['id']}", headers=AUTH).json()
        sevs = [full["severity"], full["hotspot_severity"], *(f["severity"] for f in full["findings"])]
        assert severity_rank(row["severity"]) == max(severity_rank(s) for s in sevs)
        dts = [h["delta_t"] for h in full["hotspots"] if h.get("delta_t") is not None]
        assert row["hottest_delta_t"] == (max(dts) if dts else None)
    plot = c.get("/api/v1/assets/T1/history.png", headers=AUTH)
    assert plot.status_code == 200 and Image.open(io.BytesIO(plot.content)).format == "PNG"
    # the assets list shows the worst finding of the newest inspection
    asset = next(a for a in c.get("/api/v1/assets", headers=AUTH).json() if a["name"] == "T1")
    worst = asset["worst_open_finding"]
    last = c.get(f"/api/v1/inspections/{ids[-1]}", headers=AUTH).json()
    assert worst["inspection_id"] == ids[-1]
    assert severity_rank(worst["severity"]) == max(severity_rank(f["severity"]) for f in last["findings"])


def test_an_asset_whose_model_is_not_ready_is_scored_by_the_fleet_model_with_a_note(
    fitted, t1_faulty, dev_data
):
    c = fitted.client
    c.post("/api/v1/assets", json={"name": "T2"}, headers=AUTH)
    upload(c, "/api/v1/assets/T2/baselines", sorted((dev_data / "T2" / "normal").glob("*.*"))[0])
    assert c.get("/api/v1/assets/T2", headers=AUTH).json()["model"]["status"] == "fitting"  # fitter off
    src = sorted((dev_data / "T2" / "faulty").glob("*.*"))[0]
    r = upload(c, "/api/v1/assets/T2/inspections?wait=0.5", src)
    assert r.status_code == 201, r.text
    body = r.json()
    assert "fleet model" in body["note"] and "T1" in body["note"] and "still fitting" in body["note"]
    assert (
        body["group"] == "T2"
        and body["model_id"] == c.get("/api/v1/assets/T1", headers=AUTH).json()["model"]["id"]
    )
    listed = c.get("/api/v1/assets/T2/inspections", headers=AUTH).json()
    assert listed[-1]["note"] == body["note"]


def test_the_background_fitter_takes_an_asset_from_fitting_to_ready(tmp_path, t1_normals, t1_faulty):
    with Running(tmp_path / "data", background=True) as r:
        c = r.client
        c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
        for p in t1_normals[:2]:
            assert upload(c, "/api/v1/assets/T1/baselines", p).status_code == 201
        states = {c.get("/api/v1/assets/T1", headers=AUTH).json()["model"]["status"]}
        # an inspection waits for the fit rather than use a fallback
        resp = upload(c, "/api/v1/assets/T1/inspections?wait=120", t1_faulty[2])
        assert resp.status_code == 201 and resp.json()["note"] is None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            model = c.get("/api/v1/assets/T1", headers=AUTH).json()["model"]
            states.add(model["status"])
            if model["status"] == "ready":
                break
            time.sleep(0.2)
        assert "fitting" in states and model["status"] == "ready"
        assert model["n_baselines"] == 2  # a refit after the second baseline, if the first fit began earlier


def test_pages_show_assets_inspections_and_findings(fitted, t1_faulty):
    c = fitted.client
    c.get("/login", params={"token": fitted.settings.token})
    rid = upload(c, "/api/v1/assets/T1/inspections", t1_faulty[3]).json()["id"]
    full = c.get(f"/api/v1/inspections/{rid}", headers=AUTH).json()
    index = c.get("/").text
    assert 'href="/assets/T1"' in index and "Worst open finding" in index
    page = c.get("/assets/T1").text
    assert "/api/v1/assets/T1/history.png" in page and f'href="/inspections/{rid}"' in page
    assert 'id="drop-inspections"' in page and "state-ready" in page
    ipage = c.get(f"/inspections/{rid}").text
    assert (
        f"/api/v1/inspections/{rid}/annotated.png" in ipage
        and f"/api/v1/inspections/{rid}/panel.png" in ipage
    )
    for f in full["findings"]:
        assert f"{f['kind']} {f['id']}" in ipage
    c.cookies.clear()


def test_reports_and_the_findings_csv(fitted, t1_faulty):
    c = fitted.client
    rid = upload(c, "/api/v1/assets/T1/inspections", t1_faulty[4]).json()["id"]
    full = c.get(f"/api/v1/inspections/{rid}", headers=AUTH).json()
    html = c.get(f"/api/v1/inspections/{rid}/report.html", headers=AUTH)
    assert html.status_code == 200 and html.text.count("data:image/png;base64,") == 2
    assert f"Thermal inspection #{rid}" in html.text
    rows = list(csv.DictReader(io.StringIO(c.get("/api/v1/findings.csv", headers=AUTH).text)))
    n_total = sum(
        len(c.get(f"/api/v1/inspections/{i['id']}", headers=AUTH).json()["findings"])
        for a in c.get("/api/v1/assets", headers=AUTH).json()
        for i in c.get(f"/api/v1/assets/{a['name']}/inspections", headers=AUTH).json()
    )
    assert len(rows) == n_total
    only_t1 = list(csv.DictReader(io.StringIO(c.get("/api/v1/findings.csv?asset=T1", headers=AUTH).text)))
    assert only_t1 and {r["asset"] for r in only_t1} == {"T1"}
    assert len(only_t1) == sum(r["asset"] == "T1" for r in rows)
    assert c.get("/api/v1/findings.csv?asset=nope", headers=AUTH).status_code == 404
    mine = [r for r in rows if r["inspection_id"] == str(rid)]
    assert [r["finding"] for r in mine] == [f["id"] for f in full["findings"]]
    assert [r["severity"] for r in mine] == [f["severity"] for f in full["findings"]]
    if chromium() is None:
        pytest.skip("chromium not installed: no PDF export")
    pdf = c.get(f"/api/v1/inspections/{rid}/report.pdf", headers=AUTH)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and len(pdf.content) > 20_000


def test_a_chromium_that_hangs_is_a_runtime_error_not_a_timeout_expired(tmp_path, monkeypatch):
    from thermal_anomaly.service import reports

    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setattr(reports, "chromium_path", lambda: str(fake))
    with pytest.raises(RuntimeError, match="did not print"):
        reports.html_to_pdf("<p>x</p>", timeout=0.5)
