"""Exports: the history plot of an asset, a per-inspection report (HTML, PDF through chromium) and a CSV
of every finding."""

from __future__ import annotations

import base64
import csv
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..thermal.severity import severity_rank

#: colours per severity class (NETA MTS), worst last
SEVERITY_COLOURS = {
    0: "#7a8b99",  # none
    1: "#3b8ea5",  # possible
    2: "#e0b100",  # probable
    3: "#e06c00",  # deficiency
    4: "#c0152f",  # major
}

CSV_FIELDS = [
    "asset",
    "inspection_id",
    "created",
    "image",
    "finding",
    "kind",
    "severity",
    "decided_by",
    "delta_t",
    "delta_t_ambient",
    "max_temp",
    "unit",
    "novelty",
    "fault_type",
    "box",
    "score",
    "is_anomalous",
]


def severity_class(severity: str | None) -> int:
    """0 (none) .. 4 (major), relative or not."""
    return (severity_rank(severity) + 1) // 2


def severity_colour(severity: str | None) -> str:
    return SEVERITY_COLOURS[severity_class(severity)]


def history_png(points: list[dict], title: str) -> bytes:
    """Hottest ΔT of each inspection over time, coloured by its worst severity."""
    import datetime as dt

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3), dpi=100)
    try:
        if points:
            times = [dt.datetime.fromisoformat(p["created"].rstrip("Z")) for p in points]
            values = [p["hottest_delta_t"] if p["hottest_delta_t"] is not None else 0.0 for p in points]
            ax.plot(times, values, color="#999999", lw=1, zorder=1)
            ax.scatter(
                times,
                values,
                c=[severity_colour(p["severity"]) for p in points],
                s=36,
                zorder=2,
                edgecolors="k",
            )
            import matplotlib.dates as mdates

            locator = mdates.AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            if len(times) == 1 or max(times) - min(times) < dt.timedelta(minutes=2):
                pad = dt.timedelta(minutes=1)
                ax.set_xlim(min(times) - pad, max(times) + pad)
        else:
            ax.text(0.5, 0.5, "no inspections yet", ha="center", va="center", transform=ax.transAxes)
        unit = next((p.get("unit") for p in points if p.get("unit")), "C")
        ax.set_ylabel("hottest ΔT (°C)" if unit == "C" else "hottest ΔT (relative)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def data_uri(path: Path) -> str:
    if not path.is_file():
        return ""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def findings_csv(rows) -> str:
    """One line per finding of every inspection: ``rows`` are (Inspection, asset name)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r, asset in rows:
        for f in r.result.get("findings", []):
            writer.writerow(
                {
                    "asset": asset,
                    "inspection_id": r.id,
                    "created": r.created.isoformat(timespec="seconds") + "Z",
                    "image": r.filename,
                    "finding": f.get("id"),
                    "kind": f.get("kind"),
                    "severity": f.get("severity"),
                    "decided_by": f.get("decided_by"),
                    "delta_t": f.get("delta_t"),
                    "delta_t_ambient": f.get("delta_t_ambient"),
                    "max_temp": f.get("max_temp"),
                    "unit": f.get("unit"),
                    "novelty": f.get("novelty"),
                    "fault_type": f.get("fault_type"),
                    "box": " ".join(str(v) for v in f.get("box") or []),
                    "score": r.score,
                    "is_anomalous": r.is_anomalous,
                }
            )
    return buf.getvalue()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: str, timeout: float = 60.0) -> bytes:
    """Print an HTML page to PDF with Debian's chromium (headless); RuntimeError when it cannot."""
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("PDF export needs chromium (scripts/install-system-deps.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="ta-pdf-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html, encoding="utf-8")
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            src.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"chromium did not print the report within {timeout:g} s") from None
        if not out.is_file() or out.stat().st_size == 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"chromium could not print the report ({tail[0]})")
        return out.read_bytes()
