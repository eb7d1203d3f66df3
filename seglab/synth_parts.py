"""Large synthetic studies written to Parquet in parts, one block of customers at a time.

:func:`write_study_parts` writes a study of millions of customers to Parquet one block
of customers at a time (memory bounded by the block), each block drawn as
:func:`seglab.synth.make_study` draws a study, from its own seed, with ids that run on
across blocks. ``lines_per_customer`` scales every segment's order rate by one factor,
e.g. 10 lines per customer instead of about 35: fewer purchases per customer make the
planted segments harder to tell apart, as in real logs, but nothing else about them
changes. The parts are spotless (no planted dirt).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from seglab.errors import ConfigError, RunError
from seglab.synth import (
    SEGMENTS,
    _catalogue,
    _customer_width,
    _draw,
    _generate,
    _Numbering,
    _validate,
)

logger = logging.getLogger(__name__)


#: Part files of :func:`write_study_parts`: rows per Parquet row group and codec.
PART_ROW_GROUP_ROWS = 1_000_000
PART_COMPRESSION = "zstd"

#: Customers of the pilot study that calibrates ``lines_per_customer``.
_PILOT_CUSTOMERS = 50_000
_PILOT_TOLERANCE = 0.005
_PILOT_FIRST_RATE = 0.25
_PILOT_STEPS = 8
_MAX_LINES_PER_CUSTOMER = 500.0
#: Order ids leave room for this many orders per customer on average: twice the most
#: lines per customer one may ask for, and every order has at least one line.
_ORDER_ROOM = 1000


@dataclass(frozen=True)
class StudyParts:
    """A synthetic study written in parts by :func:`write_study_parts`.

    Attributes
    ----------
    folder : pathlib.Path
        The study's folder.
    transaction_files : tuple of pathlib.Path
        ``transactions/part-00000.parquet``, ... in order; read them all with
        ``pandas.read_parquet(folder / "transactions")``.
    customers, truth, movement, manifest : pathlib.Path
        ``customers.parquet``, ``truth.parquet``, ``movement.parquet`` and
        ``manifest.json``.
    n_customers, n_orders, n_transactions : int
        Customers, sale orders and transaction lines (returns included) in all parts.
    order_rate : float
        Multiplier applied to every planted order rate (1.0 without
        ``lines_per_customer``).
    """

    folder: Path
    transaction_files: tuple[Path, ...]
    customers: Path
    truth: Path
    movement: Path
    manifest: Path
    n_customers: int
    n_orders: int
    n_transactions: int
    order_rate: float


def write_study_parts(
    path: str | Path,
    n_customers: int,
    *,
    seed: int = 0,
    part_customers: int = 500_000,
    lines_per_customer: float | None = None,
    end_date: str | pd.Timestamp = "2026-06-30",
    years: float = 2.0,
) -> StudyParts:
    """Write a large synthetic study to Parquet, one block of customers at a time.

    Each part is a study of up to ``part_customers`` customers drawn as
    :func:`make_study` draws one, from its own seed (child ``i`` of
    ``numpy.random.SeedSequence(seed)``), and written before the next is drawn, so
    memory is bounded by the part size, not the study's. All parts share one calendar
    (``end_date``, ``years``); customer and order ids run on across parts with one
    fixed width, so ids are unique and sort in numeric order. Segments are allocated
    per part (largest remainder), so over the whole set each segment's count is within
    one customer per part of its ``SEGMENT_PROFILES`` share. The same arguments give
    byte-identical files. The parts are spotless: no planted dirt (as
    ``make_study(dirt=False)``), so large logs measure the pipeline on clean lines.

    Timestamps are stored as microseconds (all are whole seconds), as Spark cannot
    read nanosecond Parquet timestamps: pandas reads ``order_date`` back as
    ``datetime64[us]``, :func:`seglab.schema.validate_transactions` as the canonical
    ``datetime64[ns]``; DuckDB and Spark read ``TIMESTAMP`` (``TIMESTAMP_NTZ``).

    The folder holds::

        transactions/part-00000.parquet ...   one row per order line, the columns of
                                              make_study's transactions, sorted by
                                              order_date, order_id within each part
        customers.parquet                     one row per customer, sorted by id
        truth.parquet                         customer_id, segment
        movement.parquet                      customer_id, segment, active_from, active_until
        manifest.json                         arguments, order rate, counts, per-part seeds

    Parameters
    ----------
    path : str or pathlib.Path
        Folder to create. It must not exist (an empty folder is allowed). Files are
        written to ``<path>.partial`` first and moved into place at the end, so an
        interrupted write never looks complete.
    n_customers : int
        Customers in the whole study (at least 1).
    seed : int, default 0
        Root seed; part ``i`` draws from ``SeedSequence(seed).spawn(...)[i]``.
    part_customers : int, default 500_000
        Customers per part (the last part takes the rest).
    lines_per_customer : float, optional
        Target mean transaction lines per customer (returns included), between about
        2.1 (one order each) and 500. Every segment's order rate is multiplied by one
        factor, found on a pilot study of 50,000 customers, so the segments keep their
        relative frequencies, basket sizes, prices, discounts, channels and activity
        periods. Default: the planted rates (about 35 lines per customer).
    end_date, years
        The calendar, as in :func:`make_study`.

    Returns
    -------
    StudyParts
        Paths of the written files and the counts.

    Raises
    ------
    ConfigError
        If an argument is invalid, or ``lines_per_customer`` is below one order per
        customer.
    RunError
        If ``path`` exists and is not an empty folder, ``<path>.partial`` is left from
        an interrupted write, or a file cannot be written.

    Examples
    --------
    >>> parts = write_study_parts("big", 2_000_000, lines_per_customer=10)  # doctest: +SKIP
    >>> pd.read_parquet(parts.folder / "transactions", columns=["amount"]).shape  # doctest: +SKIP
    (20000000, 1)
    """
    import json
    import shutil

    import pyarrow.parquet as pq

    end, n_days = _validate(n_customers, seed, end_date, years)
    if (
        isinstance(part_customers, bool)
        or not isinstance(part_customers, int | np.integer)
        or part_customers < 1
    ):
        raise ConfigError(
            f"part_customers={part_customers!r} should be an integer >= 1, e.g. 500000."
        )
    folder = Path(path)
    partial = folder.with_name(folder.name + ".partial")
    if folder.exists() and not (folder.is_dir() and not any(folder.iterdir())):
        raise RunError(
            f"Cannot write the synthetic study to {str(folder)!r}: it exists and is not an "
            "empty folder. Remove it or choose another path."
        )
    if partial.exists():
        raise RunError(
            f"Cannot write the synthetic study to {str(folder)!r}: {str(partial)!r} is left "
            "from an interrupted write. Remove it and run again."
        )
    order_rate = 1.0
    if lines_per_customer is not None:
        order_rate = _calibrate_order_rate(lines_per_customer, seed, end, n_days)

    n_parts = -(-n_customers // part_customers)
    seeds = np.random.SeedSequence(seed).spawn(n_parts)
    customer_width = _customer_width(n_customers)
    order_width = max(8, len(str(_ORDER_ROOM * n_customers - 1)))
    tables = ("customers", "truth", "movement")
    writers: dict[str, Any] = {}
    parts, segments = [], dict.fromkeys(SEGMENTS, 0)
    n_orders = n_rows = 0
    try:
        (partial / "transactions").mkdir(parents=True)
        for i, part_seed in enumerate(seeds):
            first = i * part_customers + 1
            size = min(part_customers, n_customers - first + 1)
            study, part_orders = _generate(
                np.random.default_rng(part_seed),
                size,
                end,
                n_days,
                order_rate=order_rate,
                numbering=_Numbering(first, customer_width, n_orders + 1, order_width),
            )
            file = partial / "transactions" / f"part-{i:05d}.parquet"
            pq.write_table(
                pa.Table.from_pandas(study.transactions, preserve_index=False),
                file,
                row_group_size=PART_ROW_GROUP_ROWS,
                compression=PART_COMPRESSION,
                coerce_timestamps="us",
            )
            for key in tables:
                table = pa.Table.from_pandas(getattr(study, key), preserve_index=False)
                if key not in writers:
                    writers[key] = pq.ParquetWriter(
                        partial / f"{key}.parquet",
                        table.schema,
                        compression=PART_COMPRESSION,
                        coerce_timestamps="us",
                    )
                writers[key].write_table(table)
            for name, count in study.truth["segment"].value_counts().items():
                segments[name] += int(count)
            parts.append(
                {
                    "file": f"transactions/{file.name}",
                    "seed_spawn_key": list(part_seed.spawn_key),
                    "customers": size,
                    "first_customer_id": study.customers["customer_id"].iat[0],
                    "last_customer_id": study.customers["customer_id"].iat[-1],
                    "orders": part_orders,
                    "transactions": len(study.transactions),
                }
            )
            n_orders += part_orders
            n_rows += len(study.transactions)
            del study, table
            logger.info(
                "part %d/%d: %d customers, %d transaction lines", i + 1, n_parts, size,
                parts[-1]["transactions"],
            )
        for writer in writers.values():
            writer.close()
        manifest = {
            "generator": "seglab.synth_parts.write_study_parts",
            "arguments": {
                "n_customers": int(n_customers),
                "seed": int(seed),
                "part_customers": int(part_customers),
                "lines_per_customer": lines_per_customer,
                "end_date": end.strftime("%Y-%m-%d"),
                "years": float(years),
            },
            "window": {
                "first_day": (end - pd.Timedelta(days=n_days)).strftime("%Y-%m-%d"),
                "end_date_exclusive": end.strftime("%Y-%m-%d"),
            },
            "order_rate": order_rate,
            "customers": int(n_customers),
            "orders": n_orders,
            "transactions": n_rows,
            "segments": segments,
            "files": {key: f"{key}.parquet" for key in tables},
            "parquet": {"compression": PART_COMPRESSION, "row_group_rows": PART_ROW_GROUP_ROWS},
            "parts": parts,
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if folder.exists():
            folder.rmdir()
        partial.rename(folder)
    except BaseException as exc:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(partial, ignore_errors=True)
        if isinstance(exc, OSError):
            raise RunError(
                f"Cannot write the synthetic study to {str(folder)!r}: {exc}. "
                "Choose a writable folder with enough space."
            ) from exc
        raise
    return StudyParts(
        folder=folder,
        transaction_files=tuple(folder / part["file"] for part in parts),
        customers=folder / "customers.parquet",
        truth=folder / "truth.parquet",
        movement=folder / "movement.parquet",
        manifest=folder / "manifest.json",
        n_customers=int(n_customers),
        n_orders=n_orders,
        n_transactions=n_rows,
        order_rate=order_rate,
    )


def _calibrate_order_rate(
    lines_per_customer: Any, seed: int, end: pd.Timestamp, n_days: int
) -> float:
    """Order-rate multiplier giving ``lines_per_customer`` lines per customer.

    Lines per customer grow almost linearly with the multiplier (from about 2.1 at 0,
    where every customer has just the one order they must have, to about 37 at 1).
    Secant steps from 0 and ``_PILOT_FIRST_RATE`` (both cheap to draw) on a pilot study
    (the draws of ``make_study(_PILOT_CUSTOMERS, seed)``, the same random numbers at
    every step) find it to ``_PILOT_TOLERANCE``.
    """
    if (
        isinstance(lines_per_customer, bool)
        or not isinstance(lines_per_customer, int | float | np.integer | np.floating)
        or not math.isfinite(lines_per_customer)
        or not 0 < lines_per_customer <= _MAX_LINES_PER_CUSTOMER
    ):
        raise ConfigError(
            f"lines_per_customer={lines_per_customer!r} should be a number above 0 and at "
            f"most {_MAX_LINES_PER_CUSTOMER:g}, e.g. 10."
        )
    target = float(lines_per_customer)
    catalogue = _catalogue()

    def pilot_lines(rate: float) -> float:
        rng = np.random.default_rng(seed)
        _, _, lines, returns = _draw(rng, _PILOT_CUSTOMERS, end, n_days, rate, catalogue)
        return (len(lines["order"]) + len(returns["line"])) / _PILOT_CUSTOMERS

    low = (0.0, pilot_lines(0.0))
    if target < low[1]:
        raise ConfigError(
            f"lines_per_customer={lines_per_customer!r} should be at least {low[1]:.2f}: "
            "every customer places at least one order."
        )
    high = (_PILOT_FIRST_RATE, pilot_lines(_PILOT_FIRST_RATE))
    for _ in range(_PILOT_STEPS):
        if abs(high[1] - target) <= _PILOT_TOLERANCE * target:
            break
        rate = low[0] + (target - low[1]) * (high[0] - low[0]) / (high[1] - low[1])
        low, high = high, (rate, pilot_lines(rate))
    logger.info(
        "order rate x%.4f gives %.2f lines per customer on the pilot", high[0], high[1]
    )
    return high[0]
