"""The canonical tables every seglab stage works on, and how source columns map onto them."""

from __future__ import annotations

import difflib
import logging
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml

from seglab.errors import ConfigError, DataWarning, InputError

logger = logging.getLogger(__name__)

#: Transactions: one row per order line. ``amount`` is the money the customer paid for
#: the line (after any discount); ``discount`` is the money taken off that line; ``cost``
#: is the cost of goods of the whole line. Returns are lines with negative quantity and
#: amount. Kinds: ``id`` (string, leading zeros kept), ``date``, ``number``, ``text``.
TRANSACTION_COLUMNS: dict[str, str] = {
    "customer_id": "id",
    "order_date": "date",
    "amount": "number",
    "quantity": "number",
    "unit_price": "number",
    "order_id": "id",
    "product_id": "id",
    "product_name": "text",
    "category": "text",
    "channel": "text",
    "store": "text",
    "region": "text",
    "country": "text",
    "discount": "number",
    "cost": "number",
}

#: Columns a transactions table must have; ``amount`` may instead be derived as
#: ``quantity * unit_price``.
REQUIRED_TRANSACTION_COLUMNS: tuple[str, ...] = ("customer_id", "order_date")

#: Customers: one row per customer, optional attributes for demographic and
#: geographic bases. ``contact_consent`` is the accessibility signal (may we reach them).
CUSTOMER_COLUMNS: dict[str, str] = {
    "customer_id": "id",
    "signup_date": "date",
    "birth_year": "number",
    "age": "number",
    "gender": "text",
    "region": "text",
    "city": "text",
    "city_tier": "text",
    "contact_consent": "bool",
}

REQUIRED_CUSTOMER_COLUMNS: tuple[str, ...] = ("customer_id",)

#: Campaign exposures: one row per customer contacted (``treatment``) or held out
#: (``control``) in a campaign, when it was sent, optionally the customer's segment at
#: send time and the cost of the contact.
EXPOSURE_COLUMNS: dict[str, str] = {
    "customer_id": "id",
    "campaign": "text",
    "group": "text",
    "sent_at": "date",
    "segment": "text",
    "cost": "number",
}

REQUIRED_EXPOSURE_COLUMNS: tuple[str, ...] = ("customer_id", "campaign", "group", "sent_at")

#: The canonical tables.
TableKind = Literal["transactions", "customers", "exposures"]

#: The option of ``seglab run`` that maps each table.
_MAPPING_FLAGS: dict[str, str] = {"transactions": "--columns",
                                  "customers": "--customer-columns",
                                  "exposures": "--campaign-columns"}
_REQUIRED: dict[str, tuple[str, ...]] = {"transactions": REQUIRED_TRANSACTION_COLUMNS,
                                         "customers": REQUIRED_CUSTOMER_COLUMNS,
                                         "exposures": REQUIRED_EXPOSURE_COLUMNS}

#: Key of ``DataFrame.attrs`` where :func:`apply_column_mapping` records
#: ``{canonical name: source column}``, so that validation messages can name the
#: column as it is called in the user's file.
SOURCE_COLUMNS_ATTR = "seglab_source_columns"

#: Date formats tried, after ISO 8601 and Excel serial numbers, on the values still
#: unread. A column is read month-first or day-first as a whole: whichever order reads
#: more of its values wins, month-first on a tie (the order of the UCI exports).
MONTH_FIRST_DATE_FORMATS: tuple[str, ...] = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
    "%m-%d-%Y %H:%M",
    "%m-%d-%Y",
)
DAY_FIRST_DATE_FORMATS: tuple[str, ...] = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
)
OTHER_DATE_FORMATS: tuple[str, ...] = (
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d %b %Y",
    "%d %B %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%Y年%m月%d日",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
)

#: Words accepted for ``bool`` columns (compared lower-cased, without surrounding spaces).
BOOL_WORDS: dict[str, bool] = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "t": True,
    "f": False,
    "1": True,
    "0": False,
    "1.0": True,
    "0.0": False,
}

_MAX_EXAMPLES = 3
_MAX_LISTED_COLUMNS = 40
#: Excel serial day numbers with five integer digits (1927-05-18 to 2173-10-14) are
#: read as dates; shorter numbers such as ``2010`` go to the ISO parser (a year).
_EXCEL_SERIAL_RE = re.compile(r"\d{5}(\.\d+)?")
_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")
_EXCEL_MAX_SERIAL = 2_958_465  # 9999-12-31
_FLOAT_ID_RE = re.compile(r"[+-]?\d+(\.0+)?")
#: Decimal marks a number column may use (``--decimal``).
DECIMAL_MARKS: tuple[str, ...] = (".", ",")
#: A number written with a decimal comma: digits, optionally grouped in threes by one
#: kind of thousands separator (dot, space, no-break space, thin no-break space), then
#: an optional comma and decimals: ``10,50``, ``1.234,50``, ``-1 234``, ``1234``.
_COMMA_NUMBER_RE = re.compile(
    r"(?P<sign>[+-]?)(?P<int>\d{1,3}(?:(?P<sep>[. \u00a0\u202f])\d{3})(?:(?P=sep)\d{3})*"
    r"|\d+)?(?:,(?P<frac>\d+))?"
)
#: A value that looks like a decimal-comma number (``10,50``, ``1.234,5``), to suggest
#: ``--decimal ,`` when the column is read with a decimal point.
_LOOKS_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})*,\d{1,2}|[+-]?\d+,\d{1,2}")


