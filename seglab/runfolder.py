"""The run folder's contract: every file a study leaves, and the study's settings.

A run folder is a catalog (as kedro's ``catalog.yml``): :class:`RunFolder` names each
file once, and no other module spells a file name. :class:`StudyMeta` holds what is
decided once, when the inputs are staged (analysis date, source, seed, engine, time
unit, costs, what the data supports), written to ``study.json`` by
:func:`write_study` and read, typed, by every stage with :func:`read_study`.

A run that finished (its ``manifest.json`` has ``finished_at``) is read-only: the
stages call :meth:`RunFolder.check_writable` before writing anything, and point the
user at ``seglab lab`` to try other parameters in a workspace.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seglab.errors import ConfigError
from seglab.i18n import DEFAULT_LANGUAGE
from seglab.support import DataSupport

#: Environment variable naming the scratch folder of notebooks run on their own
#: (default ``<temp>/seglab-scratch``); the tests give each test process its own.
SCRATCH_VARIABLE = "SEGLAB_SCRATCH"


@dataclass(frozen=True)
class RunFolder:
    """Every file of a run folder, one property each.

    ``RunFolder(Path())`` gives the names relative to the folder (:data:`FILES`), for
    lists of files such as the index page's.

    Parameters
    ----------
    path : pathlib.Path
        The run folder (a finished run, a run being built, a workspace or scratch).
    """

    path: Path

    # --- Inputs, staged once (``study.stage_inputs``) ----------------------------------

    @property
    def inputs(self) -> Path:
        """Folder of the staged inputs (never written after staging)."""
        return self.path / "inputs"

    @property
    def study(self) -> Path:
        """The study's settings (:class:`StudyMeta`), JSON."""
        return self.path / "study.json"

    @property
    def staged_transactions(self) -> Path:
        """Canonical transactions of a log studied in memory, Parquet."""
        return self.inputs / "transactions.parquet"

    @property
    def staged_partition(self) -> Path:
        """A large log split into customer buckets, a Parquet folder."""
        return self.inputs / "transactions"

    @property
    def staged_customers(self) -> Path:
        """Canonical customer attributes (``--customers``), Parquet."""
        return self.inputs / "customers.parquet"

    @property
    def truth(self) -> Path:
        """The synthetic study's planted segment per customer, CSV."""
        return self.inputs / "truth.csv"

    @property
    def exposures(self) -> Path:
        """Campaign exposures (``--campaigns``), Parquet."""
        return self.inputs / "exposures.parquet"

    @property
    def campaign_truth(self) -> Path:
        """The planted campaigns' lifts (synthetic data), CSV."""
        return self.inputs / "campaign_truth.csv"

    @property
    def overview(self) -> Path:
        """Key figures of a large log, JSON."""
        return self.inputs / "overview.json"

    @property
    def missing_values(self) -> Path:
        """Missing values of a large log, CSV."""
        return self.inputs / "missing_values.csv"

    # --- Written by the stages ------------------------------------------------------

    @property
    def transactions(self) -> Path:
        """Clean transactions (notebook 01), Parquet."""
        return self.path / "transactions.parquet"

    @property
    def clean_partition(self) -> Path:
        """A large log's clean transactions, partitioned as its input (notebook 01)."""
        return self.path / "transactions"

    @property
    def cleaning_log(self) -> Path:
        """Every row cleaning dropped or changed (notebook 01), CSV."""
        return self.path / "cleaning_log.csv"

    @property
    def customers(self) -> Path:
        """The customer table, one row per customer, more columns per stage; Parquet."""
        return self.path / "customers.parquet"

    @property
    def customers_csv(self) -> Path:
        """The customer table as the CRM export, CSV."""
        return self.path / "customers.csv"

    @property
    def feature_transform(self) -> Path:
        """The fitted clustering transform (notebook 02), joblib."""
        return self.path / "feature_transform.joblib"

    @property
    def clustering_comparison(self) -> Path:
        """Every clustering method scored (notebook 03), CSV."""
        return self.path / "clustering_comparison.csv"

    @property
    def k_selection(self) -> Path:
        """Every k tried per method (notebook 03), CSV."""
        return self.path / "k_selection.csv"

    @property
    def cluster_agreement(self) -> Path:
        """Pairwise agreement of the methods (notebook 03), CSV."""
        return self.path / "cluster_agreement.csv"

    @property
    def cluster_model(self) -> Path:
        """The chosen method as a ``cluster.SegmentModel`` (notebook 03), joblib."""
        return self.path / "cluster_model.joblib"

    @property
    def segments(self) -> Path:
        """One row per segment: persona, P&L, CLV, strategy (notebook 04), CSV."""
        return self.path / "segments.csv"

    @property
    def segment_migration(self) -> Path:
        """Customers and revenue moving between segments (notebook 05), CSV."""
        return self.path / "segment_migration.csv"

    @property
    def segment_monitoring(self) -> Path:
        """Each segment's figures over time (notebook 05), CSV."""
        return self.path / "segment_monitoring.csv"

    @property
    def segment_products(self) -> Path:
        """Each segment's distinguishing products (notebook 06), CSV."""
        return self.path / "segment_products.csv"

    @property
    def segment_categories(self) -> Path:
        """Each segment's distinguishing categories (notebook 06), CSV."""
        return self.path / "segment_categories.csv"

    @property
    def basket_rules(self) -> Path:
        """Product pair rules per segment (notebook 06), CSV."""
        return self.path / "basket_rules.csv"

    @property
    def category_rules(self) -> Path:
        """Category pair rules per segment (notebook 06), CSV."""
        return self.path / "category_rules.csv"

    @property
    def recommendations(self) -> Path:
        """Next-product offers per customer (notebook 06), CSV."""
        return self.path / "recommendations.csv"

    @property
    def audiences(self) -> Path:
        """Contactable customers with their group (notebook 07), CSV."""
        return self.path / "audiences.csv"

    @property
    def next_tier(self) -> Path:
        """Customers one order from the next membership tier (notebook 07), CSV."""
        return self.path / "next_tier.csv"

    @property
    def segment_moves(self) -> Path:
        """Customers who entered or left a segment since the previous run (notebook 07), CSV."""
        return self.path / "segment_moves.csv"

    @property
    def growth_accessibility(self) -> Path:
        """Each customer's growth x accessibility quadrant (notebook 07), CSV."""
        return self.path / "growth_accessibility.csv"

    @property
    def campaign_readout(self) -> Path:
        """Each campaign's effects per segment and metric (notebook 07), CSV."""
        return self.path / "campaign_readout.csv"

    @property
    def metrics(self) -> Path:
        """Key figures, a section per stage, JSON (results only, never settings)."""
        return self.path / "metrics.json"

    # --- Written by ``seglab run`` ----------------------------------------------------

    @property
    def manifest(self) -> Path:
        """Parameters, input checksums, versions, status and timings, JSON."""
        return self.path / "manifest.json"

    @property
    def index(self) -> Path:
        """The run's front page, HTML."""
        return self.path / "index.html"

    @property
    def data_dictionary(self) -> Path:
        """Every column of the run's CSV files: labels in each language, meaning, CSV."""
        return self.path / "data_dictionary.csv"

    @property
    def notebooks(self) -> Path:
        """Executed notebooks (a run), or the notebooks bound to a workspace."""
        return self.path / "notebooks"

    def notebook(self, name: str) -> Path:
        """Return the executed (or workspace) copy of notebook ``name``."""
        return self.notebooks / f"{name}.ipynb"

    def report(self, name: str) -> Path:
        """Return the rendered report of notebook ``name``, HTML."""
        return self.path / f"{name}.html"

    # --- Finished runs are read-only ---------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether ``seglab run`` finished this folder (its manifest has ``finished_at``)."""
        return bool(read_json(self.manifest).get("finished_at")) if self.manifest.is_file() \
            else False

    def check_writable(self) -> None:
        """Refuse to write into a finished run.

        Raises
        ------
        ConfigError
            If the manifest says the run finished; the message says how to open a
            workspace on its inputs instead.
        """
        if self.finished:
            raise ConfigError(
                f"{self.path} is a finished run and is read-only (its report must keep "
                f"matching its files); to try other parameters on its data, open a "
                f"workspace: seglab lab {self.path}")


