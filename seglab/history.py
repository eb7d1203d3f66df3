"""Past runs in a reports folder: list them, compare two, and keep only the last N."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from seglab.errors import ConfigError
from seglab.runfolder import RunFolder


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def list_runs(out: Path) -> pd.DataFrame:
    """List every run folder under ``out``, oldest first.

    Parameters
    ----------
    out : pathlib.Path
        The reports folder.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``run_id``, ``status`` (``succeeded``, ``failed`` or
        ``incomplete`` for an interrupted run), ``started_at``, ``data``,
        ``customers``, ``revenue``, ``profit``, ``method``, ``k``, ``latest``.
    """
    columns = ["run_id", "status", "started_at", "data", "customers", "revenue", "profit",
               "method", "k", "latest"]
    if not out.is_dir():
        return pd.DataFrame(columns=columns)
    latest = (out / "latest").resolve().name if (out / "latest").exists() else None
    rows = []
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink()):
        partial = folder.name.startswith(".") and folder.name.endswith(".partial")
        if folder.name.startswith(".") and not partial:
            continue
        manifest = _read(RunFolder(folder).manifest)
        metrics = _read(RunFolder(folder).metrics)
        data = manifest.get("inputs", {}).get("data", {})
        rows.append({
            "run_id": folder.name.strip(".").removesuffix(".partial"),
            "status": "incomplete" if partial else manifest.get("status", "incomplete"),
            "started_at": manifest.get("started_at"),
            "data": data.get("path") or data.get("synthetic"),
            "customers": metrics.get("features", {}).get("customers"),
            "revenue": metrics.get("profit", {}).get("revenue"),
            "profit": metrics.get("profit", {}).get("profit"),
            "method": metrics.get("clustering", {}).get("chosen_method"),
            "k": metrics.get("clustering", {}).get("k"),
            "latest": folder.name == latest,
        })
    runs = pd.DataFrame(rows, columns=columns)
    return runs.sort_values(["started_at", "run_id"], na_position="first", ignore_index=True)


def _run_folder(out: Path, run_id: str) -> Path:
    folder = out / run_id
    if not RunFolder(folder).metrics.is_file():
        known = ", ".join(list_runs(out)["run_id"]) or "none"
        raise ConfigError(f"{folder}: no such run (runs in {out}: {known}).")
    return folder.resolve()


def _segment_sizes(folder: Path) -> pd.Series:
    path = RunFolder(folder).segments
    if not path.exists():
        return pd.Series(dtype=float)
    segments = pd.read_csv(path)
    label = segments["persona"] if "persona" in segments else segments["segment"]
    return pd.Series(segments["customers"].to_numpy(), index=label.astype(str))


def compare_runs(out: Path, run_a: str, run_b: str) -> dict[str, pd.DataFrame]:
    """Compare two runs: headline figures, method, BG/NBD parameters and segment sizes.

    Parameters
    ----------
    out : pathlib.Path
        The reports folder.
    run_a, run_b : str
        Run ids (``latest`` allowed); changes are reported from A to B.

    Returns
    -------
    dict of pandas.DataFrame
        ``"figures"``: one row per figure with ``a``, ``b``, ``change``;
        ``"segments"``: customers per segment (persona) in A and B, with the shift in
        share of customers.

    Raises
    ------
    ConfigError
        If a run does not exist.
    """
    return compare_folders(_run_folder(out, run_a), _run_folder(out, run_b))


def compare_folders(folder_a: Path, folder_b: Path) -> dict[str, pd.DataFrame]:
    """Compare two run folders; see :func:`compare_runs`.

    Parameters
    ----------
    folder_a, folder_b : pathlib.Path
        Run folders holding ``metrics.json`` (and ``segments.csv``).

    Returns
    -------
    dict of pandas.DataFrame
        ``"figures"`` and ``"segments"``.
    """
    folders = [folder_a, folder_b]
    metrics = [_read(RunFolder(f).metrics) for f in folders]

    def figure(m: dict, section: str, key: str) -> object:
        return m.get(section, {}).get(key)

    wanted = [
        ("customers", "features", "customers"), ("revenue", "profit", "revenue"),
        ("profit", "profit", "profit"),
        ("unprofitable customer share", "profit", "unprofitable_customer_share"),
        ("clustering method", "clustering", "chosen_method"), ("k", "clustering", "k"),
        ("silhouette", "clustering", "silhouette"),
    ]
    rows = [{"figure": label, "a": figure(metrics[0], s, k), "b": figure(metrics[1], s, k)}
            for label, s, k in wanted]
    for name in ("r", "alpha", "a", "b"):
        rows.append({"figure": f"BG/NBD {name}", "a": figure(metrics[0], "bgnbd", name),
                     "b": figure(metrics[1], "bgnbd", name)})
    figures = pd.DataFrame(rows)
    numeric = figures[["a", "b"]].apply(pd.to_numeric, errors="coerce")
    figures["change"] = numeric["b"] - numeric["a"]
    figures["changed"] = [
        not (a == b or (pd.isna(a) and pd.isna(b)))
        for a, b in zip(figures["a"], figures["b"], strict=True)
    ]

    sizes = pd.DataFrame({"a": _segment_sizes(folders[0]), "b": _segment_sizes(folders[1])})
    sizes = sizes.fillna(0).astype(int)
    totals = sizes.sum().replace(0, 1)
    sizes["share_shift"] = sizes["b"] / totals["b"] - sizes["a"] / totals["a"]
    return {"figures": figures, "segments": sizes.rename_axis("segment").reset_index()}


def prune_runs(out: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` finished runs; never the one ``latest`` names.

    Parameters
    ----------
    out : pathlib.Path
        The reports folder.
    keep : int
        Runs to keep (at least 1).

    Returns
    -------
    list of str
        Run ids deleted.
    """
    if keep < 1:
        raise ConfigError(f"keep={keep} should be at least 1.")
    runs = list_runs(out)
    finished = runs[runs["status"] != "incomplete"]
    doomed = finished.iloc[: max(0, len(finished) - keep)]
    doomed = doomed[~doomed["latest"]]
    for run_id in doomed["run_id"]:
        shutil.rmtree(out / run_id)
    return list(doomed["run_id"])
