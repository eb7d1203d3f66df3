"""Read input files (CSV, Excel, Parquet) as text and load the canonical tables."""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import importlib.util
import logging
import re
import time
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from seglab.errors import ConfigError, DataWarning, InputError
from seglab.schema import (
    TableKind,
    apply_column_mapping,
    check_decimal,
    check_required_columns,
    find_column,
    missing_column_error,
    parse_column_mapping,
    resolve_column_mapping,
    validate_customers,
    validate_exposures,
    validate_transactions,
)

logger = logging.getLogger(__name__)

#: File types :func:`read_table` reads, by (lower-case) suffix.
SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".csv",
    ".tsv",
    ".txt",
    ".csv.gz",
    ".tsv.gz",
    ".txt.gz",
    ".xlsx",
    ".xls",
    ".parquet",
)
_EXCEL_SUFFIXES = (".xlsx", ".xls")
#: Delimiters considered when sniffing a text file.
_DELIMITERS = ",;\t|"
#: Bytes read from the start of a text file to find the header and delimiter.
_HEAD_BYTES = 1 << 16
_SNIFF_LINES = 50
_UTF8 = ("utf-8", "utf-8-sig")
_LINE_BREAK_RE = re.compile(r"\r\n|\n|\r")
_WIDTH_ERROR_RE = re.compile(r"Expected (\d+) columns, got (\d+): ?(.*)")
_STRING = pd.StringDtype()


# ---------------------------------------------------------------------------- files


def _suffix(path: Path) -> str:
    """Lower-case suffix, two parts for gzip files (``.csv.gz``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return "".join(suffixes[-2:])
    return suffixes[-1] if suffixes else ""


def _checked_file(path: str | Path) -> tuple[Path, str, str]:
    """Return ``(path, name for messages, suffix)`` for an existing, non-empty file."""
    file = Path(path)
    source = str(path)
    if not file.exists():
        raise InputError(f"{source}: no such file")
    if file.is_dir():
        raise InputError(f"{source}: is a directory, not a file")
    suffix = _suffix(file)
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"{source}: unsupported file type {suffix or '(no suffix)'!r}; "
            f"supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if file.stat().st_size == 0:
        raise InputError(f"{source}: empty file (0 bytes)")
    return file, source, suffix


@contextmanager
def _open_binary(file: Path) -> Iterator[IO[bytes]]:
    """Open a file for reading bytes, decompressing ``.gz``."""
    if file.suffix.lower() == ".gz":
        with gzip.open(file, "rb") as handle:
            yield handle
    else:
        with open(file, "rb") as handle:
            yield handle


def sha256_file(path: str | Path, *, chunk_size: int = 1 << 20) -> str:
    """Return the SHA-256 of a file's bytes, read in chunks.

    Parameters
    ----------
    path : str or Path
        The file (any type; compressed files are hashed as stored).
    chunk_size : int, default 1 MiB
        Bytes read at a time.

    Returns
    -------
    str
        64 lower-case hex digits, as ``sha256sum`` prints.

    Raises
    ------
    InputError
        If the file does not exist or is a directory.
    """
    file = Path(path)
    if not file.exists():
        raise InputError(f"{path}: no such file")
    if file.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------ csv


@dataclass(frozen=True)
class _TextLayout:
    """What the head of a text file says: codec, delimiter, header line, column names."""

    encoding: str
    delimiter: str
    names: list[str]
    skip_rows: int  # physical lines up to and including the header
    repeated: tuple[str, ...] = ()  # header names that appear more than once


def _codec(encoding: str | None) -> str:
    """Canonical codec name; UTF-8 when ``encoding`` is None."""
    if encoding is None:
        return "utf-8"
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(
            f"encoding={encoding!r} is not a known encoding; "
            f"use e.g. utf-8, gbk, gb18030 or latin-1"
        ) from None


def _encoding_error(source: str, encoding: str, row: int | None) -> InputError:
    """Build the error for bytes that do not decode, at data row ``row`` (0 = header)."""
    if row is None:
        where = ""
    elif row == 0:
        where = " in the header"
    else:
        where = f" at row ~{row}"
    if encoding in _UTF8:
        return InputError(
            f"{source}: bytes{where} are not valid UTF-8; pass --encoding, "
            f"e.g. --encoding gbk or --encoding latin-1"
        )
    return InputError(
        f"{source}: bytes{where} are not valid {encoding}; pass the file's encoding "
        f"with --encoding, e.g. --encoding utf-8, gbk or latin-1"
    )


def _first_undecodable_row(file: Path, encoding: str) -> int | None:
    """Find the data row (0 = header) of the first line that does not decode."""
    with _open_binary(file) as handle:
        for row, line in enumerate(handle):
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                return row
    return None


def _first_bad_width_row(file: Path, encoding: str, delimiter: str, expected: int) -> int | None:
    """Find the data row of the first record whose width differs from the header's."""
    with _open_binary(file) as handle:
        text = (line.decode(encoding, errors="replace") for line in handle)
        for row, record in enumerate(csv.reader(text, delimiter=delimiter)):
            if record and len(record) != expected:
                return row
    return None


