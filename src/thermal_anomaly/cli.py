"""The ``thermal-anomaly`` command: a thin layer over :mod:`thermal_anomaly.pipeline`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import DEBUG_ENV

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Find and outline faults in thermal images of power transformers.",
)


# FLIR radiometric JPEGs: object parameters that override the file's own (predict and temperature)
Emissivity = Annotated[
    float | None, typer.Option("--emissivity", help="FLIR JPEG: override the file's emissivity (0..1]")
]
ReflectedTemp = Annotated[
    float | None, typer.Option("--reflected-temp", help="FLIR JPEG: reflected apparent temperature, °C")
]
Distance = Annotated[float | None, typer.Option("--distance", help="FLIR JPEG: object distance, m")]
Humidity = Annotated[
    float | None, typer.Option("--humidity", help="FLIR JPEG: relative humidity, fraction 0..1")
]
AtmosphericTemp = Annotated[
    float | None, typer.Option("--atmospheric-temp", help="FLIR JPEG: air temperature, °C")
]


def _radiometric_params(*values: float | None):
    """The overrides as ``RadiometricParams`` (a bad value is a usage error, not a traceback)."""
    from .thermal.radiometric import RadiometricParams

    try:
        return RadiometricParams(*values)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _err(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)


def _threads() -> None:
    import torch

    n = int(os.environ.get("THERMAL_ANOMALY_THREADS", "0") or 0)
    if n > 0:
        torch.set_num_threads(n)


@app.command()
def train(
    data: Annotated[Path, typer.Option("--data", help="folder of images; normal/ folders below it are used")],
    model: Annotated[str, typer.Option("--model", help="detector name")] = "patchcore",
    out: Annotated[Path, typer.Option("--out", help="folder for the model file(s)")] = Path("models"),
    img_size: Annotated[int, typer.Option("--img-size")] = 256,
    epochs: Annotated[int, typer.Option("--epochs", help="AutoEncoders only")] = 50,
    batch_size: Annotated[int, typer.Option("--batch-size", help="AutoEncoders only")] = 8,
    lr: Annotated[float, typer.Option("--lr", help="AutoEncoders only")] = 1e-3,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Learn normal from fault-free images; the last line printed is the model file to use."""
    from .pipeline import train as run_train

    _threads()
    path = run_train(
        data,
        model=model,
        out_dir=out,
        on_error=lambda _path, reason: typer.echo(f"warning: left out of training: {reason}", err=True),
        img_size=img_size,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=lr,
        seed=seed,
    )
    typer.echo(str(path))


@app.command()
def test(
    model_path: Annotated[Path, typer.Option("--model-path", help="model file from train")],
    data: Annotated[Path, typer.Option("--data", help="folder with normal/ and faulty/ (and masks/)")],
    out: Annotated[Path, typer.Option("--out")] = Path("runs/test"),
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="override the learned threshold")
    ] = None,
) -> None:
    """Score a labelled folder; write pictures, scores.csv and metrics.json."""
    from .pipeline import Inspector

    _threads()
    metrics = Inspector.load(model_path).test(data, out, threshold=threshold)
    _print_metrics(metrics)
    typer.echo(str(out / "metrics.json"))


