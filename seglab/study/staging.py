"""Stage 0: the study's inputs read, mapped, validated (or made) into the run folder."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from seglab import (
    buckets,
    i18n,
    profit,
    support,
    synth,
)
from seglab import io as seglab_io
from seglab.analysis_date import day_end, default_as_of, parse_as_of
from seglab.errors import ConfigError, InputError
from seglab.runfolder import (
    TIME_UNITS,
    RunFolder,
    StudyMeta,
    open_for_writing,
    open_run,
    read_json,
    read_study,
    write_json,
    write_study,
)

logger = logging.getLogger(__name__)


MIN_CUSTOMERS = 30


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
        sample = self.transactions  # empty when loaded with lines=False: read it for the count
        if sample.empty:
            sample = self.partition.read_sample(
                self.sample_buckets, self.partition.sample_share(self.sample_buckets,
                                                                 SAMPLE_LINES))
        return i18n.text(
            "This log is large ({lines:,} lines), so seglab works on it bucket by bucket of "
            "customers. {whole} cover every line; {sampled} cover a random sample of "
            "{customers:,} customers with all their {sample_lines:,} lines (drawn from "
            "{sample_buckets} of {buckets} customer buckets).", lang,
            lines=self.partition.lines, whole=whole, sampled=sampled,
            customers=sample["customer_id"].nunique(), sample_lines=len(sample),
            sample_buckets=len(self.sample_buckets),
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


