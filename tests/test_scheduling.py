"""Runs a scheduler can rely on: deterministic, atomic, locked (masked and escaped: the
markup shape of test_data_shapes)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from conftest import SMALL_RUN_OPTIONS, copy_run
from typer.testing import CliRunner

from seglab import history
from seglab.cli import EXIT_LOCKED, app
from seglab.run import NOTEBOOKS, reports_lock

runner = CliRunner()
#: A small study, for runs that are refused or killed before they compute anything.
FAST = ["--synthetic-customers", "200", "--quiet"]
SHARED_FILES = ("customers.csv", "segments.csv", "clustering_comparison.csv",
                "cleaning_log.csv", "segment_products.csv", "segment_categories.csv",
                "basket_rules.csv", "category_rules.csv", "recommendations.csv")


def _run(out: Path, *args: str):
    return runner.invoke(app, ["run", "--out", str(out), *args])


@pytest.fixture(scope="module")
def second_run(small_run, tmp_path_factory) -> tuple[Path, Result]:
    """The shared small run ``first`` (conftest) and ``two``, run again with the same params.

    ``two`` is a ``seglab run`` in another process, a fresh kernel per notebook (``first``
    ran its notebooks in one kernel); while it writes, a third run into the same folder
    is tried (returned with the folder): it must be refused and leave ``two`` as ``first``.
    """
    out = copy_run(small_run, tmp_path_factory.mktemp("twice") / "reports")
    two = subprocess.Popen(
        [sys.executable, "-m", "seglab.cli", "run", "--out", str(out), "--run-id", "two",
         "--params", str(out / "params.yaml"), *SMALL_RUN_OPTIONS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / ".two.partial").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    meanwhile = _run(out, "--run-id", "b", *FAST)
    printed, err = two.communicate(timeout=900)
    assert two.returncode == 0, err
    assert printed.strip() == str(out / "two" / "index.html")
    return out, meanwhile


@pytest.fixture(scope="module")
def two_runs(second_run) -> Path:
    return second_run[0]


#: Measured timings are exempt from byte equality, like timestamps.
TIMING_COLUMNS = ("seconds",)


def _without_timings(path: Path) -> str:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return table.drop(columns=[c for c in TIMING_COLUMNS if c in table]).to_csv(index=False)


#: Cells of notebook 07 that compare with the previous run of the reports folder: run
#: "first" has none, "two" has "first", so these differ by design.
MOVES_CELLS = ("cell-28", "cell-29", "cell-30", "cell-31", "cell-32")


def _page_without(page: Path, cells: tuple[str, ...]) -> str:
    """A report page without the given cells (each cell is one ``jp-Cell`` div)."""
    parts = re.split(r'(?=<div class="jp-Cell )', page.read_text())
    return "".join(p for p in parts if not any(f'id="cell-id={c}"' in p for c in cells))


def test_same_seed_gives_byte_identical_results(two_runs):
    for name in SHARED_FILES:
        one, two = (two_runs / run / name for run in ("first", "two"))
        if name == "clustering_comparison.csv":
            assert _without_timings(one) == _without_timings(two)
        else:
            assert one.read_bytes() == two.read_bytes(), name
    for name, _, _ in NOTEBOOKS:
        skip = MOVES_CELLS if name == "07-campaigns" else ()
        a, b = (_page_without(two_runs / run / f"{name}.html", skip) for run in ("first", "two"))
        assert a == b, f"{name}.html differs between runs"
    for name in ("audiences.csv", "growth_accessibility.csv"):
        assert (two_runs / "first" / name).read_bytes() == (two_runs / "two" / name).read_bytes()
    # The same study twice: nobody moved between the two runs.
    assert pd.read_csv(two_runs / "two" / "segment_moves.csv").empty


def test_index_shows_changes_since_previous_run(two_runs):
    index = (two_runs / "two" / "index.html").read_text()
    assert "Changes since the previous run (first)" in index
    assert "No headline figure changed." in index


def test_history_lists_and_compares(two_runs):
    runs = history.list_runs(two_runs)
    assert list(runs["run_id"]) == ["first", "two"]
    assert list(runs["latest"]) == [False, True]
    assert (runs["status"] == "succeeded").all()
    result = runner.invoke(app, ["compare", "first", "two", "--out", str(two_runs)])
    assert result.exit_code == 0 and "customers" in result.output
    listing = runner.invoke(app, ["runs", "--out", str(two_runs)])
    assert "<- latest" in listing.output and "first" in listing.output


def test_killed_run_leaves_latest_intact(two_runs):
    before = os.readlink(two_runs / "latest")
    process = subprocess.Popen(
        [sys.executable, "-m", "seglab.cli", "run", "--out", str(two_runs), "--run-id",
         "killed", *FAST], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    partial = two_runs / ".killed.partial" / "notebooks"
    deadline = time.monotonic() + 120
    while not partial.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert partial.exists(), "the run never started a notebook"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert os.readlink(two_runs / "latest") == before
    assert not (two_runs / "killed").exists()
    status = history.list_runs(two_runs).set_index("run_id")["status"]
    assert status["killed"] == "incomplete"
    shutil.rmtree(two_runs / ".killed.partial")


def test_second_run_is_refused_while_the_folder_is_locked(tmp_path):
    with reports_lock(tmp_path):
        result = _run(tmp_path, *FAST)
    assert result.exit_code == EXIT_LOCKED
    assert "another seglab run is writing here (pid" in result.output
    assert "--wait" in result.output


def test_wait_waits_for_the_lock(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,order_date,amount\nA,soon,1\n")
    held, released = threading.Event(), threading.Event()

    def hold() -> None:
        with reports_lock(tmp_path):
            held.set()
            time.sleep(1.5)
            released.set()  # last thing before the lock is let go

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    result = _run(tmp_path, "--wait", "--data", str(bad), "-q")
    finished_after_release = released.is_set()
    thread.join()
    assert finished_after_release  # it queued behind the holder, then read the data
    assert result.exit_code == 2 and "bad.csv" in result.output


def test_concurrent_runs_do_not_corrupt_each_other(second_run):
    out, meanwhile = second_run
    assert meanwhile.exit_code == EXIT_LOCKED  # tried while two was running
    assert os.readlink(out / "latest") == "two"
    assert not (out / "b").exists()
    # two's files equal first's: test_same_seed_gives_byte_identical_results


def test_mask_pii_option_reaches_the_run(monkeypatch, tmp_path):
    given = []
    monkeypatch.setattr("seglab.run.run_study",
                        lambda options, **_: given.append(options) or tmp_path / "index.html")
    result = _run(tmp_path, "--mask-pii", "-q")
    assert result.exit_code == 0, result.output
    assert [options.mask_pii for options in given] == [True]


def test_prune_keeps_newest_and_latest(tmp_path):
    for i, run_id in enumerate(["r1", "r2", "r3"]):
        folder = tmp_path / run_id
        folder.mkdir()
        (folder / "manifest.json").write_text(
            f'{{"status": "succeeded", "started_at": "2026-01-0{i + 1}"}}')
    os.symlink("r1", tmp_path / "latest")
    assert history.prune_runs(tmp_path, keep=1) == ["r2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "r1", "r3"]