# --------------------------------------------------------------------------- mapping


def table_columns(kind: TableKind) -> dict[str, str]:
    """Return the canonical columns of one table and their kinds.

    Parameters
    ----------
    kind : {"transactions", "customers", "exposures"}
        Which table.

    Returns
    -------
    dict[str, str]
        ``{canonical name: kind}`` with kind one of ``id``, ``date``, ``number``,
        ``text``, ``bool``; a copy, safe to change.

    Raises
    ------
    ValueError
        If ``kind`` is not one of the two tables.
    """
    if kind == "transactions":
        return dict(TRANSACTION_COLUMNS)
    if kind == "customers":
        return dict(CUSTOMER_COLUMNS)
    if kind == "exposures":
        return dict(EXPOSURE_COLUMNS)
    raise ValueError(f"kind={kind!r} should be 'transactions', 'customers' or 'exposures'.")


def mapping_presets() -> list[str]:
    """Return the names of the bundled column-mapping presets.

    Returns
    -------
    list[str]
        Sorted preset names, e.g. ``["online_retail", "online_retail_ii"]``; each is a
        file ``seglab/mappings/<name>.yaml``.
    """
    folder = resources.files("seglab") / "mappings"
    return sorted(
        item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml")
    )


def parse_column_mapping(
    spec: str | Path | Mapping[str, str] | None,
) -> dict[str, str]:
    """Turn a column-mapping spec into ``{canonical name: source column}``.

    Parameters
    ----------
    spec : str, Path, Mapping or None
        One of

        - ``None`` or ``""``: no mapping (the file already uses canonical names);
        - pairs ``"customer_id=Customer ID,order_date=InvoiceDate,amount=Total"``
          (spaces around names are ignored; a source name containing a comma needs
          a YAML file);
        - the name of a bundled preset, see :func:`mapping_presets`
          (``online_retail``, ``online_retail_ii``);
        - a path to a YAML file holding ``canonical: source`` pairs, at the top level
          or under a ``columns:`` key (other top-level keys are then ignored);
        - a mapping ``{canonical: source}``.

    Returns
    -------
    dict[str, str]
        ``{canonical name: source column name}``; empty for no mapping.

    Raises
    ------
    ConfigError
        If a canonical name is unknown (the message suggests the closest valid
        name), a pair is malformed, a source name is empty, or the preset or YAML
        file cannot be found or read.

    Examples
    --------
    >>> parse_column_mapping("customer_id=CustomerID, amount=Total")
    {'customer_id': 'CustomerID', 'amount': 'Total'}
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return _checked_mapping(spec, origin="column mapping")
    if isinstance(spec, Path):
        return _read_mapping_file(spec)
    if not isinstance(spec, str):
        raise ConfigError(
            f"column mapping must be text, a YAML file path or a dict, not {type(spec).__name__}"
        )
    text = spec.strip()
    if not text:
        return {}
    if text.lower().endswith((".yaml", ".yml")):
        return _read_mapping_file(Path(text))
    if "=" in text:
        return _parse_pairs(text)
    presets = mapping_presets()
    if text in presets:
        return _read_mapping_file(resources.files("seglab") / "mappings" / f"{text}.yaml")
    if Path(text).is_file():
        return _read_mapping_file(Path(text))
    message = (
        f"column mapping {text!r} is neither canonical=source pairs "
        f"(e.g. customer_id=CustomerID), a preset ({', '.join(presets)}) "
        f"nor an existing YAML file"
    )
    close = difflib.get_close_matches(text, presets, n=1)
    if close:
        message += f"; did you mean the preset {close[0]!r}?"
    raise ConfigError(message)


def _parse_pairs(text: str) -> dict[str, str]:
    """Parse ``canonical=source`` pairs separated by commas."""
    pairs: dict[str, str] = {}
    for piece in text.split(","):
        if not piece.strip():
            continue
        canonical, sep, source = (part.strip() for part in piece.partition("="))
        if not sep or not canonical or not source:
            raise ConfigError(
                f"column mapping: {piece.strip()!r} is not canonical=source "
                f"(e.g. customer_id=CustomerID); column names that contain a comma "
                f"need a YAML mapping file"
            )
        if canonical in pairs:
            raise ConfigError(
                f"column mapping: {canonical!r} is mapped twice "
                f"({pairs[canonical]!r} and {source!r}); keep one"
            )
        pairs[canonical] = source
    return _checked_mapping(pairs, origin="column mapping")


def _read_mapping_file(path: Path | Traversable) -> dict[str, str]:
    """Read a YAML mapping file, its pairs at the top level or under ``columns:``."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such column-mapping file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: not valid YAML ({problem}{where})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read column-mapping file ({exc})") from exc
    if isinstance(data, Mapping) and "columns" in data:
        data = data["columns"]
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: a column-mapping file must hold canonical: source pairs "
            f"(optionally under 'columns:'), not {type(data).__name__}"
        )
    return _checked_mapping(data, origin=str(path))


