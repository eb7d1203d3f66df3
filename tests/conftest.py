"""Shared fixtures: small seeded transaction logs."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from seglab.runfolder import SCRATCH_VARIABLE, write_json

if TYPE_CHECKING:
    from jupyter_client.manager import KernelManager

# A notebook opened on its own (run_dir "") works in a scratch folder: a fresh one per test
# process, so no test depends on what an earlier run left, and two pytest-xdist workers
# never share one (the notebooks under nbval get one of their own: NotebookScratch).
# Kernels started later inherit the variable.
os.environ[SCRATCH_VARIABLE] = tempfile.mkdtemp(prefix="seglab-scratch-")

#: Test files whose tests pytest-xdist may spread over workers one by one; every other
#: file runs whole on one worker (its module fixtures are built once).
SPREAD_FILES = ("test_data_shapes.py",)
#: Files that run on one worker together: those reading the shared small run
#: (:func:`small_run`) or finished run (:func:`finished_run`), so each is built once and no
#: worker waits for the other to build it;
#: and the notebooks under nbval, which run in order on one study (each one's cells in
#: one kernel, and each notebook reads what the one before wrote).
SHARED_UNITS = {"test_run.py": "small-run", "test_scheduling.py": "small-run",
                "test_report.py": "small-run",
                "test_runfolder.py": "finished-run", "test_workspace.py": "finished-run"}
NOTEBOOKS_UNIT = "notebooks"
#: Work units handed out first, longest first (CPU seconds: about 155, 100, 65), so
#: that no long unit starts last and decides the wall time alone; the rest follow in
#: pytest-xdist's order (most tests first, so the data shapes, one test each, come last
#: and even out the two workers' ends).
FIRST_UNITS = ("small-run", "test_spark.py", NOTEBOOKS_UNIT)


def work_unit(nodeid: str) -> str:
    """The work unit of a test under ``-n 2 --dist loadgroup``: one test, a file or a group."""
    name = Path(nodeid.split("::", 1)[0]).name
    if name in SPREAD_FILES:
        return nodeid
    if name.endswith(".ipynb"):
        return NOTEBOOKS_UNIT
    return SHARED_UNITS.get(name, name)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Schedule ``--dist loadgroup`` by :func:`work_unit`, :data:`FIRST_UNITS` first.

    pytest-xdist 3.8 marks a group by renaming the test (``nodeid@group``), which pytest 9
    ignores, so ``xdist_group`` markers would not keep a file on one worker: a module
    fixture would be built on both. Grouping here does not depend on that.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    rank = {unit: i for i, unit in enumerate(FIRST_UNITS)}

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            # The base class hands out the queue's first unit: put the longest first.
            first = min(self.workqueue, key=lambda unit: rank.get(unit, len(rank)))
            self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return UnitScheduling(config, log)


class NotebookScratch:
    """Give the notebooks under nbval a scratch folder of their own, fresh for this run.

    A plugin, not a conftest hook, so that it sees the notebooks outside ``tests/``; the
    first notebook's kernel starts after this and inherits the variable.
    """

    def __init__(self) -> None:
        self.folder: str | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.path.suffix == ".ipynb" and self.folder is None:
            self.folder = tempfile.mkdtemp(prefix="seglab-nbval-")
            os.environ[SCRATCH_VARIABLE] = self.folder


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(NotebookScratch(), "seglab-notebook-scratch")


SHARED_RETAIL = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail"
    / "online_retail_2010_2011.csv.gz"
)


def random_transactions(n_customers: int = 60, seed: int = 0) -> pd.DataFrame:
    """A small canonical log: several lines per order, some returns, three channels."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        n_orders = int(rng.integers(1, 8))
        start = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
        for o in range(n_orders):
            when = start + pd.Timedelta(days=int(rng.integers(0, 400)),
                                        hours=int(rng.integers(8, 20)))
            channel = ["store", "online", "app"][int(rng.integers(0, 3))]
            for line in range(int(rng.integers(1, 4))):
                quantity = float(rng.integers(1, 4))
                price = float(np.round(rng.lognormal(3, 0.6), 2))
                returned = rng.random() < 0.05
                rows.append({
                    "customer_id": f"{c:05d}",
                    "order_id": f"{'R' if returned else 'O'}{c:05d}-{o}",
                    "order_date": when,
                    "product_id": f"P{int(rng.integers(0, 30))}",
                    "category": ["Home", "Beauty", "Books"][line % 3],
                    "channel": channel,
                    "store": "Mall" if channel == "store" else pd.NA,
                    "quantity": -quantity if returned else quantity,
                    "unit_price": price,
                    "amount": (-quantity if returned else quantity) * price,
                    "discount": 0.0 if rng.random() < 0.7 else round(price * 0.1, 2),
                })
    tx = pd.DataFrame(rows).sort_values(["order_date", "order_id"], ignore_index=True)
    for column in ("customer_id", "order_id", "product_id", "category", "channel", "store"):
        tx[column] = tx[column].astype("string")
    return tx


