"""The stages of a study and the files they leave in the run folder.

Each notebook calls one stage; the stage reads what the stage before it wrote into the
run folder, writes its own results there and returns them for display. A stage whose
input is missing runs the stages before it with default parameters, so any notebook
also runs on its own (in JupyterLab or under nbval) on the embedded synthetic data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from seglab import (
    buckets,
    clean,
    cluster,
    clv,
    feature_transform,
    features,
    i18n,
    persona,
    products,
    profit,
    segments,
    support,
    synth,
)
from seglab import io as seglab_io
from seglab.analysis_date import day_end, default_as_of, parse_as_of
from seglab.errors import ConfigError, InputError
from seglab.runfolder import SCRATCH_VARIABLE as SCRATCH_VARIABLE
from seglab.runfolder import (
    TIME_UNITS,
    RunFolder,
    StudyMeta,
    json_ready,
    open_for_writing,
    open_run,
    read_study,
    write_study,
)
from seglab.runfolder import read_json as read_json
from seglab.runfolder import write_json as write_json

logger = logging.getLogger(__name__)

#: Fewest customers a study segments; fewer cannot fill the clustering's k range.
MIN_CUSTOMERS = 30

def record_sections(run_dir: Path, notes: dict[str, str]) -> None:
    """Record in ``metrics.json`` which report sections ran, adapted or were skipped.

    Parameters
    ----------
    run_dir : pathlib.Path
        Run folder.
    notes : dict
        Section name → the note the report showed ("" when it ran as designed; see
        :func:`seglab.support.section_notes`).
    """
    recorded = read_json(RunFolder(Path(run_dir)).metrics).get("sections", {})
    record_metrics(run_dir, "sections", {**recorded, **support.section_notes(notes)})


def record_metrics(run_dir: Path, section: str, values: dict) -> dict:
    """Add or replace one section of the run's ``metrics.json`` and return the whole file.

    Parameters
    ----------
    run_dir : pathlib.Path
        Run folder.
    section : str
        Top-level key, e.g. ``"cleaning"``.
    values : dict
        JSON-ready figures (numpy numbers and timestamps are converted).

    Returns
    -------
    dict
        All metrics recorded so far.
    """
    path = RunFolder(Path(run_dir)).metrics
    metrics = read_json(path)
    metrics[section] = json_ready(values)
    write_json(path, metrics)
    return metrics


# --- Stage 0: inputs --------------------------------------------------------------------


@dataclass(frozen=True)
class StudyInputs:
    """Canonical inputs of a study, as staged in the run folder.

    For a large log (``partition`` set) ``transactions`` holds only a random sample of
    customers with all their lines (``sample_buckets``); the whole log is in the
    partition, and :meth:`overview` describes all of it.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame | None
    truth: pd.DataFrame | None
    meta: StudyMeta
    run: RunFolder
    partition: buckets.Partition | None = None

    @property
    def as_of(self) -> pd.Timestamp:
        """The analysis date (:attr:`seglab.runfolder.StudyMeta.as_of`)."""
        return self.meta.as_of

    @property
    def source(self) -> str:
        """Where the transactions came from."""
        return self.meta.source

    @property
    def support(self) -> support.DataSupport:
        """What the staged log holds."""
        return self.meta.support

    @property
    def sample_buckets(self) -> tuple[int, ...]:
        """Buckets whose customers form a large log's sample."""
        return self.meta.sample_buckets

    def overview(self, *, lang: str = "en") -> pd.DataFrame:
        """Key figures of the whole raw log (:func:`seglab.profile.overview`), in ``lang``."""
        from seglab import profile

        if self.partition is None:
            return profile.overview(self.transactions, lang=lang)
        rows = read_json(self.run.overview)["rows"]
        return profile.display_overview(pd.DataFrame(
            [(metric, pd.Timestamp(value) if metric.startswith("Period") else value)
             for metric, value in rows], columns=["metric", "value"]), lang)

    def missing_values(self) -> pd.DataFrame:
        """Missing values of the whole raw log (:func:`seglab.profile.missing_values`)."""
        from seglab import profile

        if self.partition is None:
            return profile.missing_values(self.transactions)
        return pd.read_csv(self.run.missing_values)

    def sample_note(self, whole: str | None = None, sampled: str | None = None, *,
                    lang: str = "en") -> str:
        """Say what covers the whole log and what a customer sample ("" if no sample).

        Parameters
        ----------
        whole, sampled : str, optional
            What the report computed on every line, and what on the sample (in the
            report's language); default the totals, missing values and cleaning log, and
            the charts and tables computed from individual lines.
        lang : {"en", "zh"}
            The report's language.
        """
        if self.partition is None:
            return ""
        if whole is None:
            whole = i18n.text("Totals, missing values and the cleaning log", lang)
        if sampled is None:
            sampled = i18n.text("the charts and tables computed from individual lines", lang)
        customers = self.transactions["customer_id"].nunique()
        return i18n.text(
            "This log is large ({lines:,} lines), so seglab works on it bucket by bucket of "
            "customers. {whole} cover every line; {sampled} cover a random sample of "
            "{customers:,} customers with all their {sample_lines:,} lines (drawn from "
            "{sample_buckets} of {buckets} customer buckets).", lang,
            lines=self.partition.lines, whole=whole, sampled=sampled, customers=customers,
            sample_lines=len(self.transactions), sample_buckets=len(self.sample_buckets),
            buckets=self.partition.buckets)


def check_engine(engine: str) -> None:
    """Raise :class:`ConfigError` for an unknown engine, or Spark without pyspark."""
    import importlib.util

    from seglab.engine import ENGINES

    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is unknown; use one of {list(ENGINES)}.")
    if engine == "spark" and importlib.util.find_spec("pyspark") is None:
        raise ConfigError("engine='spark' needs pyspark: pip install 'seglab[spark]'.")


def stage_inputs(
    run_dir: str | Path | None,
    *,
    data: str | Path | None = None,
    customers: str | Path | None = None,
    columns: str | None = None,
    customer_columns: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    as_of: pd.Timestamp | str | None = None,
    seed: int = 0,
    n_customers: int = 2000,
    bad_dates: str = "fail",
    mask_pii: bool = False,
    engine: str = "duckdb",
    decimal: str = ".",
    dayfirst: bool = False,
    campaigns: str | Path | None = None,
    campaign_columns: str | None = None,
    time_unit: str = "D",
    costs: Mapping[str, Any] | str | Path | None = None,
    lang: str = i18n.DEFAULT_LANGUAGE,
) -> StudyInputs:
    """Read and validate the inputs (or make the synthetic data) into the run folder.

    Writes ``inputs/`` and the study's settings (``study.json``, a
    :class:`seglab.runfolder.StudyMeta`), which every stage reads.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    data : str or Path, optional
        Transaction file; none means the embedded synthetic data.
    customers : str or Path, optional
        Customer attribute file.
    columns, customer_columns : str, optional
        Column mappings (see :func:`seglab.schema.parse_column_mapping`).
    encoding : str, optional
        Text encoding of CSV inputs.
    sheet : str or int, optional
        Excel sheet.
    as_of : pandas.Timestamp or str, optional
        Analysis date (:func:`seglab.analysis_date.parse_as_of`); default the day after
        the last transaction.
    seed : int
        Seed of the synthetic data.
    n_customers : int
        Size of the synthetic data.
    bad_dates : {"fail", "drop"}
        Whether a few unparseable dates fail the run or are dropped with a warning.
    mask_pii : bool
        Whether reports must show customer ids as pseudonyms (recorded in study.json).
    engine : {"duckdb", "spark"}
        Engine of the customer aggregation (recorded in study.json).
    decimal : {".", ","}
        Decimal mark of numbers in CSV inputs (see :func:`seglab.io.load_transactions`).
    dayfirst : bool
        Read ambiguous dates such as 02/01/2011 day first.
    campaigns : str or Path, optional
        Campaign exposures file (see :func:`seglab.io.load_exposures`), staged as
        ``inputs/exposures.parquet`` with its group labels mapped; ``"synthetic"``
        (only without ``data``) plants two campaigns in the synthetic log
        (:func:`seglab.synth.plant_campaigns`).
    campaign_columns : str, optional
        Column mapping of the exposures file.
    time_unit : {"D", "W", "M"}
        Period of the lifetimes RFM columns and the purchase models.
    costs : Mapping, str, Path or None
        Overrides of the cost table every stage charges (see
        :func:`seglab.profit.cost_table`): of :data:`seglab.synth.COST_TABLE` on the
        synthetic data, else of :class:`seglab.profit.CostTable`.
    lang : {"en", "zh"}
        Language of the reports (recorded in study.json; :func:`report_language`).

    Returns
    -------
    StudyInputs
        The staged tables.

    Raises
    ------
    InputError
        If a file cannot be read or does not fit the schema, or a group label is
        neither treatment nor control.
    ConfigError
        For an unknown engine or time unit, bad costs, or a finished run folder.
    """
    check_engine(engine)
    if time_unit not in TIME_UNITS:
        raise ConfigError(f"time_unit={time_unit!r} is unknown; use one of {list(TIME_UNITS)}.")
    cost_table = profit.cost_table(costs, base=synth.COST_TABLE if data is None
                                   else profit.CostTable())
    run = open_for_writing(run_dir)
    run.inputs.mkdir(exist_ok=True)
    if campaigns is not None and str(campaigns) == "synthetic" and data is not None:
        raise ConfigError("--campaigns synthetic plants campaigns in the synthetic data; "
                          "with --data give an exposures file.")
    for stale in (run.exposures, run.campaign_truth):
        stale.unlink(missing_ok=True)
    campaign_note = (_stage_exposures(run, campaigns, campaign_columns, encoding=encoding,
                                      decimal=decimal, dayfirst=dayfirst,
                                      lang=i18n.check_language(lang))
                     if campaigns is not None and str(campaigns) != "synthetic" else None)
    settings = {"seed": seed, "mask_pii": mask_pii, "engine": engine, "time_unit": time_unit,
                "costs": {item.name: getattr(cost_table, item.name)
                          for item in fields(cost_table)},
                "campaigns": campaign_note, "lang": i18n.check_language(lang)}
    if data is not None and buckets.is_large(data):
        return _stage_large_inputs(run, data, customers=customers, columns=columns,
                                   customer_columns=customer_columns, encoding=encoding,
                                   as_of=as_of, settings=settings)
    truth = None
    if data is None:
        study = synth.make_study(n_customers, seed=seed)
        transactions, attributes, truth = study.transactions, study.customers, study.truth
        source = f"synthetic (n_customers={n_customers}, seed={seed})"
        if campaigns is not None and str(campaigns) == "synthetic":
            planted = synth.plant_campaigns(study, seed=seed)
            transactions = planted.transactions
            planted.exposures.to_parquet(run.exposures, index=False)
            planted.lifts.to_csv(run.campaign_truth, index=False)
            settings["campaigns"] = ""
    else:
        transactions = seglab_io.load_transactions(
            data, columns=columns, encoding=encoding, sheet=sheet, bad_dates=bad_dates,
            decimal=decimal, dayfirst=dayfirst,
        )
        attributes = (
            seglab_io.load_customers(customers, columns=customer_columns, encoding=encoding,
                                     decimal=decimal, dayfirst=dayfirst)
            if customers else None
        )
        source = str(data)
    as_of_ts = parse_as_of(as_of) if as_of is not None else default_as_of(transactions)
    derived: tuple[str, ...] = ()
    if "order_id" not in transactions or transactions["order_id"].isna().all():
        transactions = transactions.assign(order_id=support.derive_order_ids(transactions))
        derived = ("order_id",)
    found = support.DataSupport.of(transactions, as_of=as_of_ts, derived=derived,
                                   customer_file=attributes is not None)
    check_support(found, as_of=as_of_ts, label=Path(data).name if data else "synthetic data",
                  transactions=transactions)
    transactions.to_parquet(run.staged_transactions, index=False)
    if attributes is not None:
        attributes.to_parquet(run.staged_customers, index=False)
    if truth is not None:
        truth.to_csv(run.truth, index=False)
    meta = StudyMeta(as_of=as_of_ts, source=source, synthetic=data is None,
                     n_customers=n_customers if data is None else None,
                     support=found, **settings)
    write_study(run, meta)
    return StudyInputs(transactions, attributes, truth, meta, run)


