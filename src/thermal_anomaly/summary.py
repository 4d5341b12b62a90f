"""A batch in a few lines: counts per severity, flagged images worst first (``summary.json``, ``summary.md``
and the terminal's lines)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .pictures import hotspot_label, region_label
from .records import ImageResult
from .report import NO_HOTSPOT, hotspot_key
from .thermal.severity import RELATIVE_PREFIX, severity_rank


def summarize(images: Sequence[ImageResult], errors: Sequence[tuple[str, str]]) -> dict:
    """Batch summary (the ``summary.json`` dict) from the images' results: counts, images per severity,
    flagged images worst first, errors."""
    entries = []
    for d in images:
        regions = d.regions or []
        entries.append(
            {
                "image": d.image,
                "score": float(d.score),
                "is_anomalous": bool(d.is_anomalous),
                "severity": d.severity or NO_HOTSPOT,
                "hotspot_severity": d.hotspot_severity or NO_HOTSPOT,
                "n_regions": len(regions),
                "label": _worst_label(d),
            }
        )
    flagged = order_flagged([e for e in entries if e["is_anomalous"]])
    hot = hot_not_flagged([e for e in entries if not e["is_anomalous"]])
    for e in flagged + hot:
        del e["is_anomalous"]
    return {
        "n_images": len(entries) + len(errors),
        "n_scored": len(entries),
        "n_flagged": len(flagged),
        "n_errors": len(errors),
        "severity_counts": severity_counts(e["severity"] for e in entries),
        "flagged_severity_counts": severity_counts(e["severity"] for e in flagged),
        "flagged": flagged,
        "hot_not_flagged": hot,
        "errors": [{"image": p, "error": e} for p, e in errors],
    }


#: an image the model does not flag is still listed when a hot spot of it is rated at least this, by
#: temperature (what a thermographer checks whatever a model says)
HOT_LISTED = "probable deficiency"


def hot_not_flagged(items: Sequence[dict]) -> list[dict]:
    """Images the model did not flag whose worst hot spot is rated ``HOT_LISTED`` or worse by temperature
    (an extreme rise keeps its rating where the learned map calls the place normal; see
    ``report.weigh_hotspots``), worst hot spot first. Their ``severity`` stays the image's ("none")."""
    # a relative rating of the listed class ranks just below its °C twin: listed too
    bar = severity_rank(RELATIVE_PREFIX + HOT_LISTED)
    hot = [e for e in items if severity_rank(e.get("hotspot_severity")) >= bar]
    return sorted(hot, key=lambda d: (-severity_rank(d.get("hotspot_severity")), d["image"]))


def _worst_label(d: ImageResult) -> str:
    """The label of what sets the image's severity: its worst learned region, or, when a hot spot outside
    them rates worse (a flagged image's severity is its worst finding's), that hot spot."""
    regions = d.regions or []
    worst = max(range(len(regions)), key=lambda k: hotspot_key(regions[k]), default=None)
    spots = [h for h in d.hotspots or [] if not h.in_learned_region]
    spot = max(spots, key=hotspot_key, default=None)
    if (
        spot is not None
        and d.is_anomalous
        and (worst is None or hotspot_key(spot) > hotspot_key(regions[worst]))
    ):
        return hotspot_label(spot)
    return "" if worst is None else region_label(worst + 1, regions[worst])


def order_flagged(items: Sequence[dict]) -> list[dict]:
    """Flagged images worst first: severity, then score (both descending), then name for a stable order."""
    return sorted(
        items, key=lambda d: (-severity_rank(d.get("severity")), -float(d.get("score", 0.0)), d["image"])
    )


def severity_counts(severities: Iterable[str | None]) -> dict[str, int]:
    """Images per severity, worst first; only severities that occur."""
    counts: dict[str, int] = {}
    for s in severities:
        s = s or NO_HOTSPOT
        counts[s] = counts.get(s, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -severity_rank(kv[0])))


def summary_markdown(summary: dict, top: int | None = None) -> str:
    """A small human-readable table of a batch summary (``summary.md``)."""
    lines = [
        "# Batch summary",
        "",
        f"{summary['n_images']} images: {summary['n_scored']} scored, "
        f"{summary['n_flagged']} flagged as faulty, {summary['n_errors']} failed.",
        "",
    ]
    if summary.get("severity_counts"):
        lines.append(
            "Images by severity: "
            + ", ".join(f"{k}: {v}" for k, v in summary["severity_counts"].items())
            + "."
        )
        lines.append("")
    flagged = summary.get("flagged", [])
    if flagged:
        lines += [
            "| # | image | severity | score | regions | worst region |",
            "|---|---|---|---|---|---|",
        ]
        for k, f in enumerate(flagged[:top] if top else flagged, 1):
            lines.append(
                f"| {k} | {_md(f['image'])} | {f.get('severity', NO_HOTSPOT)} | {f['score']:.3f} | "
                f"{f['n_regions']} | {_md(f.get('label', ''))} |"
            )
        lines.append("")
    hot = summary.get("hot_not_flagged", [])
    if hot:
        lines += [
            "## Not flagged by the model, hot by temperature",
            "",
            "The learned model calls these images normal, but a hot spot in each is rated this bad by its",
            "temperature alone: worth a look.",
            "",
            "| # | image | hot spot severity | score |",
            "|---|---|---|---|",
        ]
        for k, f in enumerate(hot[:top] if top else hot, 1):
            lines.append(f"| {k} | {_md(f['image'])} | {f['hotspot_severity']} | {f['score']:.3f} |")
        lines.append("")
    if summary.get("errors"):
        lines += ["## Errors", ""] + [f"- {_md(e['image'])}: {_md(e['error'])}" for e in summary["errors"]]
        lines.append("")
    return "\n".join(lines)


def summary_lines(summary: dict, top: int = 5) -> list[str]:
    """A few lines for the terminal: counts, then the worst flagged images."""
    out = [
        f"{summary['n_images']} images: {summary['n_scored']} scored, {summary['n_flagged']} flagged, "
        f"{summary['n_errors']} failed"
    ]
    if summary.get("severity_counts"):
        out.append("by severity: " + ", ".join(f"{k} {v}" for k, v in summary["severity_counts"].items()))
    flagged = summary.get("flagged", [])
    if flagged:
        out.append(f"worst first (top {min(top, len(flagged))} of {len(flagged)}):")
        for f in flagged[:top]:
            label = f"  [{f['label']}]" if f.get("label") else ""
            out.append(f"  {f.get('severity', NO_HOTSPOT):<22} score {f['score']:7.3f}  {f['image']}{label}")
    hot = summary.get("hot_not_flagged", [])
    if hot:
        out.append(f"not flagged, but hot by temperature ({len(hot)}):")
        for f in hot[:top]:
            out.append(f"  {f['hotspot_severity']:<22} score {f['score']:7.3f}  {f['image']}")
    return out


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


__all__ = [
    "HOT_LISTED",
    "hot_not_flagged",
    "order_flagged",
    "severity_counts",
    "summarize",
    "summary_lines",
    "summary_markdown",
]
