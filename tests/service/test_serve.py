"""``thermal-anomaly serve`` as a user starts it (``make serve``): the generated token, the demo asset."""

from __future__ import annotations

import time

import httpx
import pytest

from .conftest import AUTH, ServerProcess

pytestmark = pytest.mark.slow


def test_serve_without_a_token_generates_one_and_prints_it(tmp_path):
    server = ServerProcess(tmp_path / "data", token=None)
    try:
        lines = server.log_path.read_text().splitlines()
        token = next(line.split(": ", 1)[1] for line in lines if line.startswith("token: "))
        assert len(token) >= 24 and any(f"/login?token={token}" in line for line in lines)
        assert (
            httpx.get(server.url + "/api/v1/assets", headers={"Authorization": f"Bearer {token}"}).json()
            == []
        )
        assert httpx.get(server.url + "/api/v1/assets", headers=AUTH).status_code == 401
    finally:
        server.stop()


def test_serve_demo_loads_the_built_in_demo_data_as_a_first_asset(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data, "--demo")
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assets = httpx.get(server.url + "/api/v1/assets", headers=AUTH).json()
            if assets and assets[0]["n_inspections"] == 10:
                break
            time.sleep(0.5)
        assert [a["name"] for a in assets] == ["demo"]
        demo = assets[0]
        assert demo["n_baselines"] == 8 and demo["model"]["status"] == "ready"
        rows = httpx.get(server.url + "/api/v1/assets/demo/inspections", headers=AUTH).json()
        # its 4 other normals and 6 faulty images, each a complete inspection (whether the library flags
        # them is its own affair: with 8 normals its learned threshold is above every demo score)
        assert (
            len(rows) == 10
            and sorted(r["image"].split("_")[1] for r in rows) == ["faulty"] * 6 + ["normal"] * 4
        )
        for row in rows[:2]:
            pic = httpx.get(f"{server.url}/api/v1/inspections/{row['id']}/annotated.png", headers=AUTH)
            assert pic.status_code == 200 and pic.content.startswith(b"\x89PNG")
        page = httpx.get(server.url + "/assets/demo", headers=AUTH)
        assert page.status_code == 200 and "history.png" in page.text
    finally:
        server.stop()
    server = ServerProcess(data, "--demo")  # a second start adds nothing
    try:
        assets = httpx.get(server.url + "/api/v1/assets", headers=AUTH).json()
        assert [(a["name"], a["n_inspections"]) for a in assets] == [("demo", 10)]
    finally:
        server.stop()