def _valid_canonical_names() -> list[str]:
    """All canonical names, transactions first."""
    return list(dict.fromkeys([*TRANSACTION_COLUMNS, *CUSTOMER_COLUMNS, *EXPOSURE_COLUMNS]))


def _checked_mapping(pairs: Mapping[object, object], *, origin: str) -> dict[str, str]:
    """Check canonical names and source names; return a clean ``dict[str, str]``."""
    valid = _valid_canonical_names()
    out: dict[str, str] = {}
    for key, value in pairs.items():
        canonical = str(key).strip()
        if canonical not in valid:
            message = f"{origin}: unknown canonical column {canonical!r}"
            close = difflib.get_close_matches(canonical, valid, n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
            raise ConfigError(f"{message}; valid names are: {', '.join(valid)}")
        if value is None or not str(value).strip():
            raise ConfigError(f"{origin}: {canonical!r} is mapped to an empty column name")
        out[canonical] = str(value).strip()
    return out


def _normalized(name: object) -> str:
    """Column name compared case-insensitively, surrounding and repeated spaces ignored."""
    return " ".join(str(name).split()).casefold()


def find_column(name: str, columns: Iterable[object]) -> str | None:
    """Find a source column by name: exact match first, then case/whitespace-insensitive.

    Parameters
    ----------
    name : str
        The wanted column, e.g. ``"Customer ID"``.
    columns : iterable
        The columns of the file.

    Returns
    -------
    str or None
        The column as spelled in ``columns``; ``None`` if there is no match or the
        insensitive match is ambiguous (two columns differ only in case or spaces).

    Examples
    --------
    >>> find_column("customer id", ["Invoice", " Customer  ID "])
    ' Customer  ID '
    """
    names = [str(column) for column in columns]
    if name in names:
        return name
    key = _normalized(name)
    hits = [column for column in names if _normalized(column) == key]
    return hits[0] if len(hits) == 1 else None


def _format_columns(columns: Sequence[object]) -> str:
    """List column names for a message, shortened when there are very many."""
    names = [str(column) for column in columns]
    if not names:
        return "(none)"
    shown = ", ".join(names[:_MAX_LISTED_COLUMNS])
    if len(names) > _MAX_LISTED_COLUMNS:
        shown += f", ... ({len(names) - _MAX_LISTED_COLUMNS} more)"
    return shown


def _close_columns(
    name: str, columns: Sequence[object], n: int = 2, cutoff: float = 0.6
) -> list[str]:
    """Columns whose names resemble ``name`` (difflib, case-insensitive)."""
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(_normalized(column), str(column))
    close = difflib.get_close_matches(_normalized(name), list(by_key), n=n, cutoff=cutoff)
    return [by_key[key] for key in close]


def missing_column_error(
    source: str,
    name: str,
    columns: Sequence[object],
    *,
    mapped_to: str | None = None,
) -> InputError:
    """Build the error for a source column that is not in the file.

    Parameters
    ----------
    source : str
        File name for the message.
    name : str
        The missing source column.
    columns : sequence
        The columns the file does have (listed in the message).
    mapped_to : str, optional
        The canonical name ``name`` was mapped to, if any.

    Returns
    -------
    InputError
        E.g. ``data.csv: column 'Customer Id' (mapped to customer_id) not found;
        columns are: InvoiceNo, ..., CustomerID; did you mean 'CustomerID'?``
    """
    what = f"column {name!r}" + (f" (mapped to {mapped_to})" if mapped_to else "")
    message = f"{source}: {what} not found; columns are: {_format_columns(columns)}"
    close = _close_columns(name, columns)
    if close:
        message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    return InputError(message)


def resolve_column_mapping(
    columns: Iterable[object],
    mapping: Mapping[str, str],
    *,
    source: str,
    kind: TableKind,
) -> dict[str, str]:
    """Match a mapping against a file's columns.

    Parameters
    ----------
    columns : iterable
        The file's columns.
    mapping : Mapping[str, str]
        ``{canonical name: source column}`` from :func:`parse_column_mapping`.
    source : str
        File name for messages.
    kind : {"transactions", "customers", "exposures"}
        Which canonical table the file holds.

    Returns
    -------
    dict[str, str]
        ``{canonical name: column as spelled in the file}`` in canonical order, for
        every mapped column and every canonical column the file has under its own
        name (unless that column is already mapped to another canonical name).
        Source names match exactly first, then case/whitespace-insensitively.

    Raises
    ------
    ConfigError
        If the mapping names a column that belongs to the other table.
    InputError
        If a mapped source column is not in the file.
    """
    spec = table_columns(kind)
    names = [str(column) for column in columns]
    wrong = [canonical for canonical in mapping if canonical not in spec]
    if wrong:
        raise ConfigError(
            f"column mapping for {source}: {wrong[0]!r} is not a {kind} column; "
            f"{kind} columns are: {', '.join(spec)}"
        )
    resolved: dict[str, str] = {}
    for canonical, wanted in mapping.items():
        found = find_column(wanted, names)
        if found is None:
            raise missing_column_error(source, wanted, names, mapped_to=canonical)
        resolved[canonical] = found
    used = set(resolved.values())
    for canonical in spec:
        if canonical in resolved:
            continue
        found = find_column(canonical, names)
        if found is not None and found not in used:
            resolved[canonical] = found
    return {canonical: resolved[canonical] for canonical in spec if canonical in resolved}


def _matching_presets(columns: Sequence[object]) -> list[str]:
    """Presets whose every source column is among ``columns``."""
    matches = []
    for preset in mapping_presets():
        mapping = parse_column_mapping(preset)
        if all(find_column(name, columns) is not None for name in mapping.values()):
            matches.append(preset)
    return matches


def check_required_columns(
    present: Iterable[str],
    *,
    kind: TableKind,
    source: str,
    columns: Sequence[object],
) -> None:
    """Raise if a table lacks a required canonical column.

    Transactions need ``customer_id``, ``order_date`` and ``amount`` (or both
    ``quantity`` and ``unit_price`` to derive it); customers need ``customer_id``.

    Parameters
    ----------
    present : iterable of str
        Canonical columns the table has (after mapping).
    kind : {"transactions", "customers", "exposures"}
        Which table.
    source : str
        File name for the message.
    columns : sequence
        Columns to list in the message: the file's own columns when known.

    Raises
    ------
    InputError
        Naming every missing column, listing ``columns``, and suggesting a mapping
        (a close column name, or a preset whose columns the file has).
    """
    have = set(present)
    required = _REQUIRED[kind]
    missing = [column for column in required if column not in have]
    if kind == "transactions" and "amount" not in have:
        if not {"quantity", "unit_price"} <= have:
            missing.append("amount")
    if not missing:
        return
    listed = ", ".join(
        "'amount' (or 'quantity' and 'unit_price')" if m == "amount" else repr(m) for m in missing
    )
    single = len(missing) == 1
    flag = _MAPPING_FLAGS[kind]
    example = ",".join(f"{m}=<column>" for m in missing)
    message = (
        f"{source}: required {kind} {'column' if single else 'columns'} {listed} "
        f"{'is' if single else 'are'} missing; columns are: {_format_columns(columns)}; "
        f"map {'it' if single else 'them'} with {flag} {example}"
    )
    presets = _matching_presets(columns) if kind == "transactions" else []
    if presets:
        message += f"; these look like the {presets[0]!r} columns: {flag} {presets[0]}"
    else:
        hints = []
        for canonical in missing:
            close = _close_columns(canonical, columns, n=1, cutoff=0.75)
            if close:
                hints.append(f"{canonical}={close[0]}")
        if hints:
            message += f" (perhaps {flag} {','.join(hints)})"
    raise InputError(message)


def apply_column_mapping(
    raw: pd.DataFrame,
    mapping: Mapping[str, str],
    *,
    source: str,
    kind: TableKind,
) -> pd.DataFrame:
    """Rename source columns to canonical names and drop all other columns.

    Parameters
    ----------
    raw : pandas.DataFrame
        A table as read from the file, any column names.
    mapping : Mapping[str, str]
        ``{canonical name: source column}``; canonical columns the file already has
        under their own name are kept without a mapping.
    source : str
        File name for messages.
    kind : {"transactions", "customers", "exposures"}
        Which canonical table ``raw`` holds.

    Returns
    -------
    pandas.DataFrame
        A new frame, same rows and index, with only canonical columns (in canonical
        order) and their values untouched. ``attrs[SOURCE_COLUMNS_ATTR]`` records
        ``{canonical: source column}`` for later messages.

    Raises
    ------
    InputError
        If a mapped column is not in ``raw`` (``data.csv: column 'Customer Id'
        (mapped to customer_id) not found; columns are: ...; did you mean
        'CustomerID'?``) or a used column name appears twice.
    ConfigError
        If the mapping names a column of the other table.
    """
    resolved = resolve_column_mapping(raw.columns, mapping, source=source, kind=kind)
    names = [str(column) for column in raw.columns]
    for column in resolved.values():
        if names.count(column) > 1:
            raise InputError(f"{source}: column {column!r} appears more than once")
    positions = {name: i for i, name in enumerate(names)}
    out = pd.DataFrame(
        {canonical: raw.iloc[:, positions[column]] for canonical, column in resolved.items()},
        index=raw.index,
    )
    out.attrs = {SOURCE_COLUMNS_ATTR: dict(resolved)}
    return out


# ------------------------------------------------------------------------ validation


def validate_transactions(
    df: pd.DataFrame,
    *,
    source: str,
    bad_dates: str = "fail",
    max_bad_fraction: float = 0.01,
    decimal: str = ".",
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Check a canonical transactions table and convert each column to its kind.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per order line with canonical column names (see
        :data:`TRANSACTION_COLUMNS`), values as text or already typed. Not changed.
    source : str
        File name for messages.
    bad_dates : {"fail", "drop"}, default "fail"
        What to do with ``order_date`` values that are present but not dates:
        ``"fail"`` raises; ``"drop"`` drops those rows with a :class:`DataWarning`
        giving the count and examples.
    max_bad_fraction : float, default 0.01
        With ``bad_dates="drop"``, the largest share of rows that may be dropped;
        beyond it the load fails.
    decimal : {".", ","}, default "."
        Decimal mark of numbers given as text. With ``","`` a number may group its
        thousands with dots or spaces (``1.234,50`` is 1234.5, ``10,50`` is 10.5);
        a dot anywhere else (``10.5``) is an error, never a guess.
    dayfirst : bool, default False
        Read day/month dates (``02/01/2011``) day first only; by default the order
        that reads more of the column's values wins, month first on a tie.

    Returns
    -------
    pandas.DataFrame
        A new frame, one row per order line, canonical columns in canonical order:
        ids as ``string`` (stripped, blank as ``<NA>``, leading zeros kept, ``12346.0``
        read as ``12346`` when the whole column is such numbers), dates as naive
        ``datetime64[ns]`` (UTC when the text had an offset), numbers as
        ``float64``, text as ``string`` (unchanged). ``amount`` is derived as
        ``quantity * unit_price`` when absent. The index is kept (minus dropped rows).
        Missing customer ids and missing dates are kept as ``<NA>``/``NaT``.

    Raises
    ------
    InputError
        If a required column is missing or a number or date column holds values
        that are not numbers or dates (row numbers counted from 1 after the header).
    ConfigError
        If ``bad_dates``, ``max_bad_fraction`` or ``decimal`` is invalid.

    Warns
    -----
    DataWarning
        When rows are dropped, dates are ambiguous (day/month order), columns that
        are not canonical are ignored, or with ``decimal=","`` a column without any
        decimal comma has dots read as thousands separators (``1.234`` as 1234).
    """
    if bad_dates not in ("fail", "drop"):
        raise ConfigError(f"bad_dates={bad_dates!r} should be 'fail' or 'drop'.")
    if not 0.0 <= max_bad_fraction <= 1.0:
        raise ConfigError(f"max_bad_fraction={max_bad_fraction!r} should be between 0 and 1.")
    out = _validate(
        df,
        kind="transactions",
        source=source,
        bad_dates=bad_dates,
        max_bad_fraction=max_bad_fraction,
        decimal=decimal,
        dayfirst=dayfirst,
    )
    if "amount" not in out.columns:
        logger.info("%s: amount derived as quantity * unit_price", source)
        amount = out["quantity"] * out["unit_price"]
        out.insert(_canonical_position(out, "amount", TRANSACTION_COLUMNS), "amount", amount)
    return out


def validate_customers(
    df: pd.DataFrame, *, source: str, decimal: str = ".", dayfirst: bool = False
) -> pd.DataFrame:
    """Check a canonical customers table and convert each column to its kind.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per customer with canonical column names (see
        :data:`CUSTOMER_COLUMNS`), values as text or already typed. Not changed.
    source : str
        File name for messages.
    decimal : {".", ","}, default "."
        Decimal mark of numbers given as text (see :func:`validate_transactions`).
    dayfirst : bool, default False
        Read day/month dates day first only (see :func:`validate_transactions`).

    Returns
    -------
    pandas.DataFrame
        A new frame with the same rows, canonical columns in canonical order, typed
        as in :func:`validate_transactions`; ``contact_consent`` as ``boolean``
        (true/false, yes/no, y/n, t/f, 1/0).

    Raises
    ------
    InputError
        If ``customer_id`` is missing, a customer id appears more than once, or a
        column holds values that are not of its kind.
    """
    out = _validate(df, kind="customers", source=source, bad_dates="fail", max_bad_fraction=0.0,
                    decimal=decimal, dayfirst=dayfirst)
    ids = out["customer_id"]
    repeated = (ids.duplicated(keep="first") & ids.notna()).to_numpy()
    if repeated.any():
        raise InputError(
            f"{source}: column {_label(df, 'customer_id')} has "
            f"{_count(int(repeated.sum()), 'id')} that {_are(repeated)} repeated "
            f"({_examples(df['customer_id'], repeated)}); the customers table needs "
            f"one row per customer"
        )
    return out


def validate_exposures(
    df: pd.DataFrame, *, source: str, decimal: str = ".", dayfirst: bool = False
) -> pd.DataFrame:
    """Check a canonical exposures table and convert each column to its kind.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per campaign and customer with canonical column names (see
        :data:`EXPOSURE_COLUMNS`), values as text or already typed. Not changed.
    source : str
        File name for messages.
    decimal : {".", ","}, default "."
        Decimal mark of ``cost`` given as text.
    dayfirst : bool, default False
        Read day/month dates day first only.

    Returns
    -------
    pandas.DataFrame
        A new frame with the same rows, canonical columns typed (``group`` as text;
        :func:`seglab.campaigns.normalise_groups` maps its labels).

    Raises
    ------
    InputError
        If a required column is missing, or a column holds values not of its kind
        (a ``sent_at`` that is not a date, a ``cost`` that is not a number), or a row
        lacks its customer, campaign or group.
    """
    out = _validate(df, kind="exposures", source=source, bad_dates="fail",
                    max_bad_fraction=0.0, decimal=decimal, dayfirst=dayfirst)
    for column in ("customer_id", "campaign", "group", "sent_at"):
        empty = np.array(out[column].isna(), dtype=bool)
        if column != "sent_at":
            empty |= (out[column].astype("string").str.strip() == "").fillna(True).to_numpy()
        if empty.any():
            raise InputError(
                f"{source}: column {_label(df, column)} is empty in "
                f"{_count(int(empty.sum()), 'row')} (first at row "
                f"{int(np.flatnonzero(empty)[0]) + 2}); every exposure needs its customer, "
                "campaign, group and sent_at")
    return out


def _canonical_position(df: pd.DataFrame, column: str, spec: Mapping[str, str]) -> int:
    """Where ``column`` goes among ``df``'s columns to keep canonical order."""
    order = list(spec)
    before = [c for c in df.columns if order.index(c) < order.index(column)]
    return len(before)


def _validate(
    df: pd.DataFrame,
    *,
    kind: TableKind,
    source: str,
    bad_dates: str,
    max_bad_fraction: float,
    decimal: str = ".",
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Coerce every canonical column of ``df``; shared by both tables."""
    check_decimal(decimal)
    spec = table_columns(kind)
    names = [str(column) for column in df.columns]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"{source}: column {repeated[0]!r} appears more than once")
    extra = [name for name in names if name not in spec]
    if extra:
        warnings.warn(
            f"{source}: ignoring columns that are not {kind} columns: {_format_columns(extra)}",
            DataWarning,
            stacklevel=3,
        )
    check_required_columns(names, kind=kind, source=source, columns=names)

    n_rows = len(df)
    converted: dict[str, object] = {}
    drop = np.zeros(n_rows, dtype=bool)
    for column, column_kind in spec.items():
        if column not in df.columns:
            continue
        values = df[column]
        label = _label(df, column)
        if column_kind == "id":
            converted[column] = _to_id(values)
        elif column_kind == "text":
            converted[column] = values.astype("string").array
        elif column_kind == "number":
            numbers, bad, doubtful = _to_number(values, decimal=decimal)
            if bad.any():
                raise InputError(
                    f"{source}: column {label} has {_count(int(bad.sum()), 'value')} "
                    f"that {_are(bad)} not {_a(bad, 'number')} "
                    f"({_examples(values, bad)}); {_number_hint(values, bad, decimal)}"
                )
            if doubtful is not None:
                warnings.warn(
                    f"{source}: column {label} has no value with a decimal comma, and "
                    f"values such as {doubtful!r} were read with the dot as a thousands "
                    f"separator ({doubtful.replace('.', '')}) because of --decimal ','; "
                    f"if the dot is a decimal point there, drop --decimal",
                    DataWarning,
                    stacklevel=3,
                )
            converted[column] = numbers
        elif column_kind == "bool":
            flags, bad = _to_bool(values)
            if bad.any():
                raise InputError(
                    f"{source}: column {label} has {_count(int(bad.sum()), 'value')} "
                    f"that {_are(bad)} not yes/no ({_examples(values, bad)}); use "
                    f"true/false, yes/no, y/n or 1/0"
                )
            converted[column] = flags
        elif column_kind == "date":
            dates, bad, ambiguous = _to_date(values, dayfirst=dayfirst)
            if ambiguous is not None:
                warnings.warn(
                    f"{source}: column {label} has dates such as {ambiguous!r} that "
                    f"could be month/day or day/month; they were read as "
                    f"month/day/year (write ISO dates such as 2011-01-02 to be sure)",
                    DataWarning,
                    stacklevel=3,
                )
            if bad.any():
                n_bad = int(bad.sum())
                what = f"{_count(n_bad, 'value')} that {_are(bad)} not {_a(bad, 'date')}"
                if bad_dates == "fail":
                    order = " (read day first, as --dayfirst asks)" if dayfirst else ""
                    raise InputError(
                        f"{source}: column {label} has {what}{order} "
                        f"({_examples(values, bad)}); write dates such as 2010-12-01 "
                        f"or 2010-12-01 08:26, or drop such rows with --bad-dates drop"
                    )
                share = n_bad / n_rows
                if share > max_bad_fraction:
                    raise InputError(
                        f"{source}: column {label} has values that are not dates in "
                        f"{n_bad} of {n_rows} rows ({share:.1%}) "
                        f"({_examples(values, bad)}), more than the "
                        f"{max_bad_fraction:.1%} that --bad-dates drop may remove; "
                        f"fix the dates or check the column mapping"
                    )
                warnings.warn(
                    f"{source}: dropped {n_bad} of {n_rows} rows ({share:.2%}) whose "
                    f"column {label} is not a date ({_examples(values, bad)})",
                    DataWarning,
                    stacklevel=3,
                )
                drop |= bad
            converted[column] = dates
    out = pd.DataFrame(converted, index=df.index)
    if drop.any():
        out = out.loc[~drop]
    return out


def _number_hint(values: pd.Series, bad: np.ndarray, decimal: str) -> str:
    """Say how to write the numbers, or which ``--decimal`` reads them."""
    if decimal == ",":
        return ("with --decimal ',' write numbers such as 1234,5 or 1.234,50 (dots only "
                "between groups of three digits), without currency signs")
    shown = [str(v).strip() for v in values[bad].dropna().unique()[:20]]
    if shown and all(_LOOKS_DECIMAL_COMMA_RE.fullmatch(v) for v in shown):
        return ("they look like numbers with a decimal comma: pass --decimal ',' "
                "(e.g. for 1.234,50)")
    return ("write plain numbers such as 1234.5, without currency signs or thousands "
            "separators (numbers with a decimal comma such as 1.234,50 need --decimal ',')")


def check_decimal(decimal: str) -> None:
    """Raise unless ``decimal`` is a supported decimal mark.

    Parameters
    ----------
    decimal : str
        ``"."`` or ``","``.

    Raises
    ------
    ConfigError
        ``decimal=';' should be '.' or ','.``
    """
    if decimal not in DECIMAL_MARKS:
        raise ConfigError(
            f"decimal={decimal!r} should be " + " or ".join(repr(m) for m in DECIMAL_MARKS) + "."
        )


def _label(df: pd.DataFrame, column: str) -> str:
    """Name a canonical column as the user knows it: ``'InvoiceDate' (order_date)``."""
    source_name = df.attrs.get(SOURCE_COLUMNS_ATTR, {}).get(column)
    if source_name and source_name != column:
        return f"{source_name!r} ({column})"
    return repr(column)


def _count(n: int, noun: str) -> str:
    """``1 value``, ``2 values``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _are(mask: np.ndarray) -> str:
    """``is`` or ``are`` for the number of True values in ``mask``."""
    return "is" if int(mask.sum()) == 1 else "are"


def _a(mask: np.ndarray, noun: str) -> str:
    """Return ``a number`` or ``numbers`` for the number of True values in ``mask``."""
    return f"a {noun}" if int(mask.sum()) == 1 else f"{noun}s"


def _examples(values: pd.Series, mask: np.ndarray) -> str:
    """Up to three ``row N: 'value'`` examples, rows counted from 1 after the header."""
    positions = np.flatnonzero(mask)[:_MAX_EXAMPLES]
    shown = ", ".join(f"row {p + 1}: {_show(values.iloc[p])}" for p in positions)
    more = int(mask.sum()) - len(positions)
    return shown + (f" and {more} more" if more > 0 else "")


def _show(value: object) -> str:
    """Quote a value for a message."""
    return repr(value if isinstance(value, str) else str(value))


# ----------------------------------------------------------------------- converters


def _factorize_text(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes and stripped unique strings; blank and missing values get code -1.

    Conversions run on the unique values only, which keeps large files fast.
    """
    text = values if isinstance(values.dtype, pd.StringDtype) else values.astype("string")
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    stripped = [str(u).strip() for u in uniques]
    blank = np.array([u == "" for u in stripped], dtype=bool)
    if blank.any():
        remap = np.arange(len(stripped))
        remap[blank] = -1
        codes = np.where(codes >= 0, remap[codes], -1)
    return np.asarray(codes), stripped


def _take(uniques: np.ndarray, codes: np.ndarray, missing: object) -> np.ndarray:
    """``uniques[codes]`` with ``missing`` where the code is -1."""
    if len(uniques) == 0:
        return np.full(len(codes), missing, dtype=uniques.dtype)
    out = uniques[codes]
    out[codes < 0] = missing
    return out


def _to_id(values: pd.Series) -> pd.api.extensions.ExtensionArray:
    """Ids as stripped ``string``; integral floats (``12346.0``) as ``12346``."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if (finite == finite.round()).all():
            values = values.astype("Int64")
    codes, uniques = _factorize_text(values)
    used = [u for u in uniques if u]
    if used and any("." in u for u in used) and all(_FLOAT_ID_RE.fullmatch(u) for u in used):
        uniques = [re.sub(r"\.0+$", "", u) for u in uniques]
    return pd.array(uniques, dtype="string").take(codes, allow_fill=True)


def _comma_numbers(uniques: Sequence[str]) -> tuple[np.ndarray, str | None]:
    """Parse distinct texts written with a decimal comma (``1.234,50`` is 1234.5).

    Returns the numbers (NaN where a text is not such a number) and an example of a
    value whose dots can only be thousands separators although no value of the column
    has a decimal comma (``1.234``: 1234 here, 1.234 to a reader with a decimal point).
    """
    out = np.full(len(uniques), np.nan)
    any_comma = False
    dotted = None
    for i, text in enumerate(uniques):
        match = _COMMA_NUMBER_RE.fullmatch(text)
        if match is None or (match["int"] is None and match["frac"] is None):
            continue
        whole = (match["int"] or "0")
        if match["sep"]:
            whole = whole.replace(match["sep"], "")
            if match["sep"] == "." and dotted is None:
                dotted = text
        any_comma |= match["frac"] is not None
        out[i] = float(f"{match['sign']}{whole}.{match['frac'] or '0'}")
    return out, (dotted if not any_comma else None)


def _to_number(
    values: pd.Series, *, decimal: str = "."
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Read numbers.

    Returns ``float64`` values, a mask of present values that are not finite
    numbers, and (``decimal=","`` only) an example of a value whose dot was read as
    a thousands separator in a column without any decimal comma, or None.
    """
    dtype = values.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        return numbers, np.isinf(numbers), None
    codes, uniques = _factorize_text(values)
    doubtful = None
    if decimal == ",":
        parsed, doubtful = _comma_numbers(uniques)
    else:
        parsed = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce")
        parsed = parsed.to_numpy(dtype="float64", na_value=np.nan)
    bad_unique = ~np.isfinite(parsed)
    numbers = _take(parsed, codes, np.nan)
    bad = (codes >= 0) & _take(bad_unique, codes, False)
    return numbers, bad, doubtful


def _to_bool(values: pd.Series) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    """``boolean`` values and a mask of present values that are not yes/no words."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("boolean").array, np.zeros(len(values), dtype=bool)
    codes, uniques = _factorize_text(values)
    flags = [BOOL_WORDS.get(u.lower()) for u in uniques]
    bad_unique = np.array(
        [f is None and u != "" for f, u in zip(flags, uniques, strict=True)], dtype=bool
    )
    out = pd.array(flags, dtype="boolean").take(codes, allow_fill=True)
    bad = (codes >= 0) & _take(bad_unique, codes, False)
    return out, bad


def _to_date(
    values: pd.Series, *, dayfirst: bool = False
) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Read dates.

    Returns naive ``datetime64[ns]``, a mask of present values that are not dates,
    and an example of an ambiguous day/month value (or None). With ``dayfirst``,
    dates such as ``02/01/2011`` are read day first only (2 January), never month
    first.
    """
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        dates = _to_naive_ns(values)
        return dates, values.notna().to_numpy() & np.isnat(dates), None
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        serials = values.to_numpy(dtype="float64", na_value=np.nan)
        dates = _from_excel_serial(serials)
        return dates, ~np.isnan(serials) & np.isnat(dates), None
    codes, uniques = _factorize_text(values)
    parsed, ambiguous = _parse_dates(uniques, dayfirst=dayfirst)
    bad_unique = np.isnat(parsed) & np.array([u != "" for u in uniques], dtype=bool)
    dates = _take(parsed, codes, np.datetime64("NaT"))
    bad = (codes >= 0) & _take(bad_unique, codes, False)
    return dates, bad, ambiguous


def _to_naive_ns(values: pd.Series) -> np.ndarray:
    """Make datetimes naive ``datetime64[ns]``.

    Offsets are converted to UTC; dates outside the nanosecond range become NaT.
    """
    series = pd.Series(values)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    inside = (series >= pd.Timestamp.min) & (series <= pd.Timestamp.max)
    series = series.where(inside)
    return series.to_numpy(dtype="datetime64[ns]")


def _from_excel_serial(serials: np.ndarray) -> np.ndarray:
    """Excel serial day numbers (1900 system) to ``datetime64[ns]``, to the second."""
    out = np.full(len(serials), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = ~np.isnan(serials) & (serials >= 1) & (serials <= _EXCEL_MAX_SERIAL)
    seconds = np.round(serials[ok] * 86_400).astype("int64")
    out[ok] = _EXCEL_EPOCH + seconds.astype("timedelta64[s]")
    return out


def _parse_with(texts: np.ndarray, date_format: str) -> np.ndarray:
    """Parse with one format; failures are NaT."""
    series = pd.Series(texts, dtype=object)
    try:
        parsed = pd.to_datetime(series, format=date_format, errors="coerce")
    except ValueError:  # mixed UTC offsets
        parsed = pd.to_datetime(series, format=date_format, errors="coerce", utc=True)
    return _to_naive_ns(parsed)


def _parse_formats(texts: np.ndarray, formats: Sequence[str]) -> np.ndarray:
    """Try ``formats`` in order, each on the values still unread."""
    out = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[ns]")
    todo = np.ones(len(texts), dtype=bool)
    for date_format in formats:
        index = np.flatnonzero(todo)
        if len(index) == 0:
            break
        parsed = _parse_with(texts[index], date_format)
        out[index] = parsed
        todo[index[~np.isnat(parsed)]] = False
    return out


def _parse_dates(uniques: list[str], *, dayfirst: bool = False) -> tuple[np.ndarray, str | None]:
    """Parse distinct date strings: Excel serials, ISO 8601, then other formats.

    Day/month dates are read month first or day first, whichever reads more of them
    (month first on a tie); with ``dayfirst`` day first only.
    """
    texts = np.array(uniques, dtype=object)
    out = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[ns]")
    todo = np.array([u != "" for u in uniques], dtype=bool)
    ambiguous = None

    serial = todo & np.array([bool(_EXCEL_SERIAL_RE.fullmatch(u)) for u in uniques], dtype=bool)
    if serial.any():
        out[serial] = _from_excel_serial(texts[serial].astype("float64"))
        todo &= np.isnat(out)

    for step in ("iso", "day_month", "other"):
        index = np.flatnonzero(todo)
        if len(index) == 0:
            break
        rest = texts[index]
        if step == "iso":
            parsed = _parse_with(rest, "ISO8601")
        elif step == "day_month" and dayfirst:
            parsed = _parse_formats(rest, DAY_FIRST_DATE_FORMATS)
        elif step == "day_month":
            month_first = _parse_formats(rest, MONTH_FIRST_DATE_FORMATS)
            day_first = _parse_formats(rest, DAY_FIRST_DATE_FORMATS)
            n_month = int((~np.isnat(month_first)).sum())
            n_day = int((~np.isnat(day_first)).sum())
            parsed = day_first if n_day > n_month else month_first
            if n_month and n_day == n_month:
                differ = np.flatnonzero(~np.isnat(month_first) & (month_first != day_first))
                if len(differ):
                    ambiguous = str(rest[differ[0]])
        else:
            parsed = _parse_formats(rest, OTHER_DATE_FORMATS)
        out[index] = parsed
        todo[index[~np.isnat(parsed)]] = False
    return out, ambiguous
