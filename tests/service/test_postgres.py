"""The service on PostgreSQL (``--database-url``): a real server started in a temporary folder with
Debian's initdb/pg_ctl; skipped when PostgreSQL is not installed."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from .conftest import AUTH, Running, free_port, upload

pytestmark = pytest.mark.slow


@pytest.fixture
def postgres_url():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = bins[-1] if bins else shutil.which("initdb")
    if initdb is None:
        pytest.skip("PostgreSQL not installed (scripts/install-system-deps.sh installs Debian's)")
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install '.[postgres]')")
    bindir = Path(initdb).parent
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="ta-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
        os.chmod(root, 0o755)
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    db = root / "db"

    def run(*cmd: str) -> None:
        proc = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    run(str(bindir / "initdb"), "-D", str(db), "-U", "ta", "--auth=trust", "-E", "UTF8", "--no-sync")
    opts = f"-k {root} -p {port} -c listen_addresses='' -c fsync=off"
    run(str(bindir / "pg_ctl"), "-D", str(db), "-o", opts, "-w", "-l", str(root / "log"), "start")
    try:
        run(str(bindir / "createdb"), "-h", str(root), "-p", str(port), "-U", "ta", "thermal")
        yield f"postgresql+psycopg://ta@/thermal?host={root}&port={port}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(db), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_the_service_on_postgresql(postgres_url, tmp_path, t1_normals, t1_faulty):
    data = tmp_path / "data"
    with Running(data, database_url=postgres_url) as r:
        c = r.client
        assert c.get("/api/v1/health").json()["schema_version"] >= 1
        assert c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH).status_code == 201
        assert c.post("/api/v1/assets", json={"name": "T1"}, headers=AUTH).status_code == 409
        for p in t1_normals[:2]:
            assert upload(c, "/api/v1/assets/T1/baselines", p).status_code == 201
        r.service.run_pending_fits()
        got = upload(c, "/api/v1/assets/T1/inspections", t1_faulty[0])
        assert got.status_code == 201, got.text
        first = got.json()
        with r.service.engine.connect() as conn:
            assert conn.dialect.name == "postgresql"
            assert conn.execute(text("SELECT count(*) FROM inspections")).scalar_one() == 1
        assert not (data / "service.db").exists()  # the state is in PostgreSQL, the files in DATA
    with Running(data, database_url=postgres_url) as r:  # a restart finds everything
        c = r.client
        assert c.get(f"/api/v1/inspections/{first['id']}", headers=AUTH).json() == first
        assert c.get("/api/v1/assets/T1", headers=AUTH).json()["model"]["status"] == "ready"
        assert c.get(f"/api/v1/inspections/{first['id']}/annotated.png", headers=AUTH).status_code == 200
        hist = c.get("/api/v1/assets/T1/history", headers=AUTH).json()["inspections"]
        assert [h["id"] for h in hist] == [first["id"]]