def _sniff_delimiter(lines: list[str], suffix: str) -> str:
    """Pick the delimiter of a text file from its first lines.

    ``csv.Sniffer``'s choice if it splits every sample line into the same number (>1)
    of fields, else the candidate that does so with the most fields.
    """
    if suffix.startswith(".tsv"):
        return "\t"

    def widths(delimiter: str) -> list[int]:
        return [len(r) for r in csv.reader(lines[:_SNIFF_LINES], delimiter=delimiter) if r]

    def consistent(delimiter: str) -> bool:
        counts = widths(delimiter)
        return bool(counts) and counts[0] > 1 and len(set(counts)) == 1

    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines[:_SNIFF_LINES]), _DELIMITERS)
        if consistent(sniffed.delimiter):
            return sniffed.delimiter
    except csv.Error:
        pass
    candidates = [d for d in _DELIMITERS if consistent(d)]
    if candidates:
        return max(candidates, key=lambda d: widths(d)[0])
    header_counts = {d: lines[0].count(d) for d in _DELIMITERS} if lines else {}
    best = max(header_counts, key=header_counts.get, default=",")
    return best if header_counts.get(best) else ","


def _unique_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Name blank header cells ``column_<n>`` and number repeats (``Qty``, ``Qty.1``).

    Returns the names and the names that were repeated, in order of first repeat.
    """
    out: list[str] = []
    seen: set[str] = set()
    repeated: list[str] = []
    for position, name in enumerate(names, start=1):
        name = name if name.strip() else f"column_{position}"
        if name in seen:
            repeated.append(name)
            suffix = 1
            while f"{name}.{suffix}" in seen:
                suffix += 1
            name = f"{name}.{suffix}"
        seen.add(name)
        out.append(name)
    return out, list(dict.fromkeys(repeated))


def _warn_repeats(source: str, repeated: Sequence[str]) -> None:
    """Warn that a header repeats a column name (read as ``name.1`` and so on)."""
    if repeated:
        warnings.warn(
            f"{source}: header repeats column {repeated[0]!r}; the repeat is read as "
            f"{repeated[0]!r}.1 (and so on)",
            DataWarning,
            stacklevel=4,
        )


def _text_layout(
    file: Path, source: str, suffix: str, encoding: str | None, *, warn: bool = True
) -> _TextLayout:
    """Decode the head of a text file; find its delimiter and header.

    With ``warn``, a header that repeats a name gives a :class:`DataWarning`.
    """
    codec = _codec(encoding)
    try:
        with _open_binary(file) as handle:
            head = handle.read(_HEAD_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError(f"{source}: cannot read ({_first_line(exc)})") from exc
    if encoding is None and head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"  # Excel's "Unicode text" export; the BOM makes it unambiguous
    complete = len(head) < _HEAD_BYTES
    decoder = codecs.getincrementaldecoder("utf-8-sig" if codec in _UTF8 else codec)()
    try:
        text = decoder.decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise _encoding_error(source, codec, head[: exc.start].count(b"\n")) from None
    physical = _LINE_BREAK_RE.split(text)
    leading = next((i for i, line in enumerate(physical) if line.strip()), None)
    if leading is None:
        raise InputError(f"{source}: empty file (no header, no data)")
    lines = [line for line in physical[leading:] if line.strip()]
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # may be cut short
    delimiter = _sniff_delimiter(lines, suffix)
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    names, repeated = _unique_names(header)
    if warn:
        _warn_repeats(source, repeated)
    return _TextLayout(codec, delimiter, names, leading + 1, tuple(repeated))


def _read_text(
    file: Path, source: str, layout: _TextLayout, columns: list[str] | None
) -> pd.DataFrame:
    """Read a delimited text file with pyarrow, every column as text."""
    read_options = pa_csv.ReadOptions(
        column_names=layout.names,
        skip_rows=layout.skip_rows,
        encoding="utf8" if layout.encoding in _UTF8 else layout.encoding,
    )
    parse_options = pa_csv.ParseOptions(
        delimiter=layout.delimiter,
        newlines_in_values=True,
    )
    convert_options = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(layout.names, pa.string()),
        include_columns=columns or [],
        strings_can_be_null=True,
        null_values=[""],
    )
    try:
        table = pa_csv.read_csv(
            file,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except UnicodeDecodeError:
        row = _first_undecodable_row(file, layout.encoding)
        raise _encoding_error(source, layout.encoding, row) from None
    except pa.ArrowInvalid as exc:
        row = _first_undecodable_row(file, layout.encoding)
        if row is not None:
            raise _encoding_error(source, layout.encoding, row) from None
        width = _WIDTH_ERROR_RE.search(str(exc))
        if width:
            expected, actual, text = int(width[1]), int(width[2]), width[3]
            row = _first_bad_width_row(file, layout.encoding, layout.delimiter, expected)
            raise InputError(
                f"{source}: row ~{row} has {actual} fields but the header has "
                f"{expected} (delimiter {layout.delimiter!r}); check the quoting of "
                f"that row: {text[:80]!r}"
            ) from None
        raise InputError(f"{source}: cannot read as CSV ({_first_line(exc)})") from exc
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise InputError(f"{source}: cannot read as CSV ({_first_line(exc)})") from exc
    if table.num_rows == 0:
        raise InputError(f"{source}: has a header but no data rows")
    return table.to_pandas(types_mapper={pa.string(): _STRING}.get)


def _first_line(exc: BaseException) -> str:
    """Return the first line of an exception's message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------- excel and parquet


