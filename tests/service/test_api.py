"""The API contract without a fitted model: auth, assets, baselines, limits, bad input (always a 4xx with a
one-line {"detail": str}), storage and the schema version. Real development images."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thermal_anomaly.service import db as service_db
from thermal_anomaly.service.core import Service, Settings

from .conftest import AUTH, TOKEN, Running, upload


def assert_error(resp, status: int, *words: str) -> str:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str)
    assert "\n" not in body["detail"] and body["detail"]
    for w in words:
        assert w in body["detail"].lower(), body["detail"]
    return body["detail"]


def png_bytes(w: int = 64, h: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels (a decompression bomb's header) with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_health_needs_no_token_and_names_the_schema_version(running):
    r = running.client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "schema_version": service_db.SCHEMA_VERSION}


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/assets"),
        ("get", "/api/v1/assets"),
        ("get", "/api/v1/assets/T1"),
        ("get", "/api/v1/inspections/1"),
        ("get", "/api/v1/inspections/1/annotated.png"),
        ("get", "/api/v1/inspections/1/panel.png"),
        ("get", "/api/v1/findings.csv"),
        ("post", "/api/v1/assets/T1/inspections"),
        ("post", "/api/v1/assets/T1/baselines"),
    ],
)
def test_every_write_and_every_read_of_results_needs_the_token(running, method, url):
    call = getattr(running.client, method)
    assert_error(call(url), 401, "token")
    assert_error(call(url, headers={"Authorization": "Bearer nope"}), 401, "wrong token")
    assert_error(call(url, headers={"Authorization": f"Basic {TOKEN}"}), 401, "bearer")


def test_assets_create_list_get_and_refuse_duplicates_and_bad_names(running):
    c = running.client
    r = c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "T1" and body["model"]["status"] == "none" and body["ready"] is False
    assert_error(c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH), 409, "exists")
    assert_error(c.post("/api/v1/assets", json={"name": "../etc"}, headers=AUTH), 422, "asset name")
    assert_error(c.post("/api/v1/assets", json={}, headers=AUTH), 422, "name")
    assert_error(
        c.post("/api/v1/assets", content=b"{not json", headers={**AUTH, "content-type": "application/json"}),
        422,
    )
    c.post("/api/v1/assets", json={"name": "Substation 2.B"}, headers=AUTH)
    names = [a["name"] for a in c.get("/api/v1/assets", headers=AUTH).json()]
    assert names == ["Substation 2.B", "T1"]
    assert c.get("/api/v1/assets/Substation 2.B", headers=AUTH).json()["n_baselines"] == 0
    assert_error(c.get("/api/v1/assets/nope", headers=AUTH), 404, "unknown asset")


def test_a_baseline_is_stored_by_content_and_starts_a_fit(running, t1_normals):
    c = running.client
    c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
    src = t1_normals[0]
    r = upload(c, "/api/v1/assets/T1/baselines", src, name="../../evil name.png")  # a JPEG named .png
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["filename"] == "evil_name.jpg" and (b["width"], b["height"]) == Image.open(src).size
    stored = list((running.settings.data_dir / "assets").rglob("*.jpg"))
    assert len(stored) == 1 and stored[0].read_bytes() == src.read_bytes()
    asset = c.get("/api/v1/assets/T1", headers=AUTH).json()
    assert asset["n_baselines"] == 1 and asset["model"]["status"] == "fitting" and not asset["ready"]
    assert [x["id"] for x in c.get("/api/v1/assets/T1/baselines", headers=AUTH).json()] == [b["id"]]
    img = c.get(f"/api/v1/baselines/{b['id']}/image", headers=AUTH)
    assert img.status_code == 200 and img.content == src.read_bytes()
    # nothing left behind in tmp/
    assert not any((running.settings.data_dir / "tmp").iterdir())


def test_bad_uploads_are_4xx_with_a_reason(running, t1_normals):
    c = running.client
    c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
    for url in ("/api/v1/assets/T1/baselines", "/api/v1/assets/T1/inspections"):
        assert_error(upload(c, url, b"hello, not an image", name="photo.jpg"), 415, "not an image")
        assert_error(upload(c, url, b"", name="empty.jpg"), 400, "empty")
        data = t1_normals[0].read_bytes()
        assert_error(upload(c, url, data[: len(data) // 2], name="cut.jpg"), 400, "truncated")
        assert_error(upload(c, url, b"GIF89a" + png_bytes()[8:], name="x.gif"), 415)
        assert_error(
            upload(c, "/api/v1/assets/nope/" + url.rsplit("/", 1)[1], t1_normals[0]), 404, "unknown asset"
        )
        assert_error(c.post(url, headers=AUTH, data={"x": "1"}), 422, "file")
        assert_error(c.post(url, headers=AUTH, content=b"garbage", params={}), 422)
    assert not any((running.settings.data_dir / "tmp").iterdir())
    assert c.get("/api/v1/assets/T1", headers=AUTH).json()["n_baselines"] == 0


def test_decompression_bombs_and_oversized_images_are_refused_before_decoding(running):
    c = running.client
    c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
    url = "/api/v1/assets/T1/baselines"
    # 900 MP: PIL's own bomb guard; 60 MP: over the service's 50 MP limit
    assert_error(upload(c, url, png_header_only(30000, 30000), name="bomb.png"), 413, "pixels")
    assert_error(upload(c, url, png_header_only(10000, 6000), name="big.png"), 413, "50 mp")


def test_uploads_over_the_size_limit_are_413(tmp_path, t1_normals):
    size = t1_normals[0].stat().st_size
    with Running(tmp_path / "data", max_upload_bytes=size // 2) as r:
        r.client.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
        assert_error(upload(r.client, "/api/v1/assets/T1/baselines", t1_normals[0]), 413, "too large")

        def chunks():  # no Content-Length: counted as it arrives
            body = t1_normals[0].read_bytes() * 3
            for i in range(0, len(body), 16384):
                yield body[i : i + 16384]

        resp = r.client.post(
            "/api/v1/assets/T1/baselines",
            content=chunks(),
            headers={**AUTH, "content-type": "multipart/form-data; boundary=xyz"},
        )
        assert_error(resp, 413, "too large")
        assert r.client.get("/api/v1/assets/T1", headers=AUTH).json()["n_baselines"] == 0


def test_inspecting_before_any_baseline_or_model_is_409(running, t1_normals, t1_faulty):
    c = running.client
    c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
    assert_error(upload(c, "/api/v1/assets/T1/inspections", t1_faulty[0]), 409, "no baselines yet")
    upload(c, "/api/v1/assets/T1/baselines", t1_normals[0])
    # the fitter is off here: the model stays "fitting", no other model exists
    r = upload(c, "/api/v1/assets/T1/inspections?wait=0", t1_faulty[0])
    assert_error(r, 409, "still fitting")
    assert_error(c.get("/api/v1/inspections/99", headers=AUTH), 404, "unknown inspection")
    assert_error(c.get("/api/v1/inspections/abc", headers=AUTH), 422)
    assert c.get("/api/v1/assets/T1/inspections", headers=AUTH).json() == []


def test_a_fit_that_fails_says_why(running, t1_normals):
    c = running.client
    c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
    b = upload(c, "/api/v1/assets/T1/baselines", t1_normals[0]).json()
    stored = running.service.baseline_file(b["id"])
    stored.write_bytes(b"")  # the disk lost the file before the fit read it
    running.service.run_pending_fits()
    model = c.get("/api/v1/assets/T1", headers=AUTH).json()["model"]
    assert model["status"] == "failed" and "empty file" in model["reason"]
    assert_error(upload(c, "/api/v1/assets/T1/inspections", t1_normals[1]), 409, "failed to fit")


def test_the_schema_version_is_recorded_and_migrations_run_in_order(tmp_path, monkeypatch):
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy import text

    data = tmp_path / "data"
    svc = Service(Settings(data_dir=data, token=TOKEN, background=False))
    url = svc.settings.database_url
    svc.stop()
    assert (data / "service.db").is_file()
    engine = service_db.make_engine(url)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT version FROM schema_version")).scalar_one() == service_db.SCHEMA_VERSION
        )

    def add_column(conn):
        conn.execute(text("ALTER TABLE assets ADD COLUMN site VARCHAR(100)"))

    v = service_db.SCHEMA_VERSION
    monkeypatch.setattr(service_db, "SCHEMA_VERSION", v + 1)
    monkeypatch.setitem(service_db.MIGRATIONS, v, add_column)
    assert service_db.migrate(engine) == v + 1
    assert "site" in {c["name"] for c in sa_inspect(engine).get_columns("assets")}
    assert service_db.migrate(engine) == v + 1  # applied once
    monkeypatch.setattr(service_db, "SCHEMA_VERSION", v)
    with pytest.raises(RuntimeError, match="newer"):
        service_db.migrate(engine)
    engine.dispose()


def test_state_survives_a_restart(tmp_path, t1_normals):
    data = tmp_path / "data"
    with Running(data) as r:
        r.client.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH)
        upload(r.client, "/api/v1/assets/T1/baselines", t1_normals[0])
    (data / "tmp" / "leftover").mkdir()  # work a killed process left behind
    (data / "inspections" / "orphan").mkdir()  # an inspection whose row never committed (no 201 sent)
    with Running(data) as r:
        a = r.client.get("/api/v1/assets/T1", headers=AUTH).json()
        assert a["n_baselines"] == 1 and a["model"]["status"] == "fitting"
        assert r.service._queue == [a["id"]]  # the interrupted fit is queued again
        assert not (data / "tmp" / "leftover").exists() and not (data / "inspections" / "orphan").exists()


def test_the_browser_signs_in_with_the_token(running):
    c = running.client
    r = c.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/login").status_code == 200
    assert c.get("/login", params={"token": "wrong"}).status_code == 401
    r = c.get("/login", params={"token": TOKEN}, follow_redirects=False)
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    page = c.get("/")
    assert page.status_code == 200 and "Assets" in page.text and "No assets yet" in page.text
    assert c.get("/api/v1/assets").status_code == 200  # the page's own script calls the API with the cookie
    c.cookies.clear()
    r = c.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "https://evil.example", "evil"])
def test_signing_in_never_sends_the_browser_to_another_site(running, target):
    c = running.client
    r = c.get("/login", params={"token": TOKEN, "next": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = c.post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = c.post("/login", data={"token": TOKEN, "next": "/assets/T1"}, follow_redirects=False)
    assert r.headers["location"] == "/assets/T1"


def test_pages_of_unknown_things_are_404(running):
    running.client.get("/login", params={"token": TOKEN})
    assert running.client.get("/assets/nope").status_code == 404
    assert running.client.get("/inspections/5").status_code == 404


def test_an_asset_created_by_many_requests_at_once_is_one_201_and_the_rest_409(running):
    from concurrent.futures import ThreadPoolExecutor

    from thermal_anomaly.service import ServiceError

    def create(_):
        try:
            running.service.create_asset("T1")
            return 201
        except ServiceError as exc:
            return exc.status

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(create, range(8)))
    assert statuses == [201] + [409] * 7


@pytest.mark.parametrize("ident", ["0", "-1", str(2**63), "99999999999999999999"])
def test_ids_no_database_holds_are_404_not_500(running, ident):
    c = running.client
    assert_error(c.get(f"/api/v1/inspections/{ident}", headers=AUTH), 404, "unknown inspection")
    assert_error(c.get(f"/api/v1/inspections/{ident}/report.html", headers=AUTH), 404, "unknown inspection")
    assert_error(c.get(f"/api/v1/baselines/{ident}/image", headers=AUTH), 404, "unknown baseline")


def test_findings_csv_of_an_empty_service_has_its_header(running):
    r = running.client.get("/api/v1/findings.csv", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("asset,inspection_id,created,image,finding,kind,severity")


def test_files_are_moved_into_place_not_written_in_place(tmp_path):
    from thermal_anomaly.service.storage import safe_filename

    assert safe_filename("C:\\photos\\IR_0042.JPG", ".jpg") == "IR_0042.jpg"
    assert safe_filename(".hidden.png", ".png") == "hidden.png"
    assert safe_filename("..", ".png") == "image.png"
    assert safe_filename("T2_faulty_002.png.png", ".png") == "T2_faulty_002.png.png"
    assert safe_filename("a b;rm -rf.tif", ".tiff") == "a_b_rm_-rf.tiff"
    assert Path(safe_filename(None, ".png")).suffix == ".png"
