"""The web page in a real browser (Debian's chromium through Playwright, never a downloaded browser):
sign in, the assets list with the worst open finding, an asset's page with its history plot, drag-and-drop
and batch upload with progress, an inspection's pictures and findings. ``SCREENSHOT_DIR`` keeps the
screenshots (``make screenshots`` puts them under docs/screenshots/)."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import httpx
import pytest

from .conftest import AUTH, TOKEN, ServerProcess, chromium

pytestmark = pytest.mark.slow


def post(base: str, url: str, path: Path) -> httpx.Response:
    with open(path, "rb") as f:
        return httpx.post(base + url, files={"file": (path.name, f)}, headers=AUTH, timeout=300)


@pytest.fixture
def browser():
    exe = chromium()
    if exe is None:
        pytest.skip("chromium not installed (scripts/install-system-deps.sh installs Debian's)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


def test_the_web_page_in_chromium(browser, tmp_path, dev_data, t1_normals, t1_faulty):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(tmp_path / "data")
    try:
        base = server.url
        httpx.post(base + "/api/v1/assets", json={"name": "T1"}, headers=AUTH)
        httpx.post(base + "/api/v1/assets", json={"name": "T7"}, headers=AUTH)
        for p in t1_normals[:3]:
            assert post(base, "/api/v1/assets/T1/baselines", p).status_code == 201
        for p in sorted((dev_data / "T7" / "normal").glob("*.*"))[:2]:
            assert post(base, "/api/v1/assets/T7/baselines", p).status_code == 201
        for p in (t1_normals[4], t1_faulty[5], t1_faulty[0]):
            assert post(base, "/api/v1/assets/T1/inspections?wait=300", p).status_code == 201
        assert (
            post(
                base,
                "/api/v1/assets/T7/inspections?wait=300",
                sorted((dev_data / "T7" / "faulty").glob("*.*"))[0],
            ).status_code
            == 201
        )

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "/")
        assert "/login" in page.url  # not signed in
        page.fill("input[name=token]", "wrong")
        page.click("button[type=submit]")
        assert page.locator(".error").inner_text() == "wrong token"
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        rows = page.locator("#assets tbody tr")
        assert rows.count() == 2
        t1_row = page.locator("#assets tbody tr", has_text="T1")
        assert "ready" in t1_row.inner_text() and "inspection #3" in t1_row.inner_text()
        page.screenshot(path=str(shots / "assets.png"), full_page=True)

        page.click("text=T1")
        page.wait_for_url(base + "/assets/T1")
        plot = page.locator("img.plot")
        plot.wait_for()
        assert page.evaluate("document.querySelector('img.plot').naturalWidth") > 0
        assert page.locator("#inspections tbody tr").count() == 3

        # a real drop event carrying a file (as a drag from the desktop delivers it) ...
        b64 = base64.b64encode(t1_faulty[1].read_bytes()).decode()
        page.evaluate(
            """([b64, name]) => {
                const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                const dt = new DataTransfer();
                dt.items.add(new File([bytes], name, {type: "image/jpeg"}));
                document.getElementById("drop-inspections").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
            }""",
            [b64, t1_faulty[1].name],
        )
        page.locator("#batch-inspections .total", has_text="1 of 1 done: 1 stored").wait_for(timeout=120_000)
        # ... and a batch through the file chooser: three pictures and one file that is not an image
        junk = tmp_path / "notes.jpg"
        junk.write_text("not a picture")
        page.set_input_files(
            "#drop-inspections input[type=file]",
            [str(t1_faulty[2]), str(t1_faulty[3]), str(junk), str(t1_faulty[4])],
        )
        page.locator("#batch-inspections .total", has_text="4 of 4 done: 3 stored, 1 refused").wait_for(
            timeout=180_000
        )
        assert "415: not an image" in page.locator("#batch-inspections").inner_text()
        assert page.locator("#batch-inspections progress").count() == 5
        assert page.locator("#inspections tbody tr").count() == 7  # the table grew without a reload
        # T1 had 1-3 and T7 4: the drop got 5, the batch 6-8, the newest on top
        assert page.locator("#inspections tbody tr").first.locator("a").inner_text() == "8"
        page.screenshot(path=str(shots / "upload.png"), full_page=True)
        page.reload()
        assert page.locator("#inspections tbody tr").count() == 7
        page.screenshot(path=str(shots / "asset.png"), full_page=True)

        # a new baseline: the model state turns to fitting, then ready, in place
        page.set_input_files("#drop-baselines input[type=file]", [str(t1_normals[5])])
        page.locator("#batch-baselines .total", has_text="1 of 1 done: 1 stored").wait_for(timeout=60_000)
        page.locator("#model-state .state-ready", has_text="ready").wait_for(timeout=120_000)
        assert "fitted on 4 baselines" in page.locator("#model-state").inner_text()

        page.click("#inspections tbody tr:has-text('T1_faulty_001') a")
        page.wait_for_url(f"{base}/inspections/*")
        for sel in ("#annotated", "#panel"):
            page.locator(sel).wait_for()
            deadline = time.monotonic() + 30
            while (
                page.evaluate(f"document.querySelector('{sel}').naturalWidth") == 0
                and time.monotonic() < deadline
            ):
                time.sleep(0.2)
            assert page.evaluate(f"document.querySelector('{sel}').naturalWidth") > 0
        findings = page.locator("table.findings tbody tr")
        assert findings.count() >= 1 and "hotspot H1" in findings.first.inner_text()
        assert "°C" in page.locator("dl.facts").inner_text()
        page.screenshot(path=str(shots / "inspection.jpg"), full_page=True, type="jpeg", quality=70)

        # the report a person files: the HTML one (pictures inside) and the PDF, downloaded by the browser
        href = page.locator("a", has_text="Report (HTML)").get_attribute("href")
        html = page.request.get(base + href)
        assert (
            html.status == 200 and "T1_faulty_001" in html.text() and "data:image/png;base64," in html.text()
        )
        with page.expect_download(timeout=60_000) as download:
            page.click("text=Report (PDF)")
        pdf = Path(download.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    finally:
        server.stop()