def _excel_sheet(sheet: str | int | None) -> str | int:
    """Return the sheet to read: the first unless named or numbered."""
    return 0 if sheet is None else sheet


def _read_excel(
    file: Path, source: str, suffix: str, sheet: str | int | None, *, header_only: bool
) -> pd.DataFrame:
    """Read one Excel sheet, every cell as text."""
    if suffix == ".xls" and importlib.util.find_spec("xlrd") is None:
        raise InputError(
            f"{source}: reading .xls needs the xlrd package, which is not installed; "
            f"save the file as .xlsx"
        )
    from openpyxl.utils.exceptions import InvalidFileException

    # calamine (Rust) reads a 540k-row sheet in ~9 s where openpyxl takes ~100 s.
    fast = suffix == ".xlsx" and importlib.util.find_spec("python_calamine") is not None
    calamine_errors: tuple[type[Exception], ...] = ()
    if fast:
        from python_calamine import CalamineError

        calamine_errors = (CalamineError,)
    try:
        frame = pd.read_excel(
            file,
            sheet_name=_excel_sheet(sheet),
            dtype=str,
            nrows=0 if header_only else None,
            engine="calamine" if fast else None,
        )
    except (ValueError, IndexError) as exc:
        if "orksheet" not in str(exc):
            raise InputError(f"{source}: cannot read as Excel ({_first_line(exc)})") from exc
        if isinstance(sheet, str) and sheet.strip().isdigit():
            # "--sheet 1" from the command line: no sheet of that name, so a number.
            return _read_excel(file, source, suffix, int(sheet), header_only=header_only)
        with pd.ExcelFile(file, engine="calamine" if fast else "openpyxl") as book:
            sheets = ", ".join(repr(name) for name in book.sheet_names)
        raise InputError(f"{source}: no sheet {sheet!r}; sheets are: {sheets}") from None
    except (KeyError, OSError, zipfile.BadZipFile, InvalidFileException,
            *calamine_errors) as exc:
        raise InputError(f"{source}: cannot read as Excel ({_first_line(exc)})") from exc
    sheet_label = f"sheet {_excel_sheet(sheet)!r}" if sheet is not None else "first sheet"
    if len(frame.columns) == 0:
        raise InputError(f"{source}: the {sheet_label} is empty")
    frame.columns = [str(column) for column in frame.columns]
    if not header_only and len(frame) == 0:
        raise InputError(f"{source}: the {sheet_label} has a header but no data rows")
    return frame.astype(_STRING)