@pytest.fixture
def transactions() -> pd.DataFrame:
    return random_transactions()


def dirty_log(transactions: pd.DataFrame, as_of: pd.Timestamp, *, extreme_amount: float,
              seed: int = 0) -> pd.DataFrame:
    """``transactions`` plus lines only the row-filter cleaning rules remove.

    Exact copies of lines (some with padded text, copies once stripped), lines without
    customer id (missing or blank), non-product codes (listed, padded lower-case, a gift
    voucher), prices of zero and below, adjustments, no date, no amount, lines after
    ``as_of``, padded text on kept lines, and a line of amount ``extreme_amount`` with
    the line cancelling it (same customer and product, opposite quantity, small amount).
    """
    rng = np.random.default_rng(seed)
    tx = transactions.reset_index(drop=True).copy()

    def pick(n: int) -> pd.DataFrame:
        return tx.iloc[rng.choice(len(tx), n, replace=False)].copy()

    kept_padding = rng.choice(len(tx), 20, replace=False)
    tx.loc[kept_padding, "channel"] = " " + tx.loc[kept_padding, "channel"] + "  "
    padded = pick(20)
    padded["category"] = "  " + padded["category"] + " "
    parts = [tx, pick(40), padded, pick(10).assign(customer_id=pd.NA),
             pick(5).assign(customer_id="  "), pick(5).assign(unit_price=0.0),
             pick(4).assign(unit_price=-1.0, amount=-3.0), pick(3).assign(order_id="A563185"),
             pick(3).assign(order_date=pd.NaT), pick(3).assign(amount=np.nan),
             pick(5).assign(order_date=as_of + pd.Timedelta(days=3))]
    parts += [pick(3).assign(product_id=code)
              for code in ("POST", " post ", "gift_0001_20", "BANK CHARGES")]
    whale = tx.iloc[[0]].assign(quantity=400.0, unit_price=extreme_amount / 400,
                                amount=extreme_amount)
    cancel = whale.assign(quantity=-400.0, unit_price=0.5, amount=-200.0,
                          order_date=whale["order_date"] + pd.Timedelta(hours=2))
    parts += [whale, cancel, cancel.assign(product_id="P-OTHER")]  # the last one is kept
    out = pd.concat(parts, ignore_index=True)
    for column in transactions.columns:
        if pd.api.types.is_string_dtype(transactions[column].dtype):
            out[column] = out[column].astype("string")
    return out


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A small finished run: every stage's files, and a manifest saying it finished.

    Built with the stage functions (a few cheap methods) rather than ``seglab run``;
    the manifest is what ``seglab run`` writes last. Its costs differ from the
    defaults (``return_cost`` 20), so tests can see which costs a stage charged.
    """
    from seglab import study
    from seglab.runfolder import RunFolder

    def build(reports: Path) -> None:
        folder = reports / "finished"
        study.stage_inputs(folder, n_customers=300, seed=1, campaigns="synthetic",
                           costs={"return_cost": 20.0})
        study.clean_stage(folder)
        study.feature_stage(folder)
        study.cluster_stage(folder, methods="kmeans,gmm", k_max=4, n_resamples=1)
        study.profit_stage(folder)
        study.dynamics_stage(folder, steps=2)
        study.products_stage(folder)
        study.campaigns_stage(folder)
        write_json(RunFolder(folder).manifest, {"run_id": "finished", "status": "succeeded",
                                                "finished_at": "2024-06-01T00:00:00+00:00"})

    # Built once a session, whichever worker asks first (test_runfolder, test_workspace).
    return build_once(session_folder(tmp_path_factory) / "finished-run", build) / "finished"


def checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    import hashlib

    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


# --- the shared small run --------------------------------------------------------------------

#: The small study read by several test files: the embedded synthetic data through
#: ``seglab run``, with a params file (``seed`` from the file, not ``--seed``).
SMALL_RUN_PARAMS = {"k_max": 5, "seed": 3}
SMALL_RUN_OPTIONS = ("--synthetic-customers", "500", "--quiet")
SMALL_RUN_ID = "first"
#: Notebook parameters for a whole study whose test looks at neither the clustering nor the
#: dynamics figures (completion, notes, masking, escaping): two clustering methods
#: (k-means and HDBSCAN, which can call everyone noise), one refit, three snapshots of
#: the three value tiers (the eleven RFM segments are followed in the small run).
FAST_PARAMS = {"methods": "kmeans,hdbscan", "k_max": 3, "n_resamples": 1, "steps": 2,
               "05-segment-dynamics": {"segment_col": "value_tier"}}


def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this test session that every pytest-xdist worker shares."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(folder: Path, build) -> Path:
    """Run ``build(folder)`` once per test session, whichever worker asks first.

    The others wait for it (a lock file beside ``folder``) and then read what it built;
    a build that failed is tried again by the next one who asks.
    """
    done = folder.with_name(folder.name + ".done")
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def study_kernel() -> Iterator[KernelManager]:
    """One Python kernel per test process for the whole studies the tests run.

    ``seglab run`` starts a kernel per notebook, and each one imports seglab and warms up
    (about 3 CPU s, 20 a study); studies run in one kernel write the same files and pages
    (``test_scheduling`` compares a run made here with a ``seglab run`` of its own,
    byte for byte). Give it to :func:`seglab.run.run_study` or :func:`notebooks_in`.
    """
    from seglab.run import local_kernel

    with local_kernel() as kernel:
        yield kernel


@pytest.fixture(scope="session")
def layout_kernel() -> Iterator[KernelManager]:
    """Like :func:`study_kernel`, but each chart is laid out, not painted.

    For whole studies that check what the run writes and says, not its pictures (the data
    shapes, the Chinese run): ``tests/layout_only.py`` keeps every drawing error (text that
    cannot be laid out, a glyph missing from the font, a picture too large to paint) and
    skips the pixels, a quarter of a small study's CPU time. Cells show a figure's text
    line instead of its PNG.
    """
    from seglab.run import local_kernel

    with local_kernel() as kernel:
        kernel.start_kernel(extra_arguments=[
            f"--IPKernelApp.exec_files={[str(Path(__file__).with_name('layout_only.py'))]}"])
        yield kernel


@contextlib.contextmanager
def notebooks_in(kernel: KernelManager) -> Iterator[None]:
    """Run ``seglab run`` (the CLI, in this process) with every notebook in ``kernel``."""
    from seglab import run

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run, "local_kernel", lambda: contextlib.nullcontext(kernel))
        yield


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory, study_kernel: KernelManager) -> Path:
    """A reports folder with one finished run, ``first`` (``latest``), built once a session.

    ``seglab run`` with :data:`SMALL_RUN_OPTIONS` and the params file
    :data:`SMALL_RUN_PARAMS` (written as ``params.yaml`` beside the run), its notebooks
    in :func:`study_kernel`. Shared by every test that reads it: never write into it; a
    test that runs ``seglab run`` there works on :func:`copy_run`.
    """
    import yaml
    from typer.testing import CliRunner

    from seglab.cli import app

    def build(out: Path) -> None:
        params = out / "params.yaml"
        params.write_text(yaml.safe_dump(SMALL_RUN_PARAMS))
        with notebooks_in(study_kernel):
            result = CliRunner().invoke(app, ["run", "--out", str(out), "--run-id",
                                              SMALL_RUN_ID, "--params", str(params),
                                              *SMALL_RUN_OPTIONS])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == str(out / SMALL_RUN_ID / "index.html")

    return build_once(session_folder(tmp_path_factory) / "small-run", build)


def copy_run(reports: Path, to: Path) -> Path:
    """Copy a reports folder (its run folders, ``latest`` link and lock file) to ``to``."""
    shutil.copytree(reports, to, symlinks=True)
    return to