@app.command()
def predict(
    paths: Annotated[list[Path], typer.Argument(help="image files and folders (recursive)")],
    model_path: Annotated[Path, typer.Option("--model-path", help="model file from train")],
    out: Annotated[Path, typer.Option("--out")] = Path("runs/predict"),
    save_maps: Annotated[bool, typer.Option("--save-maps", help="also write anomaly maps and masks")] = False,
    group: Annotated[
        str | None, typer.Option("--group", help="asset name when the folders do not say")
    ] = None,
    threshold: Annotated[float | None, typer.Option("--threshold")] = None,
    pictures: Annotated[
        bool,
        typer.Option(
            "--pictures/--no-pictures", help="write <name>.annotated.png and <name>.panel.png (slower)"
        ),
    ] = True,
    emissivity: Emissivity = None,
    reflected_temp: ReflectedTemp = None,
    distance: Distance = None,
    humidity: Humidity = None,
    atmospheric_temp: AtmosphericTemp = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="processes side by side (default: one per core when there are 8 images per core or more)",
        ),
    ] = None,
    baseline: Annotated[
        list[str] | None,
        typer.Option(
            "--baseline",
            help="a baseline image (or folder) of the assets: each image is compared with the best aligned "
            "one, in °C (repeatable); 'auto': each image's asset's normal images, as train recorded them "
            "in the model (./auto for a file named auto)",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local: this machine's processes; ray: Ray tasks on the cluster RAY_ADDRESS names "
            "(a local Ray without it)",
        ),
    ] = "local",
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="skip images whose outputs in OUT are complete and newer than image and model"
        ),
    ] = False,
) -> None:
    """Score images; write OUT/<name>.json per image with temperatures and severities, pictures,
    summary.json and summary.md (worst first), and maps with --save-maps (anomaly map, mask, temperature
    TIFF). FLIR radiometric JPEGs are analysed from their raw temperatures."""
    from .pipeline import Inspector
    from .summary import summary_lines

    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"{engine!r} is not one of 'local', 'ray'", param_hint="--engine")
    _threads()
    inspector = Inspector.load(model_path)
    report = inspector.predict(
        paths,
        out,
        save_maps=save_maps,
        group=group,
        threshold=threshold,
        on_error=lambda p, e: _err(e),
        pictures=pictures,
        params=_radiometric_params(emissivity, reflected_temp, distance, humidity, atmospheric_temp),
        workers=workers,
        baselines=[Path(b) for b in baseline or () if b != "auto"],
        engine=engine,
        resume=resume,
        asset_baselines="auto" in (baseline or ()),
    )
    for line in summary_lines(report.summary):
        typer.echo(line)
    typer.echo(f"-> {out}")
    if report.errors:
        raise typer.Exit(code=1)


@app.command()
def temperature(
    paths: Annotated[list[Path], typer.Argument(help="image files and folders (recursive)")],
    out: Annotated[Path, typer.Option("--out")] = Path("runs/temperature"),
    emissivity: Emissivity = None,
    reflected_temp: ReflectedTemp = None,
    distance: Distance = None,
    humidity: Humidity = None,
    atmospheric_temp: AtmosphericTemp = None,
) -> None:
    """Write OUT/<name>.temperature.tiff (float32 °C or relative, NaN where not a temperature) and
    OUT/<name>.temperature.json per image; radiometric files are read from their raw data."""
    from .thermal.export import export_temperatures, summary_lines

    params = _radiometric_params(emissivity, reflected_temp, distance, humidity, atmospheric_temp)
    report = export_temperatures(paths, out, params=params, on_error=lambda p, e: _err(e))
    for line in summary_lines(report):
        typer.echo(line)
    typer.echo(f"-> {out}")
    if report.errors:
        raise typer.Exit(code=1)


@app.command()
def export(
    model_path: Annotated[Path, typer.Option("--model-path", help="model file from train")],
    out: Annotated[Path, typer.Option("--out", help="folder for the .onnx, its JSON and the parity report")],
    images: Annotated[
        list[Path] | None,
        typer.Argument(help="images or folders to check parity on (default: built-in demo images)"),
    ] = None,
) -> None:
    """Write OUT/backbone.onnx (the model's fixed tensor program), OUT/backbone.json (its inputs, scaling,
    outputs) and OUT/parity.json (ONNX Runtime on that file against eager PyTorch: anomaly maps, decisions).
    Exit status 1 when parity fails. Check parity on images the model was not fitted on."""
    from .onnx_export import export_model

    _threads()
    result = export_model(model_path, out, images or ())
    p = result.parity
    typer.echo(
        f"parity on {p['n_images']} images ({p['images_source']}): max |map difference| "
        f"{p['map_max_abs_diff']:.2g} (tolerance {p['map_tolerance']:g}), decisions identical: "
        f"{'yes' if p['decisions_identical'] else 'NO'} -> {'passed' if result.passed else 'FAILED'}"
    )
    for e in p["errors"]:
        _err(e["error"])
    for path in (result.onnx_path, result.spec_path, result.parity_path):
        typer.echo(str(path))
    if not result.passed:
        raise typer.Exit(code=1)