#: The run folder's files relative to the folder (``FILES.customers_csv`` is
#: ``customers.csv``), for lists of names.
FILES = RunFolder(Path())


def open_run(run_dir: str | Path | None) -> RunFolder:
    """Return the run folder, creating it; empty means a scratch folder for trying out.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder given by ``seglab run`` or ``seglab lab``, or empty for a notebook
        opened on its own (the folder ``$SEGLAB_SCRATCH``, default
        ``<temp>/seglab-scratch``).

    Returns
    -------
    RunFolder
        An existing folder.
    """
    scratch = os.environ.get(SCRATCH_VARIABLE) or Path(tempfile.gettempdir()) / "seglab-scratch"
    path = Path(run_dir) if run_dir else Path(scratch)
    path.mkdir(parents=True, exist_ok=True)
    return RunFolder(path)


def open_for_writing(run_dir: str | Path | None) -> RunFolder:
    """Return the run folder a stage writes into (see :func:`open_run`).

    Raises
    ------
    ConfigError
        If it is a finished run (:meth:`RunFolder.check_writable`).
    """
    run = open_run(run_dir)
    run.check_writable()
    return run


# --- JSON files ---------------------------------------------------------------------------


def json_ready(value: Any) -> Any:
    """Convert numpy numbers, NaN and timestamps to JSON values (floats to 6 decimals)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 6)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def read_json(path: Path) -> dict:
    """Read a JSON file, or return an empty dict when it does not exist."""
    return json.loads(path.read_text()) if path.exists() else {}


def write_json(path: Path, data: dict, *, exact: bool = False) -> None:
    """Write ``data`` as indented JSON, replacing the file atomically.

    Numbers are rounded to 6 decimals (:func:`json_ready`) unless ``exact``.
    """
    tmp = path.with_suffix(path.suffix + ".tmp")
    ready = data if exact else json_ready(data)
    tmp.write_text(json.dumps(ready, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


# --- The study's settings -----------------------------------------------------------------

#: Periods the lifetimes RFM columns may be counted in.
TIME_UNITS: tuple[str, ...] = ("D", "W", "M")


@dataclass(frozen=True)
class StudyMeta:
    """What a study decided once, when its inputs were staged (``study.json``).

    Attributes
    ----------
    as_of : pandas.Timestamp
        Analysis date (a day; it counts whole).
    source : str
        Where the transactions came from, for a reader (a path, or a description of
        the synthetic data).
    synthetic : bool
        Whether the data is the embedded synthetic study.
    seed : int
        Seed of the study (of the synthetic data, and the notebooks' default).
    n_customers : int or None
        Customers of the synthetic data (None for real data); with ``seed`` it
        regenerates the planted truth.
    engine : {"duckdb", "spark"}
        Engine of the customer aggregation.
    support : seglab.support.DataSupport
        What the staged log holds.
    time_unit : {"D", "W", "M"}
        Period of the lifetimes RFM columns and the purchase models.
    costs : dict
        The cost table every stage charges (every :class:`seglab.profit.CostTable`
        field), resolved at staging from the defaults and the params file's ``costs``.
    mask_pii : bool
        Whether reports show customer ids as pseudonyms.
    campaigns : str or None
        None without campaign exposures; else the note on how their group labels were
        read ("" when nothing was mapped).
    partition : dict or None
        A large log's customer buckets (:meth:`seglab.buckets.Partition.to_json`, path
        relative to the run folder); None for a log in memory.
    sample_buckets : tuple of int
        Buckets whose customers form a large log's sample.
    lang : {"en", "zh"}
        Language of the reports.
    """

    as_of: pd.Timestamp
    source: str
    synthetic: bool
    seed: int
    n_customers: int | None
    engine: str
    support: DataSupport
    time_unit: str = "D"
    costs: dict[str, Any] = field(default_factory=dict)
    mask_pii: bool = False
    campaigns: str | None = None
    partition: dict[str, Any] | None = None
    sample_buckets: tuple[int, ...] = ()
    lang: str = DEFAULT_LANGUAGE

    def cost_table(self) -> Any:
        """Return the study's costs as a :class:`seglab.profit.CostTable`."""
        from seglab import profit

        return profit.CostTable(**self.costs)

    def to_json(self) -> dict[str, Any]:
        """Return the record as JSON values (costs exactly as given)."""
        out = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, DataSupport):
                value = value.to_json()
            out[item.name] = value if item.name == "costs" else json_ready(value)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any], *, source: Path) -> StudyMeta:
        """Rebuild the record written by :meth:`to_json`.

        Raises
        ------
        ConfigError
            If a setting is missing (a folder staged by an older seglab).
        """
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        missing = [name for name in required if name not in data]
        if missing:
            raise ConfigError(f"{source}: staged by an older seglab (no {missing[0]}); "
                              "run the study again.")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["as_of"] = pd.Timestamp(values["as_of"])
        values["support"] = DataSupport.from_json(values["support"])
        values["sample_buckets"] = tuple(values.get("sample_buckets", ()))
        return cls(**values)


def write_study(run: RunFolder, meta: StudyMeta) -> None:
    """Write the study's settings to ``study.json`` (done once, by input staging)."""
    write_json(run.study, meta.to_json(), exact=True)


def read_study(run: RunFolder) -> StudyMeta:
    """Read the study's settings from ``study.json``.

    Raises
    ------
    ConfigError
        If the folder has no staged inputs, or they were staged by an older seglab.
    """
    if not run.study.is_file():
        raise ConfigError(f"{run.path}: no staged inputs ({FILES.study} is missing).")
    return StudyMeta.from_json(read_json(run.study), source=run.study)
