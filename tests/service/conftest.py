"""Fixtures of the service tests: fresh services over a temporary data folder, one fitted asset shared by
the session (its model is fitted once, on three normals of the development set's T1), and helpers to send
real development images."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from thermal_anomaly.service import Service, Settings, create_app

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def upload(client, url: str, path: Path | bytes, name: str | None = None, **kw) -> httpx.Response:
    """POST one file as multipart field ``file`` (a path, or bytes with ``name``)."""
    data = path.read_bytes() if isinstance(path, Path) else path
    fname = name or (path.name if isinstance(path, Path) else "upload.bin")
    return client.post(
        url, files={"file": (fname, io.BytesIO(data), "application/octet-stream")}, headers=AUTH, **kw
    )


class Running:
    """A service with its TestClient (background fitter off unless asked: tests fit by hand)."""

    def __init__(self, data_dir: Path, **settings) -> None:
        settings.setdefault("background", False)
        self.settings = Settings(data_dir=data_dir, token=TOKEN, **settings)
        self.service = Service(self.settings)
        self.client = TestClient(create_app(self.settings, self.service))

    def __enter__(self) -> Running:
        self.client.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.client.__exit__(*exc)


@pytest.fixture
def running(tmp_path) -> Iterator[Running]:
    with Running(tmp_path / "data") as r:
        yield r


@pytest.fixture(scope="session")
def t1_normals(dev_data) -> list[Path]:
    return sorted((dev_data / "T1" / "normal").glob("*.jpg"))


@pytest.fixture(scope="session")
def t1_faulty(dev_data) -> list[Path]:
    return sorted((dev_data / "T1" / "faulty").glob("*.jpg"))


@pytest.fixture(scope="session")
def fitted(tmp_path_factory, t1_normals) -> Iterator[Running]:
    """One service for the session with asset ``T1``: three baselines, its model fitted (~4 s)."""
    with Running(tmp_path_factory.mktemp("fitted") / "data") as r:
        assert r.client.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH).status_code == 201
        for p in t1_normals[:3]:
            assert upload(r.client, "/api/v1/assets/T1/baselines", p).status_code == 201
        r.service.run_pending_fits()
        assert r.client.get("/api/v1/assets/T1", headers=AUTH).json()["model"]["status"] == "ready"
        yield r


# ------------------------------------------------------------------------------ a real server process
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``thermal-anomaly serve`` in a subprocess (as a user starts it), stopped by the test."""

    def __init__(
        self, data_dir: Path, *args: str, log: Path | None = None, token: str | None = TOKEN
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "THERMAL_ANOMALY_THREADS": "2", "PYTHONUNBUFFERED": "1"}
        env.pop("THERMAL_ANOMALY_TOKEN", None)
        if token is not None:
            env["THERMAL_ANOMALY_TOKEN"] = token
        self.log_path = log or data_dir.parent / f"server-{self.port}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "thermal_anomaly.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                *args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("server did not start within 90 s")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.log.close()


def chromium() -> str | None:
    return shutil.which("chromium")
