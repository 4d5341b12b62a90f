"""Nothing lost: a server killed (SIGKILL) in the middle of a batch, then restarted on the same data folder,
still has every inspection it answered 201 for, complete (JSON and pictures), and no half-written one."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from .conftest import AUTH, ServerProcess

pytestmark = pytest.mark.slow


def post(base: str, url: str, path, timeout: float = 120) -> httpx.Response:
    with open(path, "rb") as f:
        return httpx.post(base + url, files={"file": (path.name, f)}, headers=AUTH, timeout=timeout)


def test_killing_the_server_mid_batch_loses_no_inspection_that_got_a_201(tmp_path, t1_normals, t1_faulty):
    data = tmp_path / "data"
    server = ServerProcess(data)
    try:
        assert httpx.post(server.url + "/api/v1/assets", json={"name": "T1"}, headers=AUTH).status_code == 201
        for p in t1_normals[:2]:
            assert post(server.url, "/api/v1/assets/T1/baselines", p).status_code == 201
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            model = httpx.get(server.url + "/api/v1/assets/T1", headers=AUTH).json()["model"]
            if model["status"] == "ready" and model["n_baselines"] == 2:
                break
            assert model["status"] != "failed", model
            time.sleep(0.5)
        batch = (t1_faulty * 2)[:40]
        answered: dict[int, dict] = {}
        failures: list[str] = []
        lock = threading.Lock()

        def client(items) -> None:
            for p in items:
                try:
                    r = post(server.url, "/api/v1/assets/T1/inspections", p)
                except httpx.HTTPError as exc:  # the kill
                    failures.append(type(exc).__name__)
                    return
                if r.status_code == 201:
                    with lock:
                        answered[r.json()["id"]] = r.json()
                else:
                    failures.append(f"{r.status_code} {r.text}")

        threads = [threading.Thread(target=client, args=(batch[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        while len(answered) < 6 and any(t.is_alive() for t in threads):
            time.sleep(0.05)
        server.kill()  # SIGKILL, requests in flight
        for t in threads:
            t.join(timeout=60)
        assert len(answered) >= 6 and failures, (len(answered), failures)
        assert all(not f[:1].isdigit() for f in failures), failures  # only connection errors, no 4xx/5xx
    finally:
        server.stop()

    server = ServerProcess(data)
    try:
        listed = httpx.get(server.url + "/api/v1/assets/T1/inspections", headers=AUTH).json()
        assert {i["id"] for i in listed} >= set(answered)
        for row in listed:  # every inspection the database has is complete, answered or not
            got = httpx.get(f"{server.url}/api/v1/inspections/{row['id']}", headers=AUTH)
            assert got.status_code == 200
            if row["id"] in answered:
                assert got.json() == answered[row["id"]]
            for kind in ("annotated.png", "panel.png"):
                pic = httpx.get(f"{server.url}/api/v1/inspections/{row['id']}/{kind}", headers=AUTH)
                assert pic.status_code == 200 and pic.content.startswith(b"\x89PNG")
        assert not any((data / "tmp").iterdir())
        # inspection folders on disk are exactly the database's
        assert len(list((data / "inspections").iterdir())) == len(listed)
    finally:
        server.stop()