@app.command()
def experiment(
    data: Annotated[
        Path | None, typer.Option("--data", help="dataset folder; built-in demo data if omitted")
    ] = None,
    model: Annotated[str, typer.Option("--model")] = "patchcore",
    out: Annotated[Path, typer.Option("--out")] = Path("runs/experiment"),
    img_size: Annotated[int, typer.Option("--img-size")] = 256,
    epochs: Annotated[int, typer.Option("--epochs", help="AutoEncoders only")] = 50,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Train then test in one go (on built-in synthetic demo data without --data)."""
    from .pipeline import experiment as run_experiment

    _threads()
    metrics = run_experiment(data, model=model, out_dir=out, img_size=img_size, epochs=epochs, seed=seed)
    typer.echo(metrics["protocol"])
    _print_metrics(metrics)
    typer.echo(str(out / "test" / "metrics.json"))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="the service's state: database and files")
    ] = Path("runs/service"),
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="SQLAlchemy URL (postgresql+psycopg://...); SQLite in DATA_DIR by default"
        ),
    ] = None,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="largest upload accepted")] = 50.0,
    max_megapixels: Annotated[
        float, typer.Option("--max-megapixels", help="largest image accepted (decompression bombs)")
    ] = 50.0,
    fit_wait: Annotated[
        float, typer.Option("--fit-wait", help="seconds an inspection waits for its asset's model to fit")
    ] = 60.0,
    demo: Annotated[
        bool, typer.Option("--demo", help="load the built-in demo data as a first asset when there is none")
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="inspections scored at once (1: one after another)")
    ] = 1,
) -> None:
    """Serve the JSON API (/api/v1) and the web pages (/); the token comes from THERMAL_ANOMALY_TOKEN or is
    generated and printed."""
    import logging

    import uvicorn

    from .service import Service, Settings, create_app

    _threads()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    service_log = logging.getLogger("thermal_anomaly.service")
    service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        max_upload_bytes=int(max_upload_mb * 1024 * 1024),
        max_pixels=int(max_megapixels * 1e6),
        fit_wait_s=fit_wait,
        concurrency=max(1, concurrency),
    )
    try:
        svc = Service(settings)
    except Exception as exc:  # a database that cannot be reached or is newer than this program
        raise typer.BadParameter(" ".join(str(exc).split())[:300], param_hint="--database-url") from None
    if demo:
        from .service.demo import load_demo

        load_demo(svc)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if os.environ.get("THERMAL_ANOMALY_TOKEN"):
        typer.echo(f"open http://{shown}:{port}/ (sign in with THERMAL_ANOMALY_TOKEN)")
    else:
        typer.echo(f"token: {settings.token}")
        typer.echo(f"open http://{shown}:{port}/login?token={settings.token}")
    uvicorn.run(create_app(settings, svc), host=host, port=port, log_level="info")


def _print_metrics(metrics: dict) -> None:
    if metrics.get("table"):
        typer.echo(metrics["table"].rstrip())
    keys = (
        "image_auroc",
        "image_f1",
        "f1_at_threshold",
        "tpr_at_threshold",
        "fpr_at_threshold",
        "pixel_auroc",
        "pixel_aupro",
        "pixel_iou",
    )
    parts = [f"{k}={metrics[k]:.3f}" for k in keys if isinstance(metrics.get(k), float)]
    typer.echo("  ".join(parts))
    for e in metrics.get("errors", []):
        _err(e["error"])


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 1, never a traceback."""
    from .errors import ThermalAnomalyError

    try:
        rv = app(standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except ThermalAnomalyError as exc:
        _err(str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # usage errors of the (vendored) click layer, and anything unexpected
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            sys.exit(1)
        if os.environ.get(DEBUG_ENV):
            raise
        _err(f"{type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for details)")
        sys.exit(2)


if __name__ == "__main__":
    main()