def sheet_names(path: str | Path) -> list[str]:
    """Return the names of a workbook's sheets, without reading them.

    Parameters
    ----------
    path : str or Path
        An ``.xlsx`` or ``.xls`` file.

    Returns
    -------
    list[str]
        Sheet names in workbook order.

    Raises
    ------
    InputError
        If the file is missing, not a workbook, or Excel cannot read it.
    """
    file, source, suffix = _checked_file(path)
    if suffix not in _EXCEL_SUFFIXES:
        raise InputError(f"{source}: is not an Excel workbook (.xlsx or .xls)")
    from openpyxl.utils.exceptions import InvalidFileException

    fast = suffix == ".xlsx" and importlib.util.find_spec("python_calamine") is not None
    errors: tuple[type[Exception], ...] = (ValueError, KeyError, OSError, ImportError,
                                           zipfile.BadZipFile, InvalidFileException)
    if fast:
        from python_calamine import CalamineError

        errors = (*errors, CalamineError)
    try:
        with pd.ExcelFile(file, engine="calamine" if fast else None) as book:
            return [str(name) for name in book.sheet_names]
    except errors as exc:
        raise InputError(f"{source}: cannot read as Excel ({_first_line(exc)})") from exc


def check_sheet(path: str | Path, sheet: str | int | None) -> None:
    """Raise unless the workbook has the sheet (a name, or a 0-based number).

    Parameters
    ----------
    path : str or Path
        An ``.xlsx`` or ``.xls`` file.
    sheet : str or int or None
        The sheet asked for; None (the first sheet) always passes.

    Raises
    ------
    InputError
        ``orders.xlsx: no sheet 'Order'; sheets are: 'Orders', 'Notes'``.
    """
    if sheet is None:
        return
    names = sheet_names(path)
    if str(sheet) in names:
        return
    if str(sheet).strip().isdigit() and int(str(sheet).strip()) < len(names):
        return
    shown = ", ".join(repr(name) for name in names)
    raise InputError(f"{path}: no sheet {sheet!r}; sheets are: {shown}")


def _parquet_columns(file: Path, source: str) -> list[str]:
    """Column names from a Parquet file's schema."""
    try:
        return list(pq.read_schema(file).names)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{source}: cannot read as Parquet ({_first_line(exc)})") from exc


