"""Load on `thermal-anomaly serve`: many clients posting inspections at once.

Starts the service as a user would (a subprocess on a free port, a temporary data folder), makes asset
``T1`` from a few development normals, waits for its model, then ``--clients`` threads post
``--inspections`` development images (every image of the set, cycled) to it. Reports the latency per
request (p50, p95, max), the throughput, and checks every answer against ``Inspector.predict`` run here on
the same file with the same model file (``--group T1``): all fields but ``image`` must be identical.

    .venv/bin/python benchmarks/service_load.py [--clients 16] [--inspections 200] [--baselines 4]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("THERMAL_DEV_DATA", REPO.parent / "shared" / "datasets" / "transformer-thermal"))
TOKEN = "load-benchmark"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, log: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "THERMAL_ANOMALY_TOKEN": TOKEN, "THERMAL_ANOMALY_THREADS": "2"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "thermal_anomaly.cli",
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            *extra,
        ],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def post(url: str, path: Path, timeout: float = 600) -> httpx.Response:
    with open(path, "rb") as f:
        return httpx.post(url, files={"file": (path.name, f)}, headers=AUTH, timeout=timeout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--inspections", type=int, default=200)
    ap.add_argument("--baselines", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=1, help="the server's --concurrency")
    ap.add_argument("--no-check", action="store_true", help="skip the comparison with Inspector.predict")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    if not (DEV / "T1").is_dir():
        raise SystemExit(f"development data not found at {DEV}")
    normals = sorted((DEV / "T1" / "normal").glob("*.*"))
    baselines = normals[: args.baselines]
    images = [
        p
        for p in sorted(DEV.glob("T*/*/*.*"))
        if p.parent.name in ("normal", "faulty") and p not in baselines
    ]
    work = Path(tempfile.mkdtemp(prefix="service-load-"))
    proc, url = start_server(work / "data", work / "server.log", "--concurrency", str(args.concurrency))
    try:
        assert httpx.post(url + "/api/v1/assets", json={"name": "T1"}, headers=AUTH).status_code == 201
        for p in baselines:
            r = post(url + "/api/v1/assets/T1/baselines", p)
            assert r.status_code == 201, r.text
        t0 = time.perf_counter()
        while True:
            model = httpx.get(url + "/api/v1/assets/T1", headers=AUTH).json()["model"]
            if model["status"] == "ready" and model["n_baselines"] == len(baselines):
                break
            if model["status"] == "failed":
                raise SystemExit(f"fit failed: {model['reason']}")
            time.sleep(0.2)
        fit_s = time.perf_counter() - t0
        todo: queue.Queue = queue.Queue()
        for i in range(args.inspections):
            todo.put(images[i % len(images)])
        results: list[tuple[Path, int, float, dict]] = []
        lock = threading.Lock()

        def client() -> None:
            while True:
                try:
                    p = todo.get_nowait()
                except queue.Empty:
                    return
                t = time.perf_counter()
                r = post(url + "/api/v1/assets/T1/inspections", p)
                dt = time.perf_counter() - t
                with lock:
                    results.append((p, r.status_code, dt, r.json()))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        model_file = next((work / "data" / "assets").glob(f"*/models/{model['id']}/*.pth"))
        shutil.copy(model_file, work / "model.pth")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    ok = [r for r in results if r[1] == 201]
    lat = np.array([r[2] for r in ok]) * 1000
    figures = {
        "clients": args.clients,
        "concurrency": args.concurrency,
        "inspections": args.inspections,
        "distinct_images": min(len(images), args.inspections),
        "baselines": len(baselines),
        "fit_s": round(fit_s, 1),
        "status_201": len(ok),
        "other_status": sorted({r[1] for r in results if r[1] != 201}),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "max_ms": round(float(lat.max()), 1),
        "wall_s": round(wall, 1),
        "throughput_per_s": round(len(ok) / wall, 2),
        "cpu_cores": os.cpu_count(),
    }
    if not args.no_check:
        import torch

        from thermal_anomaly.pipeline import Inspector

        torch.set_num_threads(2)
        inspector = Inspector.load(work / "model.pth")
        same = differ = 0
        expected: dict[Path, dict] = {}
        for p, _status, _dt, got in ok:
            if p not in expected:
                out = work / "predict" / str(len(expected))
                inspector.predict([p], out, group="T1", progress=False)
                expected[p] = json.loads((out / f"{p.name}.json").read_text())
            want = {k: v for k, v in expected[p].items() if k != "image"}
            if all(got.get(k) == v for k, v in want.items()) and got["image"] == p.name:
                same += 1
            else:
                differ += 1
                print(f"differs: {p.name}", file=sys.stderr)
        figures.update(identical_to_predict=same, different=differ)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