def _stage_exposures(run: RunFolder, path: str | Path, columns: str | None, *,
                     encoding: str | None, decimal: str, dayfirst: bool,
                     lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """Read, map and check an exposures file into ``inputs/``; return the labels note."""
    from seglab import campaigns as campaign_tools
    from seglab.schema import parse_column_mapping

    table = seglab_io.load_exposures(path, columns=columns, encoding=encoding,
                                     decimal=decimal, dayfirst=dayfirst)
    group_column = parse_column_mapping(columns).get("group", "group")
    table, note = campaign_tools.normalise_groups(table, source=str(path),
                                                  column=group_column, lang=lang)
    table.to_parquet(run.exposures, index=False)
    return note


def check_support(found: support.DataSupport, *, as_of: pd.Timestamp, label: str,
                  transactions: pd.DataFrame | None = None) -> None:
    """Refuse a log that leaves nothing to study at the analysis date.

    Parameters
    ----------
    found : seglab.support.DataSupport
        What the staged log holds.
    as_of : pandas.Timestamp
        Analysis date.
    label : str
        The file's name, for the message.
    transactions : pandas.DataFrame, optional
        The staged lines (to tell a log of only returns).

    Raises
    ------
    InputError
        If no line falls on or before the analysis date, the log holds only returns,
        or it has fewer than :data:`MIN_CUSTOMERS` customers up to that date.
    """
    day = as_of.date().isoformat()
    if found.lines == 0:
        raise InputError(f"{label}: no line is dated on or before the analysis date {day} "
                         "(column order_date); use a later --as-of.")
    if transactions is not None:
        kept = transactions[transactions["order_date"] < day_end(as_of)]
        signed = kept["quantity"] if "quantity" in kept else kept["amount"]
        if not (signed > 0).any():
            raise InputError(f"{label}: every line up to {day} is a return (column "
                             f"{signed.name} is never positive); there are no purchases to "
                             "study.")
    if found.customers < MIN_CUSTOMERS:
        raise InputError(
            f"{label}: column customer_id has {found.customers} distinct customers up to "
            f"{day}; a segmentation needs at least {MIN_CUSTOMERS} (more data, a later "
            "--as-of, or check which column is mapped to customer_id).")


#: Lines of the customer sample that line-level tables use on a large log.
SAMPLE_LINES = 500_000


def _stage_large_inputs(
    run: RunFolder,
    data: str | Path,
    *,
    customers: str | Path | None,
    columns: str | None,
    customer_columns: str | None,
    encoding: str | None,
    as_of: pd.Timestamp | str | None,
    settings: dict[str, Any],
) -> StudyInputs:
    """Split a large Parquet log into customer buckets under ``inputs/transactions``."""
    part = buckets.partition(data, run.staged_partition, columns=columns)
    overview, missing = buckets.overview(part)
    write_json(run.overview, {"rows": overview.to_numpy().tolist()})
    missing.to_csv(run.missing_values, index=False)
    figures = overview.set_index("metric")["value"]
    as_of_ts = (parse_as_of(as_of) if as_of is not None
                else day_end(pd.Timestamp(figures["Period end"])))
    counts = buckets.support_counts(part, as_of_ts)
    found = support.DataSupport(
        columns=tuple(c for c in support.OPTIONAL_COLUMNS if c in counts["present"]),
        derived=(), lines=counts["lines"], customers=counts["customers"],
        repeat_customers=counts["repeat_customers"], span_days=counts["span_days"],
        orders=counts["orders"] or 0, customer_file=customers is not None)
    check_support(found, as_of=as_of_ts, label=Path(data).name)
    attributes = (seglab_io.load_customers(customers, columns=customer_columns,
                                           encoding=encoding) if customers else None)
    if attributes is not None:
        attributes.to_parquet(run.staged_customers, index=False)
    sample = tuple(buckets.sample_buckets(part, SAMPLE_LINES))
    stored = {**part.to_json(), "path": str(part.path.relative_to(run.path))}
    meta = StudyMeta(as_of=as_of_ts, source=str(data), synthetic=False, n_customers=None,
                     support=found, partition=stored, sample_buckets=sample, **settings)
    write_study(run, meta)
    return StudyInputs(part.read_sample(sample, part.sample_share(sample, SAMPLE_LINES)),
                       attributes, None, meta, run, part)


def report_language(run_dir: str | Path | None) -> str:
    """Return the language the run's reports are written in (``seglab run --lang``)."""
    run = open_run(run_dir)
    return read_study(run).lang if run.study.is_file() else i18n.DEFAULT_LANGUAGE


def load_inputs(run_dir: str | Path | None, *, lines: bool = True) -> StudyInputs:
    """Read the staged inputs; stage the synthetic default first if there are none.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    lines : bool
        Read a large log's sample lines into ``transactions`` (False: leave it empty,
        for callers that need only the dates, attributes and partition).

    Returns
    -------
    StudyInputs
        The staged tables.
    """
    run = open_run(run_dir)
    if not run.study.is_file():
        logger.info("no inputs in %s: using the embedded synthetic data", run.path)
        return stage_inputs(run.path)
    meta = read_study(run)
    part = (None if meta.partition is None else
            buckets.Partition.from_json(meta.partition, base=run.path))
    sample = meta.sample_buckets
    return StudyInputs(
        transactions=(pd.read_parquet(run.staged_transactions) if part is None
                      else part.read_sample(sample if lines else [],
                                            part.sample_share(sample, SAMPLE_LINES))),
        customers=pd.read_parquet(run.staged_customers) if run.staged_customers.exists()
        else None,
        truth=pd.read_csv(run.truth, dtype={"customer_id": "string"})
        if run.truth.exists() else None,
        meta=meta,
        run=run,
        partition=part,
    )


# --- Stage 1: cleaning -------------------------------------------------------------------


def clean_stage(run_dir: str | Path | None, **rules: Any) -> clean.CleaningResult:
    """Clean the staged transactions, write them and the cleaning log.

    A large log is cleaned bucket by bucket of customers (every rule looks at one
    customer's lines, or at one line, so this equals cleaning the whole log) into the
    partition ``transactions/``; the log adds up over all buckets.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    **rules
        Overrides of :class:`seglab.clean.CleaningRules` fields.

    Returns
    -------
    seglab.clean.CleaningResult
        Kept transactions (on a large log, those of the sample) and the log.
    """
    run = open_for_writing(run_dir)
    folder = run.path
    inputs = load_inputs(folder, lines=False)
    known = {f.name for f in fields(clean.CleaningRules)}
    unknown = sorted(set(rules) - known)
    if unknown:
        raise ConfigError(f"unknown cleaning rule(s) {unknown}; known: {sorted(known)}.")
    rule_set = clean.CleaningRules(**rules)
    if inputs.partition is not None:
        result = _clean_partition(folder, inputs, rule_set)
    else:
        result = clean.clean_transactions(inputs.transactions, as_of=inputs.as_of,
                                          rules=rule_set)
        result.transactions.to_parquet(run.transactions, index=False)
    result.log.to_csv(run.cleaning_log, index=False)
    record_metrics(folder, "cleaning", clean.cleaning_metrics(result))
    lang = report_language(folder)
    record_sections(folder, {"what_sells": inputs.support.missing_note(
        support.SELLING_DIMENSIONS, i18n.text("what sells, where", lang), lang=lang)})
    if lang != "en":  # cleaning_log.csv keeps the English descriptions
        result = replace(result, log=clean.display_log(result, lang))
    return result


@dataclass(frozen=True)
class BucketedCleaning(clean.CleaningResult):
    """A large log's cleaning, bucket by bucket.

    The log and the totals cover every bucket; ``transactions``, ``removed`` and
    ``missing_customer`` the sample buckets only.
    """

    kept_rows: int = 0
    kept_revenue: float = 0.0

    @property
    def rows_kept(self) -> int:
        """Lines kept, in every bucket."""
        return self.kept_rows

    @property
    def revenue_kept(self) -> float:
        """Sum of ``amount`` over the kept lines of every bucket."""
        return self.kept_revenue


@dataclass
class _BucketCleaning:
    log: pd.DataFrame
    rows_in: int
    revenue_in: float
    rows_kept: int
    revenue_kept: float
    result: clean.CleaningResult | None


def _clean_bucket(bucket: int, *, part: buckets.Partition, out: Path, as_of: pd.Timestamp,
                  rules: clean.CleaningRules, keep: bool) -> _BucketCleaning | None:
    """Clean one bucket into ``out/bucket=<n>/``.

    The bucket without customer ids is read in chunks: its lines are judged line by
    line (no customer, nothing to compare them with).
    """
    frames = (part.read_chunks(bucket) if bucket == part.buckets else [part.read(bucket)])
    target = out / f"bucket={bucket}"
    logs, rows_in, revenue_in, rows_kept, revenue_kept, kept = [], 0, [], 0, [], None
    for number, frame in enumerate(frames):
        if frame.empty:
            continue
        result = clean.clean_transactions(frame, as_of=as_of, rules=rules)
        if len(result.transactions):
            target.mkdir(parents=True, exist_ok=True)
            result.transactions.to_parquet(target / f"part-{number:04d}.parquet", index=False)
        logs.append(result.log)
        rows_in += result.rows_in
        revenue_in.append(result.revenue_in)
        rows_kept += result.rows_kept
        revenue_kept.append(result.revenue_kept)
        kept = result if keep else None
    if not logs:
        return None
    import math

    return _BucketCleaning(_add_logs(logs), rows_in, math.fsum(revenue_in), rows_kept,
                           math.fsum(revenue_kept), kept)


def _add_logs(logs: list[pd.DataFrame]) -> pd.DataFrame:
    """Add up cleaning logs of the same rules (rows, and revenue summed exactly)."""
    import math

    stacked = pd.concat(logs, ignore_index=True)
    first = logs[0].set_index("step")
    first["rows"] = stacked.groupby("step")["rows"].sum()
    first["revenue"] = stacked.groupby("step")["revenue"].agg(lambda v: math.fsum(v))
    return first.reset_index()


def _clean_partition(folder: Path, inputs: StudyInputs, rules: clean.CleaningRules
                     ) -> BucketedCleaning:
    import functools
    import math
    import shutil

    part = inputs.partition
    out = RunFolder(folder).clean_partition
    shutil.rmtree(out, ignore_errors=True)
    work = functools.partial(_clean_bucket, part=part, out=out, as_of=inputs.as_of,
                             rules=rules, keep=False)
    done = [d for d in buckets.map_buckets(work, list(part.all_buckets), n_jobs=BUCKET_JOBS)
            if d is not None]
    sample = buckets.Partition(out, part.buckets, 0).read_sample(
        inputs.sample_buckets, part.sample_share(inputs.sample_buckets, SAMPLE_LINES))
    return BucketedCleaning(
        transactions=sample,
        log=_add_logs([d.log for d in done]),
        missing_customer=sample.iloc[:0],
        removed=sample.iloc[:0],
        rows_in=sum(d.rows_in for d in done),
        revenue_in=math.fsum(d.revenue_in for d in done),
        as_of=inputs.as_of,
        rules=rules,
        kept_rows=sum(d.rows_kept for d in done),
        kept_revenue=math.fsum(d.revenue_kept for d in done),
    )


#: Worker processes for bucket-by-bucket work on a large log.
BUCKET_JOBS = 2


def clean_partition(run_dir: str | Path | None) -> buckets.Partition | None:
    """Return the clean partition of a large log's run (None for a log in memory)."""
    import pyarrow.parquet as pq

    run = open_run(run_dir)
    inputs = load_inputs(run.path, lines=False)
    if inputs.partition is None:
        return None
    if not run.clean_partition.is_dir():
        clean_stage(run.path)
    lines = sum(pq.read_metadata(file).num_rows
                for file in run.clean_partition.rglob("*.parquet"))
    return buckets.Partition(run.clean_partition, inputs.partition.buckets, lines)


def transactions_source(run_dir: str | Path | None) -> Path:
    """Return the run's clean transactions as a file or partition folder (engine input)."""
    run = open_run(run_dir)
    part = clean_partition(run.path)
    if part is not None:
        return part.path
    if not run.transactions.exists():
        clean_stage(run.path)
    return run.transactions


def load_clean_transactions(run_dir: str | Path | None) -> pd.DataFrame:
    """Return the run's clean transactions (a large log's: those of the sample)."""
    run = open_run(run_dir)
    part = clean_partition(run.path)
    if part is not None:
        inputs = load_inputs(run.path, lines=False)
        return part.read_sample(inputs.sample_buckets, inputs.partition.sample_share(
            inputs.sample_buckets, SAMPLE_LINES))
    if not run.transactions.exists():
        clean_stage(run.path)
    return pd.read_parquet(run.transactions)


# --- Stage 2: features and rule segments -------------------------------------------------


#: Customer tables longer than this skip the CSV export in each stage (pandas writes
#: about 15,000 rows a second); ``seglab run`` exports it once at the end instead.
CSV_ROWS = 250_000


#: Rows of the customer table converted to Arrow and written at once.
WRITE_ROWS = 1_000_000


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """Write a table to Parquet a million rows at a time, replacing ``path`` when done.

    ``DataFrame.to_parquet`` converts the whole table to Arrow first, doubling the
    memory of a ten-million-customer table (6 GB more); slice by slice the file is
    the same (one row group per slice, as pyarrow's default) for a tenth of that.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    partial = path.with_name(path.name + ".partial")
    first = pa.Table.from_pandas(table.iloc[:WRITE_ROWS], preserve_index=False)
    with pq.ParquetWriter(partial, first.schema) as writer:
        writer.write_table(first)
        del first
        for start in range(WRITE_ROWS, len(table), WRITE_ROWS):
            writer.write_table(pa.Table.from_pandas(table.iloc[start:start + WRITE_ROWS],
                                                    schema=writer.schema,
                                                    preserve_index=False))
    partial.replace(path)


def write_customers(run_dir: Path, table: pd.DataFrame) -> None:
    """Write the customer table: Parquet for the next stage, CSV as the CRM export."""
    run = RunFolder(Path(run_dir))
    run.check_writable()
    write_parquet(table, run.customers)
    if len(table) > CSV_ROWS:
        run.customers_csv.unlink(missing_ok=True)  # stale now; see export_csv
        return
    table.to_csv(run.customers_csv, index=False, date_format="%Y-%m-%d")


def export_customers_csv(run_dir: str | Path) -> Path | None:
    """Write ``customers.csv`` from ``customers.parquet`` when a stage left it out.

    DuckDB writes it in parallel: a ten-million-row table in about a minute rather
    than the ten pandas would take. Dates are written as YYYY-MM-DD, as in each stage.

    Returns
    -------
    Path or None
        The CSV written, or None when it was up to date (or there is no table).
    """
    import duckdb

    run = RunFolder(Path(run_dir))
    source, target = run.customers, run.customers_csv
    if not source.exists() or target.exists():
        return None
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{buckets.MEMORY_LIMIT}'")  # default: 80% of RAM
        relation = f"read_parquet({buckets._literal(source)})"
        columns = [
            f"strftime({buckets._identifier(name)}, '%Y-%m-%d') AS {buckets._identifier(name)}"
            if kind.startswith(("TIMESTAMP", "DATE")) else buckets._identifier(name)
            for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        con.execute(f"COPY (SELECT {', '.join(columns)} FROM {relation}) TO "
                    f"{buckets._literal(target)} (HEADER)")
    finally:
        con.close()
    return target


@dataclass
class FeatureStage:
    """What the feature stage produced, for display."""

    customers: pd.DataFrame
    transform: feature_transform.FeatureTransform
    rules: segments.SegmentRules
    options: features.FeatureOptions
    notes: dict[str, str] = field(default_factory=dict)


def feature_stage(
    run_dir: str | Path | None,
    *,
    window_days: int = features.FeatureOptions.window_days,
    category_top_n: int = features.FeatureOptions.category_top_n,
    channel_top_n: int = features.FeatureOptions.channel_top_n,
    feature_set: str = feature_transform.DEFAULT_FEATURE_SET,
    segment_rules: dict[str, Any] | None = None,
    **rules: Any,
) -> FeatureStage:
    """Build customer features and rule segments; write ``customers.csv`` and the transform.

    The customer table is aggregated in DuckDB straight from the run's clean
    ``transactions.parquet`` (:func:`seglab.engine.customer_aggregates`): the same
    code path as ``seglab features`` for nightly scoring, so both give the same table;
    memory stays flat however long the log; and the tests hold it equal to the pandas
    reference (:func:`seglab.features.customer_features`) to 1e-9. On small data both
    take well under a second. The RFM columns count in the study's time unit and the
    table is aggregated by the study's engine (both in ``study.json``).

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    window_days, category_top_n, channel_top_n
        See :class:`seglab.features.FeatureOptions`.
    feature_set : str
        A key of :data:`seglab.feature_transform.FEATURE_SETS`: the features of the
        transform for clustering (:class:`seglab.feature_transform.FeatureTransform`),
        fitted here once and saved as ``feature_transform.joblib`` for clustering,
        dynamics and new data.
    segment_rules : dict, optional
        Overrides of :class:`seglab.segments.SegmentRules` fields.
    **rules
        More overrides, by keyword.

    Returns
    -------
    FeatureStage
        The customer table, the fitted transform, the rules and options used.
    """
    from seglab import engine

    run = open_for_writing(run_dir)
    folder = run.path
    inputs = load_inputs(folder, lines=False)
    time_unit, chosen = inputs.meta.time_unit, inputs.meta.engine
    rule_set = segments.segment_rules(**{**(segment_rules or {}), **rules})
    lang = report_language(folder)
    notes = {"orders": inputs.support.order_note(lang=lang), "window": ""}
    fitted = min(window_days, max(1, inputs.support.span_days // 2))
    if fitted != window_days:
        notes["window"] = i18n.text(
            "Value x growth compares the last {fitted} days with the {fitted} before, not "
            "{asked} with {asked}: the log covers {span} days.", lang, fitted=fitted,
            asked=window_days, span=inputs.support.span_days)
        window_days = fitted
    options = features.FeatureOptions(time_unit, window_days, category_top_n, channel_top_n)
    option_values = {"time_unit": options.time_unit, "window_days": options.window_days,
                     "category_top_n": options.category_top_n,
                     "channel_top_n": options.channel_top_n}
    part = clean_partition(folder)
    if part is not None and chosen == "duckdb":
        table = buckets.customer_aggregates(part, as_of=inputs.as_of,
                                            customers=inputs.customers, jobs=BUCKET_JOBS,
                                            **option_values)
    else:
        # One DuckDB thread: parallel float sums add in varying order, and a study must
        # give byte-identical numbers on every run (nightly `seglab features` uses all
        # cores).
        table = engine.customer_aggregates(
            transactions_source(folder), as_of=inputs.as_of, customers=inputs.customers,
            engine=chosen, threads=1, **option_values)
    table = segments.rule_segments(table, rules=rule_set)
    transform = feature_transform.FeatureTransform(feature_set).fit(table)
    write_customers(folder, table)
    feature_transform.save_transform(transform, run.feature_transform)
    record_metrics(folder, "features", {
        "customers": len(table),
        "time_unit": time_unit,
        "engine": chosen,
        "revenue": float(table["revenue"].sum()),
        "repeat_customer_share": float((table["frequency"] > 0).mean()),
        "feature_set": feature_set,
        "transform_columns": len(transform.columns_),
        "rfm_segments": table["rfm_segment"].value_counts().to_dict(),
        "segments": {
            column: table[column].value_counts().to_dict()
            for column in segments.SEGMENT_COLUMNS if column != "rfm_segment"
        },
    })
    record_sections(folder, notes)
    return FeatureStage(table, transform, rule_set, options, notes)


def customer_table(run_dir: str | Path | None, *, needs: str = "rfm_segment") -> pd.DataFrame:
    """Return the customer table, running the missing stages first.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    needs : str
        A column the caller needs: ``"rfm_segment"`` (features), ``"cluster"``.

    Returns
    -------
    pandas.DataFrame
        One row per customer.
    """
    folder = open_run(run_dir).path
    path = RunFolder(folder).customers
    if not path.exists():
        feature_stage(folder)
    table = read_customers(path)
    if needs == "cluster" and "cluster" not in table:
        cluster_stage(folder)
        table = read_customers(path)
    return table


def read_customers(path: Path) -> pd.DataFrame:
    """Read a customer table, freeing Arrow's copy column by column as pandas takes it.

    On ten million customers (a 5.3 GB table) this cuts the reading peak from 10.6 to
    9.1 GB and saves 15 s.
    """
    return pd.read_parquet(path, to_pandas_kwargs={"self_destruct": True,
                                                   "split_blocks": True})


# --- Stage 3: clustering ------------------------------------------------------------------


@dataclass
class ClusterStage:
    """What the clustering stage produced, for display.

    Methods are compared on the customers at ``compared_rows`` of ``customers`` (every
    customer, or a random sample of a large table). ``labels`` maps every compared
    method (and rule baseline, as ``"rule: <column>"``) to its value-ordered labels of
    those customers, ``matrix`` holds their features and ``profile`` describes them;
    ``map_xy`` are 2-D coordinates of the compared customers in ``map_rows`` for the
    cluster maps. ``customers`` is every customer, with the chosen method's ``cluster``;
    ``summary`` and ``truth`` cover every customer too.
    """

    comparison: pd.DataFrame
    k_scores: dict[str, pd.DataFrame]
    chosen: str
    labels: dict[str, np.ndarray]
    matrix: np.ndarray
    customers: pd.DataFrame
    profile: pd.DataFrame
    truth: pd.Series | None = field(default=None)
    agreement: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    map_xy: np.ndarray | None = field(default=None)
    map_rows: np.ndarray | None = field(default=None)
    rules: cluster.SelectionRules = field(default_factory=cluster.SelectionRules)
    feature_names: list[str] = field(default_factory=list)
    compared_rows: np.ndarray | None = field(default=None)
    lang: str = "en"

    @property
    def method_labels(self) -> dict[str, np.ndarray]:
        """Labels of the clustering methods only (no rule baselines)."""
        methods = self.comparison.loc[self.comparison["kind"] == "clustering", "method"]
        return {name: self.labels[name] for name in methods}

    @property
    def sampling_note(self) -> str:
        """One sentence saying the methods were compared on a sample; empty if not."""
        if self.compared_rows is None or len(self.compared_rows) == len(self.customers):
            return ""
        return i18n.text(
            "Methods compared on a random sample of {compared:,} of {customers:,} customers; "
            "every customer was then assigned by the chosen method ({chosen}).", self.lang,
            compared=len(self.compared_rows), customers=len(self.customers),
            chosen=self.chosen)


def cluster_stage(
    run_dir: str | Path | None,
    *,
    methods: str = ",".join(cluster.METHODS),
    k_min: int = 2,
    k_max: int = 8,
    method: str = "auto",
    seed: int = 0,
    silhouette_sample: int = 5000,
    n_resamples: int = 3,
    fit_sample: int = 20_000,
    compare_sample: int = 200_000,
    min_stability: float = cluster.SelectionRules.min_stability,
    baselines: str = ",".join(cluster.RULE_BASELINES),
    map_sample: int = 3000,
) -> ClusterStage:
    """Compare clustering methods and the rule segments; keep the chosen labels.

    Every method sees the matrix of the run's one transform, fitted by
    :func:`feature_stage` (``feature_transform.joblib``). Above ``compare_sample``
    customers, everything compared (every method's fit, k scan, scores, stability, the
    rule baselines, agreement, profile and map) uses a seeded random sample of that many
    customers; then only the chosen method assigns every customer, transforming and
    predicting in chunks
    (:meth:`seglab.cluster.SegmentModel.predict`), so memory stays bounded.

    Writes to the run folder: the ``cluster`` and ``cluster_method`` columns of
    ``customers.csv`` (cluster 0 = highest mean revenue, -1 = noise),
    ``clustering_comparison.csv`` (one row per method, then per rule baseline, with
    ``chosen``), ``k_selection.csv`` (every k tried), ``cluster_agreement.csv``
    (pairwise ARI), ``cluster_model.joblib`` (a :class:`seglab.cluster.SegmentModel`
    that assigns any customer table) and the ``clustering`` metrics.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    methods : str
        Comma-separated methods to compare (:data:`seglab.cluster.METHODS`).
    k_min, k_max : int
        Range of k for the methods that need one.
    method : str
        Method whose labels become the ``cluster`` column, or ``"auto"``
        (:func:`seglab.cluster.pick_method`).
    seed : int
        Seed for every random step.
    silhouette_sample : int
        Customers the silhouette is computed on.
    n_resamples : int
        Refits on 80% subsamples behind each stability figure.
    fit_sample : int
        Most customers a method is fitted on; above it, the rest of the compared
        customers are assigned with ``predict``.
    compare_sample : int
        Most customers the methods are compared on (at least 100); above it, a random
        sample is compared and the chosen method assigns everyone.
    min_stability : float
        Stability a k or a method needs (:class:`seglab.cluster.SelectionRules`).
    baselines : str
        Comma-separated rule segment columns compared alongside (absent ones skipped).
    map_sample : int
        Customers drawn on the cluster maps.

    Returns
    -------
    ClusterStage
        Comparison table, k scores, labels per method (of the compared customers),
        profile, summary and map coordinates.

    Raises
    ------
    ConfigError
        For an unknown method, a bad k range or sample size.
    """
    import time

    from sklearn.metrics import adjusted_rand_score

    started = time.perf_counter()
    run = open_for_writing(run_dir)
    folder = run.path
    table = customer_table(folder)
    if not 2 <= k_min <= k_max:
        raise ConfigError(f"k_min={k_min}, k_max={k_max}: need 2 <= k_min <= k_max.")
    if len(table) < 3 * k_max:
        raise ConfigError(
            f"{len(table)} customers are too few to segment with k_max={k_max}; "
            f"need at least {3 * k_max}."
        )
    if n_resamples < 1:
        raise ConfigError(f"n_resamples={n_resamples} should be >= 1 (stability needs refits).")
    if compare_sample < 100:
        raise ConfigError(f"compare_sample={compare_sample} is too small; use at least 100.")
    compared_rows = cluster.sample_rows(len(table), compare_sample, seed)
    sampled = len(compared_rows) < len(table)
    compared = table.iloc[compared_rows] if sampled else table
    transform = feature_transform.load_transform(run.feature_transform)
    X = transform.transform(compared)
    truth = None
    # Only the planted truth is needed: load_inputs would also read every transaction.
    if run.truth.exists():
        planted = pd.read_csv(run.truth, dtype={"customer_id": "string"})
        truth = table[["customer_id"]].merge(planted, on="customer_id", how="left")["segment"]
    rules = cluster.SelectionRules(min_stability=min_stability)
    compare_started = time.perf_counter()
    result = cluster.compare_methods(
        X,
        compared["revenue"].to_numpy(dtype=float),
        methods=cluster.parse_names(methods, what="methods"),
        k_range=range(k_min, k_max + 1),
        random_state=seed,
        sample_size=silhouette_sample,
        n_resamples=n_resamples,
        fit_sample=fit_sample,
        truth=None if truth is None else truth.to_numpy()[compared_rows],
        baselines={c: compared[c].to_numpy() for c in cluster.parse_names(baselines)
                   if c in table},
        rules=rules,
    )
    compare_seconds = time.perf_counter() - compare_started
    comparison = result.table
    chosen = cluster.pick_method(comparison, method, rules)
    comparison.insert(1, "chosen", comparison["method"] == chosen)
    labels = {name: r.labels for name, r in result.results.items()}
    best = result.results[chosen]
    model = cluster.SegmentModel(chosen, transform, best.model, best.order)
    assign_started = time.perf_counter()
    assigned = model.predict(table) if sampled else labels[chosen]
    assign_seconds = time.perf_counter() - assign_started
    table = table.drop(columns=["cluster", "cluster_method"], errors="ignore")
    table["cluster"] = assigned
    table["cluster_method"] = chosen
    write_customers(folder, table)
    comparison.to_csv(run.clustering_comparison, index=False)
    if result.k_scores:
        k_table = pd.concat([s.assign(method=m) for m, s in result.k_scores.items()])
        k_table.insert(0, "method", k_table.pop("method"))
        k_table.to_csv(run.k_selection, index=False)
    result.agreement.rename_axis("method").to_csv(run.cluster_agreement)
    joblib.dump(model, run.cluster_model)
    row = comparison.set_index("method").loc[chosen]
    ari_all = None
    if truth is not None:
        known = truth.notna().to_numpy()
        ari_all = adjusted_rand_score(pd.factorize(truth[known])[0], assigned[known])
    record_metrics(folder, "clustering", {
        "chosen_method": chosen,
        "feature_set": transform.feature_set,
        "k": int(row["k"]),
        "silhouette": row["silhouette"],
        "stability": row["stability"],
        "noise_share": row["noise_share"],
        "ari_truth": row.get("ari_truth"),
        "ari_truth_all_customers": ari_all,
        "customers": len(table),
        "compared_customers": len(compared_rows),
        "fit_customers": int(row["fit_customers"]),
        "compare_seconds": round(compare_seconds, 2),
        "assign_seconds": round(assign_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "peak_memory_mb": cluster.peak_memory_mb(),
        "methods": comparison.drop(columns="chosen").to_dict("records"),
    })
    standardised = transform.standardised(compared)
    profile = cluster.cluster_profile(standardised, assigned[compared_rows],
                                      list(standardised.columns))
    summary = cluster.cluster_summary(table, assigned)
    map_rows, map_xy = cluster.map_coordinates(X, sample_size=map_sample, random_state=seed)
    return ClusterStage(
        comparison, result.k_scores, chosen, labels, X, table, profile, truth,
        agreement=result.agreement, summary=summary, map_xy=map_xy, map_rows=map_rows,
        rules=rules, feature_names=[cluster.feature_label(c) for c in transform.columns_],
        compared_rows=compared_rows, lang=report_language(folder),
    )


# --- Stage 4: profit and personas ---------------------------------------------------------


@dataclass
class ProfitStage:
    """What the profit stage produced, for display."""

    customers: pd.DataFrame
    segment_pnl: pd.DataFrame
    cards: pd.DataFrame
    whale: pd.DataFrame
    ledger: dict[str, float]
    sub_segment_pnl: pd.DataFrame = field(default_factory=pd.DataFrame)
    reconciliation: pd.DataFrame = field(default_factory=pd.DataFrame)
    whale_summary: dict[str, Any] = field(default_factory=dict)
    loss_makers: pd.DataFrame = field(default_factory=pd.DataFrame)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    clv_parameters: pd.DataFrame = field(default_factory=pd.DataFrame)
    holdout: pd.DataFrame = field(default_factory=pd.DataFrame)
    rules: pd.DataFrame = field(default_factory=pd.DataFrame)
    truth: pd.Series | None = None
    notes: dict[str, str] = field(default_factory=dict)


#: Most customers the CLV models are fitted (and the holdout check is run) on.
CLV_FIT_SAMPLE = 500_000


@dataclass
class _TransactionFigures:
    """What the profit stage takes from transactions, per customer or in total."""

    sums: pd.DataFrame  # profit.customer_line_sums
    totals: list[dict[str, float]]  # profit.line_totals, one per part of the log
    main: pd.Series | None  # profit.main_value
    holdout: pd.DataFrame  # clv.calibration_holdout


def _figures_of(transactions: pd.DataFrame, *, costs: profit.CostTable, as_of: pd.Timestamp,
                dimension: str | None, holdout_days: int, time_unit: str
                ) -> _TransactionFigures:
    tx = transactions[transactions["order_date"] < day_end(as_of)]
    sums, totals = profit.line_sums_and_totals(tx, costs)
    return _TransactionFigures(
        sums, [totals],
        profit.main_value(tx, dimension) if dimension else None,
        clv.calibration_holdout(tx, as_of=as_of, holdout_days=holdout_days,
                                time_unit=time_unit) if holdout_days else pd.DataFrame())


def _bucket_holdout(bucket: int, *, part: buckets.Partition, as_of: pd.Timestamp,
                    holdout_days: int, time_unit: str) -> pd.DataFrame:
    tx = part.read(bucket, columns=["customer_id", "order_date", "amount"])
    return clv.calibration_holdout(tx[tx["order_date"] < day_end(as_of)],
                                   as_of=as_of, holdout_days=holdout_days,
                                   time_unit=time_unit)


def _transaction_figures(folder: Path, inputs: StudyInputs, transactions: pd.DataFrame,
                         **options: Any) -> _TransactionFigures:
    """Per-customer figures from the whole log: at once, or a bucket at a time.

    On a large log, DuckDB sums the P&L lines of each bucket
    (:func:`seglab.profit.line_sums_sql`), and the CLV holdout split is taken from the
    first buckets only: a random sample of whole customers, as many as the CLV check
    uses (:data:`CLV_FIT_SAMPLE`).
    """
    import functools

    import pyarrow as pa

    from seglab import engine

    options["as_of"] = inputs.as_of
    part = clean_partition(folder)
    if part is None:
        return _figures_of(transactions, **options)
    costs, dimension = options.pop("costs"), options.pop("dimension")
    results = buckets.map_queries(
        part, range(part.buckets),
        lambda names: profit.line_sums_sql(names, costs, as_of=inputs.as_of,
                                           dimension=dimension),
        jobs=BUCKET_JOBS, types=engine.SQL_TYPES)
    table = pa.concat_tables(results).to_pandas()
    is_total = table.pop("is_total").to_numpy(dtype=bool)
    totals = [{name: float(row[name]) if pd.notna(row[name]) else 0.0
               for name in profit.LINE_SUMS} for _, row in table[is_total].iterrows()]
    sums = (table[~is_total & table["customer_id"].notna().to_numpy()]
            .set_index("customer_id").sort_index())
    sums["first_order"] = sums["first_order"].astype("datetime64[ns]")
    main = sums.pop("main").astype("string").rename(dimension) if dimension else None
    per_bucket = max(1.0, len(sums) / max(part.buckets, 1))
    sample = list(range(min(part.buckets, int(np.ceil(1.25 * CLV_FIT_SAMPLE / per_bucket)))))
    work = functools.partial(_bucket_holdout, part=part, **options)
    holdout = (pd.concat(buckets.map_buckets(work, sample, n_jobs=BUCKET_JOBS)).sort_index()
               if options["holdout_days"] else pd.DataFrame())
    return _TransactionFigures(sums[[*profit.LINE_SUMS, "first_order"]], totals, main,
                               holdout)


def _drop_in_place(table: pd.DataFrame, columns: list[str | None]) -> None:
    """Drop the ``columns`` present without copying the rest of the table."""
    for name in columns:
        if name in table:
            del table[name]


def _add_by_customer(table: pd.DataFrame, columns: pd.DataFrame) -> None:
    """Add ``columns`` (indexed by customer id) to ``table`` in place, as a left join.

    The customer table and the per-customer sums are both ordered by id, so the
    columns usually line up as they are; only otherwise are they looked up by id
    (a join would copy all ten million rows of a large table).
    """
    ids = table["customer_id"]
    if not (len(columns) == len(ids) and columns.index.equals(pd.Index(ids))):
        columns = columns.reindex(ids)
    for name in columns:
        table[name] = columns[name].to_numpy()


def profit_stage(
    run_dir: str | Path | None,
    *,
    segment_col: str = "cluster",
    sub_segment_by: str = "auto",
    horizon_days: int = 365,
    discount_rate: float = 0.10,
    holdout_days: int = 180,
    strategy_rules: list | None = None,
) -> ProfitStage:
    """P&L at four levels, whale curve, CLV and persona cards; write ``segments.csv``.

    Adds ``gross_margin``, ``cost_to_serve``, ``profit`` (with the other P&L lines),
    ``p_alive``, ``expected_orders_90d``, ``clv``, ``persona`` and ``strategy`` to
    ``customers.csv``; writes one row per segment to ``segments.csv`` (with ``standout``,
    the categories the segment buys more often than the average customer, from
    :func:`seglab.products.segment_index`, when the log has categories); records the
    ``profit``, ``bgnbd`` (r, alpha, a, b in the run's time unit) and ``clv`` metrics.

    The costs charged are the study's (``study.json``, set when the inputs are staged
    from the params file's shared ``costs``), so notebooks 05 and 07 charge the same.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    segment_col : str
        Segmentation to report on (``cluster`` or a rule segment column).
    sub_segment_by : str
        Splits segments into sub-segments by each customer's main ``channel``,
        ``region`` or ``country``; ``auto`` takes the first the data has.
    horizon_days : int
        CLV horizon in days.
    discount_rate : float
        Annual discount rate of CLV.
    holdout_days : int
        Days at the end kept out of a second BG/NBD fit to check its forecast.
    strategy_rules : list, optional
        A replacement for :data:`seglab.persona.STRATEGY_RULES` (dicts with
        ``strategy``, ``when``, ``action``, ``kpi``).

    Returns
    -------
    ProfitStage
        Tables for the report.

    Raises
    ------
    ConfigError
        For an unknown segment column, sub-segment column or a bad rule.
    """
    run = open_for_writing(run_dir)
    folder = run.path
    table = customer_table(folder, needs="cluster" if segment_col == "cluster" else "")
    if segment_col not in table:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of customers.csv.")
    inputs = load_inputs(folder, lines=False)
    transactions = load_clean_transactions(folder)  # a large log's: those of the sample
    costs, time_unit = inputs.meta.cost_table(), inputs.meta.time_unit

    # P&L per customer: replace any P&L columns a previous run of this stage left.
    table["segment"] = table[segment_col].astype(str)
    labels = table.set_index("customer_id")["segment"]
    contacts = (table.set_index("customer_id")["service_contacts"]
                if "service_contacts" in table else None)
    options = {"segments": labels, "as_of": inputs.as_of, "service_contacts": contacts}
    dimension = profit.sub_segment_column(transactions, sub_segment_by)
    found = inputs.support
    lang = report_language(folder)
    notes = {"clv": "", "clv_holdout": "", "sub_segments": "" if dimension else
             found.missing_note(support.SUB_SEGMENT_DIMENSIONS,
                                i18n.text("splitting segments by channel", lang), lang=lang)}
    asked_holdout, holdout_days = holdout_days, found.fit_days(holdout_days, share=1 / 2)
    if not found.fits_purchase_model:
        notes["clv"] = i18n.text(
            "Skipped: only {repeat} customers bought on two or more days; the purchase models "
            "need at least {needed}, so p_alive, expected_orders_90d and clv are left empty.",
            lang, repeat=found.repeat_customers, needed=support.MIN_REPEAT_CUSTOMERS)
        holdout_days = 0
    if not holdout_days:
        notes["clv_holdout"] = notes["clv"] or i18n.text(
            "Skipped: {span} days of history are too few to keep {days} or more days out of a "
            "second fit.", lang, span=found.span_days, days=support.MIN_WINDOW_DAYS)
    elif holdout_days != asked_holdout:
        notes["clv_holdout"] = i18n.text(
            "The check keeps out the last {days} days instead of {asked}: the log covers "
            "{span} days and the model needs at least as long before it.", lang,
            days=holdout_days, asked=asked_holdout, span=found.span_days)
    figures = _transaction_figures(folder, inputs, transactions, costs=costs,
                                   dimension=dimension, holdout_days=holdout_days,
                                   time_unit=time_unit)
    pnl = profit.pnl_from_line_sums(figures.sums, costs, **options)
    added = ["p_alive", "expected_orders_90d", "clv", "persona", "strategy"]
    stale = [c for c in (*pnl.columns, *added) if c in table and c != "revenue"]
    sub_col = f"main_{dimension}" if dimension is not None else None
    _drop_in_place(table, [*stale, sub_col])
    _add_by_customer(table, pnl.drop(columns="revenue"))
    if sub_col is not None:
        _add_by_customer(table, figures.main.rename(sub_col).to_frame())

    seg = profit.segment_pnl(table, "segment")
    sub = profit.sub_segment_pnl(table, "segment", sub_col) if sub_col else None
    totals = profit.portfolio_from_line_totals(figures.totals, figures.sums["first_order"], costs,
                                       **options)
    check = profit.reconciliation(table, seg, totals, sub_segments=sub)

    # CLV: BG/NBD and Gamma-Gamma on the run's RFM columns, valued at the contribution
    # margin of the customer's segment.
    margin = table["segment"].map(seg["profit_margin"]).fillna(0.0).to_numpy()
    bgnbd = spend = calibrated = None
    for name in ("p_alive", "expected_orders_90d", "clv"):
        table[name] = np.nan
    if not notes["clv"]:
        try:
            predicted, bgnbd, spend = clv.customer_clv(
                table[["frequency", "recency", "T", "monetary_value"]], margin=margin,
                horizon_days=horizon_days, discount_rate=discount_rate, time_unit=time_unit,
                forecast_days=90, fit_sample=CLV_FIT_SAMPLE,
            )
        except InputError as error:
            notes["clv"] = i18n.text(
                "Skipped: the purchase models cannot be fitted on this log ({error}); "
                "p_alive, expected_orders_90d and clv are left empty.", lang, error=error)
    if bgnbd is not None:
        table["p_alive"] = predicted["p_alive"]
        table["expected_orders_90d"] = predicted["expected_orders"]
        table["clv"] = predicted["clv"]
    holdout = pd.DataFrame()
    if holdout_days:
        split = figures.holdout
        if len(split) > CLV_FIT_SAMPLE:
            split = split.sample(CLV_FIT_SAMPLE, random_state=0).sort_index()
        try:
            calibrated = clv.BetaGeoModel().fit(split["frequency"], split["recency"],
                                                split["T"])
            holdout = clv.holdout_check(split, calibrated)
        except InputError as error:
            notes["clv_holdout"] = i18n.text(
                "Skipped: the first {days} days cannot be fitted on their own ({error})",
                lang, days=found.span_days - holdout_days, error=error)

    strategy_rules = strategy_rules or None  # an empty list means the default table
    cards = persona.persona_cards(table, "segment", rules=strategy_rules)
    standout = None
    if found.has("category"):  # the categories each segment buys more than average
        index = products.segment_index(transactions, labels, item_col="category", name_col=None)
        cards["standout"] = products.standout_text(index).reindex(cards.index)
        if lang != "en":
            standout = products.standout_text(index, lang=lang).reindex(cards.index)
    table["persona"] = table["segment"].map(cards["persona"])
    table["strategy"] = table["segment"].map(cards["strategy"])
    write_customers(folder, table)
    seg.insert(0, "persona", seg.index.map(cards["persona"]).fillna(""))
    if sub is not None:
        sub = sub[["segment", sub_col, "customers", "revenue", "gross_margin", "cost_to_serve",
                   "profit", "profit_margin", "profit_per_customer", "unprofitable_share"]]

    first = ["persona", "customers", "revenue", "profit", "clv", "strategy", "action", "kpi"]
    extra = seg[[c for c in ("cost_of_goods", *profit.COST_TO_SERVE_PARTS) if c in seg]]
    export = cards[first + [c for c in cards if c not in first]].join(extra)
    export.rename_axis("segment").reset_index().to_csv(run.segments, index=False)

    whale = profit.whale_summary(table["profit"], lang=lang)
    truth = None
    if inputs.truth is not None:
        truth = table[["customer_id"]].merge(inputs.truth, on="customer_id", how="left")[
            "segment"].rename("planted segment").set_axis(table.index)
    money = ["segment", "revenue", "gross_margin", "cost_to_serve", "profit",
             *(c for c in profit.COST_TO_SERVE_PARTS if c in table)]
    losers = profit.high_revenue_loss_makers(
        table[money].assign(**{"planted segment": truth}) if truth is not None
        else table[money], "segment", describe="planted segment" if truth is not None else None)
    shown = ["high_revenue", "losing", "losing_share", "losing_by_cost_to_serve",
             "largest_cost", "planted segment of losers", "revenue", "gross_margin",
             "cost_to_serve", "profit"]
    record_metrics(folder, "profit", {
        "segment_col": segment_col,
        **{name: totals[name] for name in ("revenue", "gross_margin", "cost_to_serve",
                                           "profit")},
        "unprofitable_customer_share": float((table["profit"] < 0).mean()),
        "reconciles": bool(check["agrees"].all()),
        "whale_peak_customer_share": whale["peak_customer_share"],
        "whale_peak_profit_share": whale["peak_profit_share"],
        "high_revenue_losing": int(losers.loc["All", "losing"]),
        "sub_segment_by": dimension,
        "costs": {item.name: getattr(costs, item.name) for item in fields(costs)},
        "segments": export[["persona", "customers", "revenue", "profit", "clv", "strategy"]]
        .rename_axis("segment").reset_index().to_dict("records"),
    })
    record_metrics(folder, "bgnbd", bgnbd.params_ if bgnbd else {"fitted": False})
    repeat = table["frequency"] > 0
    record_metrics(folder, "clv", {
        "time_unit": time_unit,
        "horizon_days": horizon_days,
        "discount_rate": discount_rate,
        "fitted": bgnbd is not None,
        **({} if bgnbd is None else {
            "customers": bgnbd.n_customers_,
            "bgnbd_fit_seconds": bgnbd.fit_seconds_,
            "bgnbd_log_likelihood": bgnbd.log_likelihood_,
            "gamma_gamma": spend.params_,
            "gamma_gamma_customers": spend.n_customers_,
            "gamma_gamma_fit_seconds": spend.fit_seconds_,
            "frequency_spend_correlation": float(
                table.loc[repeat, ["frequency", "monetary_value"]].corr().iloc[0, 1]),
            "clv_total": float(table["clv"].sum()),
        }),
        "holdout": None if holdout.empty else {
            "days": holdout_days, "bgnbd": calibrated.params_,
            "predicted_purchases": float((holdout["predicted"] * holdout["customers"]).sum()),
            "actual_purchases": float((holdout["actual"] * holdout["customers"]).sum())},
    })
    record_sections(folder, notes)
    if lang != "en":  # display copies: the files keep the English names
        cards = persona.display_cards(cards, lang)
        if standout is not None:
            cards["standout"] = standout
        seg["persona"] = seg["persona"].map(lambda name: persona.persona_label(name, lang))
        for column in ("persona", "strategy"):
            table[column] = table["segment"].map(cards[column])
    return ProfitStage(
        customers=table, segment_pnl=seg, cards=cards,
        whale=profit.whale_curve(table["profit"]), ledger=totals, sub_segment_pnl=sub
        if sub is not None else pd.DataFrame(), reconciliation=check, whale_summary=whale,
        loss_makers=losers[[c for c in shown if c in losers]],
        costs=profit.cost_table_frame(costs, lang=lang),
        clv_parameters=pd.DataFrame() if bgnbd is None else
        clv.parameter_table(bgnbd, spend, time_unit=time_unit, lang=lang),
        holdout=holdout, rules=persona.rules_frame(strategy_rules, lang=lang), truth=truth,
        notes=notes,
    )


# --- Stage 5: segments over time ----------------------------------------------------------


@dataclass
class DynamicsStage:
    """What the segments-over-time stage produced, for display."""

    dates: pd.DataFrame
    segment_col: str
    sizes: pd.DataFrame
    migration: pd.DataFrame
    checks: pd.DataFrame
    check_summary: pd.DataFrame
    matrix: pd.DataFrame
    thresholds: pd.DataFrame
    tier_flows: pd.DataFrame
    tier_revenue: pd.DataFrame
    at_risk: pd.DataFrame
    cohorts: pd.DataFrame
    churn: Any
    churn_summary: pd.DataFrame
    monitoring: pd.DataFrame
    monitoring_order: list
    planted: pd.DataFrame
    planted_known: bool = False
    masked: bool = False
    snapshots: Any = None
    sample_note: str = ""
    notes: dict[str, str] = field(default_factory=dict)
    lang: str = "en"

    @property
    def churn_calibration(self) -> pd.DataFrame:
        """The churn model's calibration table (empty when the model was skipped)."""
        return pd.DataFrame() if self.churn is None else self.churn.calibration

    @property
    def churn_headline(self) -> str:
        """The churn model against the strongest simple rule, in a sentence ("" if skipped)."""
        return "" if self.churn is None else self.churn.headline(self.lang)

    @property
    def churn_drivers(self) -> pd.DataFrame:
        """The churn model's drivers (empty when the model was skipped)."""
        return pd.DataFrame() if self.churn is None else self.churn.drivers


def _fitting_snapshot_dates(as_of: pd.Timestamp, cadence: str, steps: int,
                            first_day: pd.Timestamp) -> tuple[list[pd.Timestamp], str]:
    """Snapshot dates at ``cadence``, or monthly when the log is too short for two."""
    from seglab import dynamics

    try:
        return dynamics.snapshot_dates(as_of, cadence=cadence, steps=steps,
                                       first_day=first_day), cadence
    except ConfigError:
        if cadence == "monthly" or cadence not in dynamics.CADENCES:
            raise
    return dynamics.snapshot_dates(as_of, cadence="monthly", steps=max(steps, 2),
                                   first_day=first_day), "monthly"


def _planted_movement(inputs: StudyInputs) -> pd.DataFrame | None:
    """Regenerate the synthetic study's planted movement from ``study.json`` (or None)."""
    meta = inputs.meta
    if not meta.synthetic or inputs.truth is None or meta.n_customers is None:
        return None
    study = synth.make_study(meta.n_customers, seed=meta.seed)
    same = study.truth["customer_id"].astype(str).tolist() == inputs.truth[
        "customer_id"].astype(str).tolist()
    return study.movement if same else None


def _masked_ids(folder: Path, table: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Pseudonymise identifiers for display when ``study.json`` asks for ``mask_pii``."""
    from seglab import privacy

    if not read_study(RunFolder(folder)).mask_pii:
        return table, False
    columns = ("customer_id",)
    return privacy.mask_table(table, privacy.salt_for(folder.parent), columns), True


def dynamics_stage(
    run_dir: str | Path | None,
    *,
    cadence: str = "quarterly",
    steps: int = 4,
    segment_col: str = "rfm_segment",
    window_days: int = 365,
    horizon_days: int = 90,
    cohort_months: int = 12,
    seed: int = 0,
) -> DynamicsStage:
    """Segments over time: snapshots, migration, cohorts, churn risk and a monitor.

    Recomputes features and segments at ``steps + 1`` dates ending at the analysis
    date, each from the data up to it (see :mod:`seglab.dynamics` for how segments
    stay comparable), and writes ``segment_migration.csv`` (customers and next-period
    revenue per step, from segment and to segment) and ``segment_monitoring.csv``. A
    churn model (:func:`seglab.churn_model.fit_churn_model`) trained on dates whose
    outcomes end by a holdout ``horizon_days`` before the analysis date, and checked on
    it, adds ``churn_risk`` (and the ``newly_at_risk`` flag) to ``customers.csv``;
    records the ``churn`` and ``dynamics`` metrics.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    cadence : {"monthly", "quarterly"}
        Months between snapshots.
    steps : int
        Steps between snapshots (``steps + 1`` dates).
    segment_col : str
        Segmentation followed in ``segment_migration.csv`` and the monitor: one of
        :data:`seglab.dynamics.SEGMENTATIONS`.
    window_days : int
        Trailing window of the RFM frequency and money scores and the value tiers
        (0 = all history, as notebook 02).
    horizon_days : int
        Churn means no purchase in this many days.
    cohort_months : int
        Acquisition months shown in the cohort triangle.
    seed : int
        Seed of the churn model.

    Returns
    -------
    DynamicsStage
        Tables and the churn model for the report.

    Raises
    ------
    ConfigError
        For an unknown cadence or segmentation, or data too short for the snapshots or
        two churn horizons.
    """
    from seglab import churn_model, dynamics

    if segment_col not in dynamics.SEGMENTATIONS:
        raise ConfigError(f"segment_col={segment_col!r} cannot be followed over time; use one "
                          f"of {list(dynamics.SEGMENTATIONS)}.")
    run = open_for_writing(run_dir)
    folder = run.path
    table = customer_table(folder, needs="cluster" if segment_col == "cluster" else "")
    inputs = load_inputs(folder)
    as_of = inputs.as_of
    transactions = load_clean_transactions(folder)
    transactions = transactions[transactions["order_date"] < day_end(as_of)]
    first_day = transactions["order_date"].min().normalize()
    found = inputs.support
    lang = report_language(folder)
    notes = {"snapshots": "", "churn": ""}
    dates, used_cadence = _fitting_snapshot_dates(as_of, cadence, steps, first_day)
    if used_cadence != cadence:
        notes["snapshots"] = i18n.text(
            "Snapshots are {used}, not {asked}: the log covers {span} days, too few for two "
            "{asked} dates.", lang, used=i18n.text(used_cadence, lang),
            asked=i18n.text(cadence, lang), span=found.span_days)
    asked_horizon, horizon_days = horizon_days, found.fit_days(horizon_days, share=1 / 3)
    if horizon_days and horizon_days != asked_horizon:
        notes["churn"] = i18n.text(
            "Churn means no purchase in {days} days, not {asked}: the log covers {span} days "
            "and the model needs two horizons of history before the analysis date.", lang,
            days=horizon_days, asked=asked_horizon, span=found.span_days)
    churn_dates = churn_model.churn_dates(as_of, horizon_days=max(horizon_days, 1))
    churn_dates["train"] = [d for d in churn_dates["train"] if d > first_day]
    if not horizon_days or not churn_dates["train"]:
        notes["churn"] = i18n.text(
            "Skipped: the log covers {span} days, too few to train a churn model and check it "
            "on a later holdout.", lang, span=found.span_days)

    model_path = run.cluster_model
    assign = None
    if model_path.exists() and "cluster" in table:
        try:
            assign = dynamics.cluster_assigner(joblib.load(model_path), table)
            assign(table.head(5))
        except (AttributeError, KeyError, TypeError, ValueError, InputError) as exc:
            if segment_col == "cluster":
                raise
            assign = None
            logger.warning("clusters are not followed over time: %s cannot assign the "
                           "customer table (%s); rerun the clustering notebook", model_path,
                           exc)
    if segment_col == "cluster" and assign is None:
        raise ConfigError(f"segment_col='cluster' needs {model_path.name} in the run folder; "
                          "run the clustering notebook (03) first.")
    snaps = dynamics.take_snapshots(transactions, dates, window_days=window_days,
                                    cluster_labels=assign)
    book = dynamics.ledger(transactions)
    flows = dynamics.migration(snaps, book, segment_col=segment_col)
    flows.to_csv(run.segment_migration, index=False)
    checks = dynamics.check_migration(flows, snaps, segment_col=segment_col)

    churn = None
    if not support.is_skipped(notes["churn"]):
        needed = sorted({d for group in churn_dates.values() for d in group})
        tables = dynamics.features_at(transactions, needed, cache=snaps.features)
        try:
            churn = churn_model.fit_churn_model(
                book, tables, train_dates=churn_dates["train"],
                test_date=churn_dates["test"][0], horizon_days=horizon_days, as_of=as_of,
                random_state=seed)
        except (ValueError, InputError) as error:
            notes["churn"] = i18n.text("Skipped: the churn model cannot be fitted on this log "
                                       "({error}).", lang, error=error)
    # A large log's snapshots cover the customer sample; its customer table everyone.
    risk = (pd.Series(np.nan, index=pd.Index(table["customer_id"]), name="churn_risk")
            if churn is None else
            churn.predict(snaps.features[as_of] if inputs.partition is None else table))
    at_risk = dynamics.newly_at_risk(snaps, risk=None if churn is None else risk)

    _drop_in_place(table, ["churn_risk", "newly_at_risk"])
    table["churn_risk"] = table["customer_id"].map(risk).to_numpy()
    table["newly_at_risk"] = table["customer_id"].isin(at_risk["customer_id"]).to_numpy()
    write_customers(folder, table)

    incomplete = {d: churn.predict(snaps.features[d]) for d in dates
                  if churn is not None and d + pd.Timedelta(days=horizon_days) > as_of}
    # The monitor charges the study's costs, as notebook 04's P&L does.
    monitor = dynamics.monitoring(snaps, transactions, segment_col=segment_col,
                                  costs=inputs.meta.cost_table(),
                                  horizon_days=horizon_days, predicted_risk=incomplete,
                                  as_of=as_of)
    monitor.to_csv(run.segment_monitoring, index=False, date_format="%Y-%m-%d")

    planted = None
    movement = _planted_movement(inputs)
    if movement is not None:
        planted = dynamics.planted_comparison(
            snaps, {d: synth.planted_stage(movement, d) for d in dates})

    history = pd.DataFrame({
        "date": [d.date().isoformat() for d in dates],
        "days of data up to it": [(d - first_day).days + 1 for d in dates],
        "customers": [int((snaps.table["date"] == d).sum()) for d in dates],
    })
    tier_revenue = dynamics.transition_matrix(flows if segment_col == "value_tier" else
                                              dynamics.migration(snaps, book,
                                                                 segment_col="value_tier"),
                                              steps=1, value="revenue", normalize=False,
                                              segment_col="value_tier")
    shown_at_risk, masked = _masked_ids(folder, at_risk)
    record_sections(folder, notes)
    s = churn.scores if churn is not None else None
    record_metrics(folder, "churn", {"fitted": False} if s is None else {
        "auc": s["auc"],
        "horizon_days": horizon_days,
        "baseline_auc": s["baseline_auc"],
        "baseline": "1 - P(alive), BG/NBD fitted at the holdout date",
        "expected_purchases_auc": s["expected_auc"],
        "recency_auc": s["recency_auc"],
        "best_baseline": churn.best_baseline,
        "best_baseline_auc": churn.best_baseline_auc,
        "headline": churn.headline(),
        "top_decile_precision": s["top_decile_precision"],
        "baseline_top_decile_precision": s["baseline_top_decile_precision"],
        "base_rate": s["base_rate"],
        "model": "logistic regression",
        "train_dates": [d.date().isoformat() for d in churn.train_dates],
        "test_date": churn.test_date.date().isoformat(),
        "holdout_customers": s["test_customers"],
        "drivers": churn.drivers["feature"].head(5).tolist(),
    })
    record_metrics(folder, "dynamics", {
        "cadence": used_cadence,
        "dates": [d.date().isoformat() for d in dates],
        "segment_col": segment_col,
        "window_days": window_days,
        "migration_adds_up": bool(checks["agrees"].all()),
        "clusters_followed": assign is not None,
        "cluster_agreement_latest": None if assign is None else float(
            (snaps.at(as_of)["cluster"].to_numpy() == table.set_index("customer_id")[
                "cluster"].reindex(snaps.at(as_of).index).to_numpy()).mean()),
        "newly_at_risk": len(at_risk),
        "planted_agreement": None if planted is None else planted["agreement"].iloc[-1],
    })
    order = dynamics.segment_order(monitor["segment"].unique(), segment_col)
    return DynamicsStage(
        dates=history, segment_col=segment_col,
        sizes=dynamics.display_names(dynamics.segment_sizes(snaps, segment_col), lang),
        migration=flows, checks=checks,
        check_summary=dynamics.display_names(dynamics.check_summary(checks), lang),
        matrix=dynamics.transition_matrix(flows, segment_col=segment_col),
        thresholds=snaps.thresholds.frame(),
        tier_flows=dynamics.display_names(dynamics.tier_value_flows(snaps), lang),
        tier_revenue=tier_revenue, at_risk=dynamics.display_names(shown_at_risk, lang),
        cohorts=dynamics.cohorts(book, as_of=as_of, months=cohort_months), churn=churn,
        churn_summary=pd.DataFrame() if churn is None else churn.summary(lang),
        monitoring=monitor, monitoring_order=order, notes=notes, lang=lang,
        planted=planted if planted is not None else pd.DataFrame(
            {"note": [i18n.text("Not available: this data has no planted movement.", lang)]}),
        planted_known=planted is not None, masked=masked, snapshots=snaps,
        sample_note=inputs.sample_note(
            whole=i18n.text("Features, segments and the churn risk of every customer", lang),
            sampled=i18n.text("the snapshots, migration, cohorts, monitor and the churn "
                              "model's training", lang), lang=lang),
    )


# --- Stage 7: campaigns -------------------------------------------------------------------


@dataclass
class CampaignStage:
    """What the campaigns stage produced, for display."""

    audiences: pd.DataFrame
    audience_summary: pd.DataFrame
    balance: pd.DataFrame
    next_tier: pd.DataFrame
    effects: pd.DataFrame
    campaigns: pd.DataFrame
    srm: pd.DataFrame
    heterogeneity: pd.DataFrame
    sentences: list[str]
    planted: pd.DataFrame
    names: dict[str, str]
    readout_names: dict[str, str] = field(default_factory=dict)
    masked: bool = False
    not_contactable: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    moves: pd.DataFrame = field(default_factory=pd.DataFrame)
    move_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    move_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    moves_headline: str = ""
    previous_run: str | None = None
    growth_access: pd.DataFrame = field(default_factory=pd.DataFrame)
    growth_access_matrix: pd.DataFrame = field(default_factory=pd.DataFrame)
    growth_access_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    lang: str = "en"

    @property
    def next_tier_summary(self) -> pd.DataFrame:
        """Customers one order from the next membership tier, per tier step."""
        if self.next_tier.empty:
            return pd.DataFrame()
        counts = (self.next_tier.groupby(["membership", "next_tier"], sort=True).size()
                  .rename("customers").reset_index())
        for column in ("membership", "next_tier"):  # grades in the report's language
            counts[column] = counts[column].map(lambda grade: i18n.text(str(grade), self.lang))
        return counts

    @property
    def effects_table(self) -> pd.DataFrame:
        """The effects with their metric names in the report's language, for display."""
        from seglab.campaigns import display_readout

        return display_readout(self.effects, lang=self.lang)

    @property
    def srm_flagged(self) -> list[str]:
        """Campaigns whose split failed the sample-ratio test."""
        if self.campaigns.empty:
            return []
        return self.campaigns.loc[self.campaigns["srm_flag"], "campaign"].astype(str).tolist()

    @property
    def readout_sentences(self) -> str:
        """The sentences for a marketing reader, one per line ("" with no readout)."""
        return "\n".join(self.sentences)


def campaigns_stage(
    run_dir: str | Path | None,
    *,
    control_share: float = 0.1,
    campaign_window_days: int = 30,
    seed: int = 0,
    block_size: int = 20,
    campaign_control_shares: dict | None = None,
    engagement_days: int = 90,
) -> CampaignStage:
    """Audiences with a control group out to the CRM; campaign results read out per segment.

    Writes ``audiences.csv`` (one row per contactable customer: ``customer_id``,
    ``segment`` — the study's ``cluster`` —, ``persona``, ``strategy``,
    ``action_code``, ``action``, ``group``, ``spend``), and ``next_tier.csv``
    (customers one order from the next membership tier), ``segment_moves.csv``
    (customers who entered or left a segment since the previous finished run of the
    same reports folder, compared by persona name: :func:`seglab.campaigns.segment_moves`)
    and ``growth_accessibility.csv`` (every customer's growth x accessibility quadrant:
    :func:`seglab.campaigns.growth_accessibility`). When campaign exposures were
    staged (``seglab run --campaigns``), reads each campaign out per segment (the
    segment at send time when the exposures give it) and writes
    ``campaign_readout.csv``, one row per campaign x segment x metric. Records the
    ``audiences`` and ``campaigns`` metrics (campaign → its figures, with
    ``srm_p_value`` and ``srm_flag``).

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    control_share : float
        Share of each segment held out as control in the audiences, and the planned
        control share of campaigns the next parameter does not name.
    campaign_window_days : int
        Days after ``sent_at`` whose purchases are the campaign's outcome (and the
        same length before it, the CUPED covariate).
    seed : int
        Seed of the control draw.
    block_size : int
        Customers of similar spend per block of the control draw.
    campaign_control_shares : dict, optional
        Campaign → its planned control share (default ``control_share``; on planted
        synthetic campaigns, the planted share).
    engagement_days : int
        Days since the last order at which a customer's recent engagement, one part of
        accessibility, scores one half.

    Returns
    -------
    CampaignStage
        Tables, sentences and notes for the report.

    Raises
    ------
    ConfigError
        For a control share outside (0, 1), a window under one day, a block under 2 or
        ``engagement_days`` under 1.
    """
    from seglab import campaigns as camp

    if not 0 < control_share < 1:
        raise ConfigError(f"control_share={control_share} should be between 0 and 1.")
    if campaign_window_days < 1:
        raise ConfigError(f"campaign_window_days={campaign_window_days} should be >= 1.")
    if block_size < 2:
        raise ConfigError(f"block_size={block_size} should be >= 2.")
    if engagement_days < 1:
        raise ConfigError(f"engagement_days={engagement_days} should be >= 1.")
    run = open_for_writing(run_dir)
    folder = run.path
    table = customer_table(folder, needs="cluster")
    if "persona" not in table or "strategy" not in table:
        profit_stage(folder)
        table = customer_table(folder, needs="cluster")
    inputs = load_inputs(folder, lines=False)
    lang = report_language(folder)
    notes = {"audiences": "", "next_tier": "", "segment_moves": "",
             "growth_accessibility": "", "campaign_readout": ""}

    # Audiences out.
    spend_col = "revenue"
    people = table[["customer_id", "cluster", "persona", "strategy", spend_col]].rename(
        columns={"cluster": "segment", spend_col: "spend"})
    people["segment"] = people["segment"].astype(str)
    reachable, left_out = camp.contactable(people, inputs.customers)
    if inputs.customers is None or "contact_consent" not in inputs.customers:
        notes["audiences"] = i18n.text(
            "Every customer is in the audiences: the data gives no contact consent (add "
            "contact_consent to the --customers file).", lang)
    elif left_out:
        notes["audiences"] = i18n.text(
            "{left_out:,} of {customers:,} customers gave no contact consent (or none is "
            "recorded) and are left out of the audiences.", lang, left_out=left_out,
            customers=len(people))
    actions = {}
    if run.segments.exists():
        seg_file = pd.read_csv(run.segments, dtype={"segment": "string"})
        if {"segment", "action"} <= set(seg_file.columns):
            actions = dict(zip(seg_file["segment"].astype(str), seg_file["action"].fillna(""),
                               strict=True))
    audience = camp.assign_groups(reachable, segment_col="segment", spend_col="spend",
                                  control_share=control_share, seed=seed,
                                  block_size=block_size)
    audience["action_code"] = audience["strategy"].map(camp.action_code)
    audience["action"] = audience["segment"].map(actions).fillna("")
    audience = audience[["customer_id", "segment", "persona", "strategy", "action_code",
                         "action", "group", "spend"]]
    audience.to_csv(run.audiences, index=False)
    balance = camp.group_balance(audience, segment_col="segment", spend_col="spend")
    names = (audience.drop_duplicates("segment").set_index("segment")["persona"]
             .astype(str).to_dict())
    summary = (audience.groupby(["segment", "persona", "strategy", "action_code"],
                                sort=True, dropna=False)
               .agg(customers=("customer_id", "size"),
                    treatment=("group", lambda g: int((g == "treatment").sum())),
                    control=("group", lambda g: int((g == "control").sum())))
               .reset_index())
    tier = camp.near_next_tier(table)
    if tier.empty and "membership" not in table:
        notes["next_tier"] = i18n.text("Skipped: the customer table has no membership grade.",
                                       lang)
    tier.to_csv(run.next_tier, index=False)

    # Over time: who entered or left a segment since the previous run.
    group = audience.set_index("customer_id")["group"]
    previous, previous_run, notes["segment_moves"] = _previous_customers(run, lang)
    moves = pd.DataFrame(columns=["customer_id", "previous_persona", "persona", "move",
                                  "strategy", "action_code", "action", "group"])
    move_table = counts = pd.DataFrame()
    headline = ""
    if previous is not None:
        moves = camp.segment_moves(previous, table)
        moves["group"] = moves["customer_id"].map(group).fillna("")
        move_table = camp.move_summary(moves, table)
        gone = [name for name in move_table["segment"]
                if name not in set(table["persona"].astype(str))]
        if gone:
            notes["segment_moves"] = i18n.text(
                "Segments of the previous run that this run does not have (renamed, merged or "
                "gone; their customers all count as moved): {segments}.", lang,
                segments=_joined([persona.persona_label(name, lang) for name in gone], lang))
        counts = camp.move_counts(moves, lang=lang)
        said = [i18n.text("{customers:,} {move}", lang, customers=row.customers, move=row.move)
                for row in counts.itertuples(index=False) if row.customers]
        headline = i18n.text(
            "Since the previous run {run}: {stayed:,} customers stayed in their segment; "
            "{moves}.", lang, run=previous_run, stayed=int(move_table["stayed"].sum()),
            moves=_joined(said, lang) if said else i18n.text("nobody moved", lang))
        move_table = move_table.assign(segment=move_table["segment"].map(
            lambda name: persona.persona_label(name, lang)))
    moves.to_csv(run.segment_moves, index=False)

    # By reach: growth x accessibility.
    has_consent = inputs.customers is not None and "contact_consent" in inputs.customers
    reach = camp.growth_accessibility(
        table, consent=table["customer_id"].isin(reachable["customer_id"]) if has_consent
        else None, engagement_days=engagement_days)
    access = reach.customers
    if access.empty:
        notes["growth_accessibility"] = i18n.text(
            "Skipped: the customer table has no revenue growth or no accessibility signal "
            "(channels, days since the last order).", lang)
        access = pd.DataFrame(columns=["customer_id", "persona", "quadrant", "action", "group"])
    else:
        access.insert(1, "persona", table["persona"].astype(str).to_numpy())
        access["group"] = access["customer_id"].map(group).fillna("")
        if reach.missing:
            notes["growth_accessibility"] = i18n.text(
                "Accessibility from {used} only: the data has no {missing}.", lang,
                used=_listed(reach.used, lang), missing=_listed(reach.missing, lang))
        order = {name: i for i, name in enumerate(camp.GROWTH_ACCESS_QUADRANTS)}
        access = access.sort_values(["quadrant", "customer_id"], key=lambda c: c.map(order)
                                    if c.name == "quadrant" else c, kind="mergesort",
                                    ignore_index=True)
    access.to_csv(run.growth_accessibility, index=False)

    # Campaign results in.
    effects = campaigns = srm = het = planted = pd.DataFrame()
    lines: list[str] = []
    readout_names = names
    if not run.exposures.exists():
        notes["campaign_readout"] = i18n.text(
            "Skipped: no campaign results were given; send the audiences above, then run "
            "again with --campaigns FILE (one row per customer contacted or held out).", lang)
    else:
        exposures = pd.read_parquet(run.exposures)
        transactions = load_clean_transactions(folder)
        exposures, checks = camp.check_exposures(
            exposures, known_customers=table["customer_id"], as_of=inputs.as_of,
            log_end=transactions["order_date"].max(), window_days=campaign_window_days,
            lang=lang)
        labels_note = inputs.meta.campaigns
        checks = [labels_note, *checks] if labels_note else checks
        if inputs.partition is not None:
            checks.append(inputs.sample_note(whole=i18n.text("The audiences", lang),
                                             sampled=i18n.text("the campaign outcomes", lang),
                                             lang=lang))
            exposures = exposures[exposures["customer_id"].isin(transactions["customer_id"])]
        if "segment" not in exposures or exposures["segment"].isna().all():
            exposures["segment"] = exposures["customer_id"].map(
                people.set_index("customer_id")["segment"])
        else:
            readout_names = {}  # segments at send time are the exposures' own labels
        exposures["segment"] = exposures["segment"].astype(str)
        costs = inputs.meta.cost_table()
        shares: dict[str, float] = {}
        truth = pd.read_csv(run.campaign_truth) if run.campaign_truth.exists() else None
        if truth is not None:
            shares = truth.groupby("campaign")["control_share"].first().to_dict()
        shares.update(campaign_control_shares or {})
        shares = {name: shares.get(name, control_share)
                  for name in exposures["campaign"].astype(str).unique()}
        if exposures.empty:
            notes["campaign_readout"] = " ".join(
                [i18n.text("Skipped: no exposure could be read out.", lang), *checks])
        else:
            outcomes = camp.campaign_outcomes(exposures, transactions,
                                              window_days=campaign_window_days, costs=costs)
            result = camp.readout(outcomes, control_share=shares)
            effects, campaigns, srm, het = (result.effects, result.campaigns, result.srm,
                                            result.heterogeneity)
            flagged = campaigns[campaigns["srm_flag"]]
            if len(flagged):
                shown_shares = ", ".join(
                    i18n.text("{campaign} (control {share:.1%} of its customers, planned "
                              "{planned:.0%})", lang, campaign=row.campaign,
                              share=row.control_share, planned=row.planned_control_share)
                    for row in flagged.itertuples(index=False))
                checks.insert(0, i18n.text(
                    "SAMPLE RATIO MISMATCH in {campaigns}: p < 0.001, so customers were lost or "
                    "moved between groups; do not trust these effects until the cause is found "
                    "(if the plan was another split, give it in campaign_control_shares).", lang,
                    campaigns=shown_shares))
            notes["campaign_readout"] = " ".join(checks)
            lines = camp.sentences(result, lang=lang,
                                   names=_persona_labels(readout_names, lang))
            if truth is not None:
                planted = _planted_campaign_check(effects, truth)
    columns = ["campaign", "segment", "metric", "customers_treatment", "customers_control",
               "effect", "ci_low", "ci_high", "p_value", "p_adjusted", "significant",
               "raw_effect", "variance_reduction", "mde", "incremental", "cost",
               "incremental_after_cost"]
    shown = (effects.reindex(columns=columns).sort_values(["campaign", "segment", "metric"],
                                                           kind="mergesort")
             if not effects.empty else pd.DataFrame(columns=columns))
    shown.to_csv(run.campaign_readout, index=False)
    record_metrics(folder, "audiences", {
        "customers": len(audience), "not_contactable": left_out,
        "control": int((audience["group"] == "control").sum()),
        "control_share": control_share, "seed": seed,
        "max_std_difference": float(balance["std_difference"].abs().max())
        if len(balance) else None,
        "next_tier": len(tier),
        "previous_run": previous_run,
        "segment_moves": moves["move"].value_counts().sort_index().to_dict()
        if previous is not None else None,
        "growth_accessibility": access["quadrant"].value_counts().sort_index().to_dict()
        if len(access) else None,
        "accessibility_from": reach.used})
    record_metrics(folder, "campaigns", {
        str(row.campaign): {
            "customers_treatment": row.customers_treatment,
            "customers_control": row.customers_control,
            "planned_control_share": row.planned_control_share,
            "srm_p_value": row.srm_p_value, "srm_flag": bool(row.srm_flag),
            "incremental_revenue": row.incremental_revenue,
            "incremental_profit": row.incremental_profit, "cost": row.cost,
            "profit_after_cost": row.profit_after_cost,
            "window_days": campaign_window_days,
            "segments_differ_revenue": bool(het.loc[(het["campaign"] == row.campaign)
                                                    & (het["metric"] == "revenue"),
                                                    "segments_differ"].any()),
        } for row in campaigns.itertuples(index=False)})
    record_sections(folder, notes)
    shown_audience, masked = _masked_ids(folder, audience)
    return CampaignStage(
        audiences=camp.display_audience(shown_audience, lang=lang),
        audience_summary=camp.display_audience(summary, lang=lang), balance=balance,
        next_tier=tier,
        effects=shown, campaigns=campaigns, srm=camp.display_readout(srm, lang=lang),
        heterogeneity=camp.display_readout(het, lang=lang), sentences=lines,
        planted=planted, names=_persona_labels(names, lang),
        readout_names=_persona_labels(readout_names, lang), masked=masked,
        not_contactable=left_out, notes=notes,
        moves=camp.display_moves(_masked_ids(folder, moves)[0], lang=lang),
        move_counts=counts, move_summary=move_table, moves_headline=headline,
        previous_run=previous_run, growth_access=_masked_ids(folder, access)[0],
        growth_access_matrix=reach.matrix(lang), growth_access_summary=reach.summary(lang),
        lang=lang)


def _persona_labels(names: dict[str, str], lang: str) -> dict[str, str]:
    """Segment -> persona name, the names in the report's language (for display)."""
    return {segment: persona.persona_label(name, lang) for segment, name in names.items()}


def _joined(items: list[str], lang: str) -> str:
    """Join a short list as ``lang`` writes one ("a, b, c"; "a、b、c")."""
    text = items[0] if items else ""
    for item in items[1:]:
        text = i18n.text("{before}, {after}", lang, before=text, after=item)
    return text


def _listed(names: list[str], lang: str) -> str:
    """Name the items of a short list of English names in ``lang``."""
    return _joined([i18n.text(name, lang) for name in names], lang)


def _previous_customers(run: RunFolder, lang: str = "en"
                        ) -> tuple[pd.DataFrame | None, str | None, str]:
    """Find the previous run; return its customers (id, persona, revenue), name and a note.

    The previous run is the newest succeeded run of the same reports folder (the run
    folder's parent); this run is being built while its folder is ``.<run-id>.partial``
    (finished runs are read-only, and a scratch folder or workspace has no reports
    folder). A run that masked its ids (``--mask-pii``) left its unmasked customer
    table in ``<out>/private/<run-id>/``, read from there so ids match. The note says
    why there is nothing to compare with ("" when there is).
    """
    from seglab import history

    folder = run.path
    if not (folder.name.startswith(".") and folder.name.endswith(".partial")):
        return None, None, i18n.text(
            "Skipped: this study is not a run of a reports folder (a scratch folder or a "
            "workspace), so there is no previous run to compare with.", lang)
    out = folder.parent
    runs = history.list_runs(out)
    done = runs[(runs["status"] == "succeeded")
                & (runs["run_id"] != folder.name[1:].removesuffix(".partial"))]
    if done.empty:
        return None, None, i18n.text(
            "Skipped: no earlier run in {folder}/ succeeded; the next run will list who "
            "entered or left a segment since this one.", lang, folder=out.name)
    run_id = str(done["run_id"].iloc[-1])
    before = RunFolder(out / run_id)
    manifest = read_json(before.manifest)
    unmasked = manifest.get("masked", {}).get("unmasked_files")
    places = [before.path, *([Path(unmasked)] if unmasked else []), out / "private" / run_id]
    path = next((RunFolder(p).customers for p in places if RunFolder(p).customers.is_file()),
                None)
    if path is None:
        return None, run_id, i18n.text(
            "Skipped: the previous run {run} masked its customer ids and its unmasked customer "
            "table is no longer in {folder}/private/{run}/, so its customers cannot be matched "
            "with this run's.", lang, run=run_id, folder=out.name)
    import pyarrow.parquet as pq

    columns = pq.read_schema(path).names
    if "persona" not in columns:
        return None, run_id, i18n.text(
            "Skipped: the previous run {run} has no persona names to compare segments by.",
            lang, run=run_id)
    previous = pd.read_parquet(path, columns=[c for c in ("customer_id", "persona", "revenue")
                                              if c in columns])
    previous["customer_id"] = previous["customer_id"].astype("string")
    as_of = manifest.get("parameters", {}).get("as_of")
    name = i18n.text("{run} (analysis date {as_of})", lang, run=run_id, as_of=as_of) \
        if as_of else run_id
    return previous, name, ""


def _planted_campaign_check(effects: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Set the readout's orders and revenue effects beside the planted lifts."""
    planted = truth.melt(id_vars=["campaign", "segment"], value_vars=["orders", "revenue"],
                         var_name="metric", value_name="planted")
    out = planted.merge(effects[["campaign", "segment", "metric", "effect", "ci_low",
                                 "ci_high"]], on=["campaign", "segment", "metric"],
                        how="inner")
    out["inside_ci"] = (out["ci_low"] <= out["planted"]) & (out["planted"] <= out["ci_high"])
    return out.sort_values(["campaign", "metric", "segment"], kind="mergesort").reset_index(
        drop=True)


# --- Stage 6: what each segment buys -------------------------------------------------------


@dataclass
class ProductsStage:
    """What the products stage produced, for display.

    ``products`` and ``categories`` are the distinguishing items per segment
    (:func:`seglab.products.segment_index`), ``rules`` and ``category_rules`` the basket
    rules (:func:`seglab.products.basket_rules`), ``offers`` the next-product offers and
    ``evaluation`` their precision and recall at N against the segment's best sellers.
    Tables of a skipped section are empty and ``notes`` says why.
    """

    segment_col: str
    products: pd.DataFrame
    categories: pd.DataFrame
    standout: pd.DataFrame
    rules: pd.DataFrame
    rules_view: pd.DataFrame
    category_rules: pd.DataFrame
    pairs: pd.DataFrame
    offers: pd.DataFrame
    evaluation: pd.DataFrame
    notes: dict[str, str] = field(default_factory=dict)
    sample_note: str = ""
    summary: str = ""


def _products_view(index: pd.DataFrame, item_col: str, top: int,
                   lang: str = "en") -> pd.DataFrame:
    """Tabulate the top distinguishing items of each segment, with readable names."""
    if index.empty:
        return pd.DataFrame()
    shown = index[index["rank_index"].notna() & (index["rank_index"] <= top)]
    if lang != "en":
        shown = shown.assign(segment=shown["segment"].map(
            lambda name: segments.segment_label(name, lang)))
    keep = {"segment": "segment", item_col: item_col, "product_name": "product",
            "buyers": "buyers", "penetration": "share of segment buying",
            "buyers_index": "buyers index", "revenue_index": "revenue index",
            "revenue": "revenue"}
    return shown[[c for c in keep if c in shown]].rename(columns=keep).reset_index(drop=True)


def products_stage(
    run_dir: str | Path | None,
    *,
    segment_col: str = "cluster",
    min_support: float = products.PRODUCT_RULES.min_support,
    min_confidence: float = products.PRODUCT_RULES.min_confidence,
    min_pair_orders: int = products.PRODUCT_RULES.min_pair_orders,
    max_rules: int = products.PRODUCT_RULES.max_rules,
    min_buyers: int = products.PRODUCT_RULES.min_buyers,
    top_products: int = products.PRODUCT_RULES.top_products,
    top_n: int = products.PRODUCT_RULES.top_n,
    holdout_days: int = products.PRODUCT_RULES.holdout_days,
) -> ProductsStage:
    """Find what each segment buys: distinguishing items, basket rules, offers.

    Writes ``segment_products.csv`` and ``segment_categories.csv`` (retail index per
    segment and item), ``basket_rules.csv`` and ``category_rules.csv`` (pairwise rules per
    segment), ``recommendations.csv`` (``top_n`` offers per customer) and records the
    ``products`` metrics, with the offers' precision and recall at N after a time split,
    against the segment's best sellers. A log without product ids (or categories) skips
    those sections with a note.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    segment_col : str
        Segmentation to describe (``cluster`` or a rule segment column).
    min_support, min_confidence, min_pair_orders : float or int
        Rule thresholds (:func:`seglab.products.basket_rules`).
    max_rules : int
        Most rules per segment written to ``basket_rules.csv`` and shown (highest lift
        first; 0: all); the offers use every rule.
    min_buyers, top_products : int
        Fewest segment buyers of a ranked item, and items listed per segment.
    top_n : int
        Offers per customer.
    holdout_days : int
        Days at the end kept out to evaluate the offers (shrunk to a third of the span).

    Returns
    -------
    ProductsStage
        Tables for the report.

    Raises
    ------
    ConfigError
        For an unknown segment column or a threshold out of range.
    """
    run = open_for_writing(run_dir)
    folder = run.path
    table = customer_table(folder, needs="cluster" if segment_col == "cluster" else "")
    if segment_col not in table:
        raise ConfigError(f"segment_col={segment_col!r} is not a column of customers.csv.")
    inputs = load_inputs(folder, lines=False)
    found = inputs.support
    transactions = load_clean_transactions(folder)
    segments = table.set_index("customer_id")[segment_col].astype(str)
    thresholds = {"min_support": min_support, "min_confidence": min_confidence,
                  "min_pair_orders": min_pair_orders, "max_rules": max_rules}
    has_products, has_categories = found.has("product_id"), found.has("category")
    part = clean_partition(folder)

    def rules_of(item_col: str, **options: Any) -> pd.DataFrame:
        # A large log's rules count every order of the clean partition, in DuckDB.
        if part is not None:
            return products.partition_rules(part.glob(), segments, item_col=item_col,
                                            **options)
        return products.basket_rules(products.baskets(transactions, segments,
                                                      item_col=item_col), **options)

    lang = report_language(folder)
    notes = {
        "segment_products": found.missing_note(
            ("product_id",), i18n.text("what each segment buys", lang), lang=lang),
        "segment_categories": found.missing_note(
            ("category",), i18n.text("showing which categories each segment buys", lang),
            lang=lang),
        "basket_rules": found.missing_note(
            ("product_id",), i18n.text("what sells together", lang), lang=lang)
        or found.order_note(lang=lang),
        "offers": found.missing_note(
            ("product_id",), i18n.text("offering each customer a next product", lang),
            lang=lang),
        "offer_evaluation": "",
    }
    names = products.item_names(transactions) if has_products else pd.Series(dtype=str)
    index = products.segment_index(transactions, segments, min_buyers=min_buyers,
                                   top=top_products) if has_products else pd.DataFrame(
        columns=["segment", "product_id", "product_name", "buyers_index"])
    cats = products.segment_index(transactions, segments, item_col="category", name_col=None,
                                  min_buyers=min_buyers, top=top_products) \
        if has_categories else pd.DataFrame(columns=["segment", "category", "buyers_index"])
    rule_columns = [*products.RULE_COLUMNS, "antecedent_name", "consequent_name"]
    rules = every_rule = pd.DataFrame(columns=rule_columns)
    category_rules = pd.DataFrame(columns=list(products.RULE_COLUMNS))
    offers = pd.DataFrame(columns=["customer_id", "rank", "product_id", "product_name",
                                   "score", "reason"])
    evaluation = pd.DataFrame()
    if has_products:
        every_rule = rules_of("product_id", **{**thresholds, "max_rules": 0})
        offers = products.recommend(transactions, segments, every_rule, top_n=top_n,
                                    names=names)
        rules = every_rule.groupby("segment", sort=False).head(max_rules) if max_rules \
            else every_rule
        rules = rules.reset_index(drop=True)
        rules["antecedent_name"] = rules["antecedent"].map(names)
        rules["consequent_name"] = rules["consequent"].map(names)
        days = found.fit_days(holdout_days, share=1 / 3)
        if not days:
            notes["offer_evaluation"] = i18n.text(
                "Skipped: {span} days of history are too few to keep {days} or more days out "
                "to check the offers.", lang, span=found.span_days, days=support.MIN_WINDOW_DAYS)
        else:
            if days != holdout_days:
                notes["offer_evaluation"] = i18n.text(
                    "The check keeps out the last {days} days instead of {asked}: the log "
                    "covers {span} days.", lang, days=days, asked=holdout_days,
                    span=found.span_days)
            checked = products.evaluate_offers(transactions, segments, as_of=inputs.as_of,
                                               holdout_days=days, top_n=top_n, **thresholds)
            evaluation = checked.scores
            if not evaluation["customers"].iloc[0]:
                notes["offer_evaluation"] = i18n.text(
                    "Skipped: no customer who bought before {cutoff} bought a product new to "
                    "them after it.", lang, cutoff=checked.cutoff.date())
                evaluation = pd.DataFrame()
    else:
        notes["offer_evaluation"] = found.missing_note(
            ("product_id",), i18n.text("checking the offers", lang), lang=lang)
    if has_categories:
        category_rules = rules_of("category", **thresholds)

    index.to_csv(run.segment_products, index=False)
    cats.to_csv(run.segment_categories, index=False)
    rules[rule_columns].to_csv(run.basket_rules, index=False)
    category_rules.to_csv(run.category_rules, index=False)
    offers.to_csv(run.recommendations, index=False)

    standout = products.standout_text(cats) if not cats.empty else pd.Series(dtype=str)
    shown_standout = (products.standout_text(cats, lang=lang) if lang != "en" and len(standout)
                      else standout)
    standout_frame = shown_standout.rename_axis("segment").reset_index() if len(standout) \
        else pd.DataFrame()
    if lang != "en" and len(standout_frame):  # (segments is the customers' Series here)
        from seglab.segments import segment_label

        standout_frame["segment"] = standout_frame["segment"].map(
            lambda name: segment_label(name, lang))
    summary = products.offer_summary(evaluation, days=found.fit_days(holdout_days, share=1 / 3),
                                     lang=lang)
    beats = None
    if not evaluation.empty:
        by = evaluation.set_index("method")
        beats = bool(by.loc["segment rules", "precision_at_n"]
                     > by.loc["segment best sellers", "precision_at_n"])
    record_metrics(folder, "products", {
        "segment_col": segment_col, **thresholds, "min_buyers": min_buyers, "top_n": top_n,
        "products_listed": len(index), "categories_listed": len(cats),
        "rules": len(every_rule), "rules_written": len(rules),
        "category_rules": len(category_rules),
        "rules_per_segment": every_rule.groupby("segment").size().to_dict()
        if len(every_rule) else {},
        "customers_offered": int(offers["customer_id"].nunique()) if len(offers) else 0,
        "offers_from_rules": int(offers["reason"].str.startswith("often").sum())
        if len(offers) else 0,
        "evaluation": evaluation.to_dict("records"),
        "rules_beat_best_sellers": beats,
        "standout": standout.to_dict(),
    })
    record_sections(folder, notes)
    shown_offers, _ = _masked_ids(folder, offers.head(3 * top_n))
    shown_offers = products.display_offers(shown_offers, lang)
    return ProductsStage(
        segment_col=segment_col,
        products=_products_view(index, "product_id", 5, lang),
        categories=_products_view(cats, "category", 3, lang),
        standout=standout_frame, rules=rules,
        rules_view=products.rules_view(rules, names=names, lang=lang),
        category_rules=category_rules,
        pairs=products.top_pairs(rules, names=names, lang=lang),
        offers=shown_offers, evaluation=products.display_evaluation(evaluation, lang),
        notes=notes,
        sample_note=inputs.sample_note(
            whole=i18n.text("The customer segments and the basket rules", lang),
            sampled=i18n.text("the distinguishing products, the offers and their check",
                              lang), lang=lang),
        summary=summary,
    )