def _read_parquet(file: Path, source: str, columns: list[str] | None) -> pd.DataFrame:
    """Read a Parquet file and turn every column into text."""
    try:
        table = pq.read_table(file, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{source}: cannot read as Parquet ({_first_line(exc)})") from exc
    if table.num_rows == 0:
        raise InputError(f"{source}: has no rows")
    frame = table.to_pandas(types_mapper={pa.string(): _STRING}.get, ignore_metadata=True)
    return pd.DataFrame(
        {str(column): frame[column].astype(_STRING).array for column in frame.columns},
        index=pd.RangeIndex(len(frame)),
    )


# ----------------------------------------------------------------------- public API


def read_columns(
    path: str | Path,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> list[str]:
    """Return a file's column names without reading its rows.

    Parameters
    ----------
    path : str or Path
        A file of a type in :data:`SUPPORTED_SUFFIXES`.
    encoding : str, optional
        Text encoding of CSV/TSV/TXT files (default UTF-8, with or without BOM).
    sheet : str or int, optional
        Excel sheet name or 0-based number (default the first sheet).

    Returns
    -------
    list[str]
        Column names as :func:`read_table` returns them (blank header cells named
        ``column_<n>``, repeated names numbered ``name.1``).

    Raises
    ------
    InputError
        As :func:`read_table`.
    """
    file, source, suffix = _checked_file(path)
    if suffix in _EXCEL_SUFFIXES:
        return list(_read_excel(file, source, suffix, sheet, header_only=True).columns)
    if suffix == ".parquet":
        return _parquet_columns(file, source)
    return _text_layout(file, source, suffix, encoding).names


def _select(names: Sequence[str], wanted: Sequence[str] | None, source: str) -> list[str] | None:
    """Resolve wanted column names against the file's (exact, then insensitive)."""
    if wanted is None:
        return None
    if isinstance(wanted, str):
        wanted = [wanted]
    selected: list[str] = []
    for name in wanted:
        found = find_column(name, names)
        if found is None:
            raise missing_column_error(source, name, names)
        if found not in selected:
            selected.append(found)
    return selected


def read_table(
    path: str | Path,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a table as text, exactly as it is in the file.

    Every column comes back as pandas ``string`` dtype (empty cells as ``<NA>``), so
    ids keep their leading zeros and no type is guessed. The file is only read.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv`` or ``.txt`` (optionally gzipped, ``.csv.gz``): the
        delimiter (``,`` ``;`` tab ``|``) is detected with :class:`csv.Sniffer`;
        ``.xlsx`` (``.xls`` needs xlrd); ``.parquet`` (typed columns are turned into
        text, e.g. ``2010-12-01 08:26:00``).
    encoding : str, optional
        Encoding of text files, e.g. ``"gbk"`` or ``"latin-1"``; default UTF-8 with
        or without BOM (UTF-16 if the file starts with a UTF-16 BOM, as Excel's
        "Unicode text" export does). Ignored for Excel and Parquet.
    sheet : str or int, optional
        Excel sheet name or 0-based number; default the first sheet. Ignored for
        other types.
    columns : sequence of str, optional
        Read only these columns (matched exactly, then ignoring case and spaces);
        faster on wide files.

    Returns
    -------
    pandas.DataFrame
        One row per data row of the file (header excluded), RangeIndex from 0, so
        row ``i`` is data row ``i + 1`` in messages.

    Raises
    ------
    InputError
        If the file is missing, a directory, of an unsupported type, empty, has a
        header but no rows, does not decode (``data.csv: bytes at row ~N are not
        valid UTF-8; pass --encoding, ...``), has a row with the wrong number of
        fields, lacks a wanted column, or Excel/Parquet cannot read it.
    ConfigError
        If ``encoding`` is not a known encoding.

    Examples
    --------
    >>> raw = read_table("data/raw/orders.csv", encoding="gbk")  # doctest: +SKIP
    """
    file, source, suffix = _checked_file(path)
    started = time.perf_counter()
    if suffix in _EXCEL_SUFFIXES:
        frame = _read_excel(file, source, suffix, sheet, header_only=False)
        selected = _select(list(frame.columns), columns, source)
        if selected is not None:
            frame = frame[selected]
    elif suffix == ".parquet":
        selected = _select(_parquet_columns(file, source), columns, source)
        frame = _read_parquet(file, source, selected)
    else:
        layout = _text_layout(file, source, suffix, encoding)
        selected = _select(layout.names, columns, source)
        frame = _read_text(file, source, layout, selected)
    logger.info(
        "%s: read %d rows x %d columns in %.2f s",
        source,
        len(frame),
        len(frame.columns),
        time.perf_counter() - started,
    )
    return frame


_MANGLED_RE = re.compile(r"(?P<name>.+)\.\d+")


def _excel_repeats(header: Sequence[str]) -> list[str]:
    """Names a workbook's header repeats: pandas reads the repeats as ``name.1`` ..."""
    names = set(header)
    found = []
    for column in header:
        match = _MANGLED_RE.fullmatch(column)
        if match and match["name"] in names:
            found.append(match["name"])
    return list(dict.fromkeys(found))


def check_decimal_for(path: str | Path, decimal: str) -> None:
    """Raise if ``decimal`` is not a decimal mark, or is ``","`` for a typed file.

    Excel and Parquet files store numbers as numbers, which are read with a decimal
    point; a decimal comma only applies to delimited text files.

    Parameters
    ----------
    path : str or Path
        The input file.
    decimal : str
        ``"."`` or ``","``.

    Raises
    ------
    ConfigError
        ``decimal=';' should be '.' or ','.``, or ``--decimal ',' applies to CSV and
        text files; orders.xlsx stores numbers as numbers``.
    """
    check_decimal(decimal)
    suffix = _suffix(Path(path))
    if decimal != "." and (suffix in _EXCEL_SUFFIXES or suffix == ".parquet"):
        raise ConfigError(
            f"--decimal {decimal!r} applies to CSV and text files; {path} stores numbers "
            f"as numbers: leave --decimal out"
        )


def _load(
    path: str | Path,
    *,
    kind: TableKind,
    columns: str | Path | Mapping[str, str] | None,
    encoding: str | None,
    sheet: str | int | None,
    decimal: str,
) -> pd.DataFrame:
    """Read only the needed columns of a file and give them canonical names.

    A header that repeats a column the table uses is an error: which of the two
    columns holds the data cannot be told.
    """
    mapping = parse_column_mapping(columns)
    check_decimal_for(path, decimal)
    file, source, suffix = _checked_file(path)
    layout = None
    if suffix in _EXCEL_SUFFIXES:
        # A workbook is parsed whole either way: read it once.
        raw = read_table(path, sheet=sheet)
        header = list(raw.columns)
        repeated = _excel_repeats(header)
    elif suffix == ".parquet":
        raw = None
        names = _parquet_columns(file, source)
        header, repeated = _unique_names(names)
    else:
        raw = None
        layout = _text_layout(file, source, suffix, encoding, warn=False)
        header, repeated = layout.names, list(layout.repeated)
    resolved = resolve_column_mapping(header, mapping, source=source, kind=kind)
    for canonical, column in resolved.items():
        if column in repeated:
            what = "" if canonical == column else f" (mapped to {canonical})"
            raise InputError(
                f"{source}: header repeats column {column!r}{what}; which one holds "
                f"the {canonical} cannot be told: rename or remove the other"
            )
    check_required_columns(resolved, kind=kind, source=source, columns=header)
    if layout is not None:
        started = time.perf_counter()
        raw = _read_text(file, source, layout, list(resolved.values()))
        logger.info("%s: read %d rows x %d columns in %.2f s", source, len(raw),
                    len(raw.columns), time.perf_counter() - started)
    elif raw is None:
        raw = read_table(path, columns=list(resolved.values()))
    return apply_column_mapping(raw, resolved, source=source, kind=kind)


def load_transactions(
    path: str | Path,
    *,
    columns: str | Path | Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    bad_dates: str = "fail",
    decimal: str = ".",
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Load a transactions file into the canonical transactions table.

    Reads only the mapped and canonical columns (:func:`read_table`), renames them
    (:func:`~seglab.schema.apply_column_mapping`) and checks and types them
    (:func:`~seglab.schema.validate_transactions`).

    Parameters
    ----------
    path : str or Path
        One row per order line; any type :func:`read_table` reads.
    columns : str, Path, Mapping or None
        Column mapping: ``"customer_id=CustomerID,amount=Total"``, a preset
        (``"online_retail"``, ``"online_retail_ii"``), a YAML file or a dict; see
        :func:`~seglab.schema.parse_column_mapping`. None if the file already has
        canonical names.
    encoding : str, optional
        Text encoding, e.g. ``"gbk"``; default UTF-8.
    sheet : str or int, optional
        Excel sheet; default the first.
    bad_dates : {"fail", "drop"}, default "fail"
        What to do with order dates that cannot be read.
    decimal : {".", ","}, default "."
        Decimal mark of the numbers in a CSV/text file: ``","`` for European files,
        whose thousands may be grouped with dots or spaces (``1.234,50`` is 1234.5).
        A value that does not follow it (``10.5`` with ``","``) is an error, never a
        guess. Excel and Parquet files store numbers as numbers: ``"."`` only.
    dayfirst : bool, default False
        Read day/month dates (``02/01/2011``) day first, as European files write
        them; by default the order that reads more of the column's values wins,
        month first on a tie (with a warning).

    Returns
    -------
    pandas.DataFrame
        One row per order line, canonical columns typed (ids ``string``, dates
        ``datetime64[ns]``, numbers ``float64``), ``amount`` derived as
        ``quantity * unit_price`` if the file has none.

    Raises
    ------
    InputError
        For unreadable files, missing columns, a header that repeats a column the
        table uses, and bad values (see :func:`read_table` and
        :func:`~seglab.schema.validate_transactions`).
    ConfigError
        For a bad column mapping, encoding, ``bad_dates`` or ``decimal``.

    Examples
    --------
    >>> orders = load_transactions("online_retail.csv.gz", columns="online_retail")
    ... # doctest: +SKIP
    """
    if bad_dates not in ("fail", "drop"):
        raise ConfigError(f"bad_dates={bad_dates!r} should be 'fail' or 'drop'.")
    table = _load(path, kind="transactions", columns=columns, encoding=encoding, sheet=sheet,
                  decimal=decimal)
    return validate_transactions(table, source=str(path), bad_dates=bad_dates,
                                 decimal=decimal, dayfirst=dayfirst)


def load_customers(
    path: str | Path,
    *,
    columns: str | Path | Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    decimal: str = ".",
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Load a customers file into the canonical customers table.

    Parameters
    ----------
    path : str or Path
        One row per customer; any type :func:`read_table` reads.
    columns : str, Path, Mapping or None
        Column mapping, as in :func:`load_transactions`.
    encoding : str, optional
        Text encoding, e.g. ``"gbk"``; default UTF-8.
    sheet : str or int, optional
        Excel sheet; default the first.
    decimal : {".", ","}, default "."
        Decimal mark of numbers, as in :func:`load_transactions`.
    dayfirst : bool, default False
        Read day/month dates day first, as in :func:`load_transactions`.

    Returns
    -------
    pandas.DataFrame
        One row per customer, canonical customer columns typed
        (see :func:`~seglab.schema.validate_customers`).

    Raises
    ------
    InputError
        For unreadable files, missing columns, a header that repeats a column the
        table uses, bad values and repeated ids.
    ConfigError
        For a bad column mapping, encoding or ``decimal``.
    """
    table = _load(path, kind="customers", columns=columns, encoding=encoding, sheet=sheet,
                  decimal=decimal)
    return validate_customers(table, source=str(path), decimal=decimal, dayfirst=dayfirst)


def load_exposures(
    path: str | Path,
    *,
    columns: str | Path | Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    decimal: str = ".",
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Load a campaign exposures file into the canonical exposures table.

    Parameters
    ----------
    path : str or Path
        One row per campaign and customer (contacted or held out); any type
        :func:`read_table` reads.
    columns : str, Path, Mapping or None
        Column mapping, as in :func:`load_transactions`, onto
        :data:`~seglab.schema.EXPOSURE_COLUMNS` (``customer_id``, ``campaign``,
        ``group``, ``sent_at``; optional ``segment``, ``cost``).
    encoding : str, optional
        Text encoding, e.g. ``"gbk"``; default UTF-8.
    sheet : str or int, optional
        Excel sheet; default the first.
    decimal : {".", ","}, default "."
        Decimal mark of numbers, as in :func:`load_transactions`.
    dayfirst : bool, default False
        Read day/month dates day first, as in :func:`load_transactions`.

    Returns
    -------
    pandas.DataFrame
        Canonical exposures, typed (see :func:`~seglab.schema.validate_exposures`);
        group labels as written.

    Raises
    ------
    InputError
        For unreadable files, missing columns and bad values.
    ConfigError
        For a bad column mapping, encoding or ``decimal``.
    """
    table = _load(path, kind="exposures", columns=columns, encoding=encoding, sheet=sheet,
                  decimal=decimal)
    return validate_exposures(table, source=str(path), decimal=decimal, dayfirst=dayfirst)
