"""Run the whole study: execute the notebooks in order into a new run folder."""

from __future__ import annotations

import ast
import codecs
import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import importlib.metadata
import logging
import os
import platform
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill
import yaml
from jupyter_client.manager import KernelManager

from seglab import history, i18n, privacy, report, study
from seglab import io as seglab_io
from seglab.analysis_date import parse_as_of
from seglab.errors import ConfigError, InputError, LockedError, RunError, SeglabError
from seglab.io import sha256_file
from seglab.runfolder import FILES, TIME_UNITS, RunFolder, read_json, write_json
from seglab.schema import DECIMAL_MARKS, parse_column_mapping

logger = logging.getLogger(__name__)

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"

#: The notebooks of a study, in the order they run: (name, title, what it answers).
#: Titles and summaries are English templates; the index shows them in the run's
#: language (``seglab/locales/zh/run.yaml``).
NOTEBOOKS: tuple[tuple[str, str, str], ...] = (
    ("01-data-profile", "Data profile",
     "what the data covers, its quality, and every row cleaning dropped or changed"),
    ("02-feature-engineering", "Customer features and rule segments",
     "RFM and behaviour per customer; RFM segments, value tiers and lifecycle stages"),
    ("03-clustering-comparison", "Clustering comparison",
     "which clustering method finds the clearest, most stable segments"),
    ("04-profitability-personas", "Profitability and personas",
     "which segments make money after cost-to-serve, who they are and what to do"),
    ("05-segment-dynamics", "Segments over time",
     "who moved between segments and what it is worth; cohorts, churn risk, a segment monitor"),
    ("06-segment-products", "What each segment buys",
     "distinguishing products and categories, what sells together, next-product offers"),
    ("07-campaigns", "Campaigns",
     "audiences with a control group for the CRM; campaign results read out per segment"),
)

VERSIONED_PACKAGES: tuple[str, ...] = (
    "pandas", "numpy", "scikit-learn", "hdbscan", "umap-learn", "papermill", "duckdb",
)

#: Seed of every random step when neither ``--seed`` nor the params file gives one.
DEFAULT_SEED = 0
#: Seeds numpy and scikit-learn accept: 0 to 2**32 - 1.
_MAX_SEED = 2**32 - 1
#: Names in the reports folder that are not run folders.
_RESERVED_RUN_IDS = ("latest", "private")
#: Parameters the runner sets itself; a params file may not.
_RUNNER_PARAMETERS = ("run_dir",)
#: The study's settings: top-level keys of a params file only, decided once when the
#: inputs are staged (``study.json``); ``seed`` also goes to every notebook taking one.
SHARED_PARAMETERS: tuple[str, ...] = ("seed", "time_unit", "costs")
_TYPE_WORDS: dict[type, str] = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text",
    dict: "a mapping (name: value)",
    list: "a list",
}


@dataclass
class RunOptions:
    """Everything that defines a study run; the CLI fills it from its options."""

    data: Path | None = None
    customers: Path | None = None
    columns: str | None = None
    customer_columns: str | None = None
    campaigns: str | Path | None = None
    campaign_columns: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    bad_dates: str = "fail"
    params: dict[str, Any] = field(default_factory=dict)
    as_of: str | pd.Timestamp | None = None
    seed: int | None = None
    synthetic_customers: int = 2000
    out: Path = Path("reports")
    run_id: str | None = None
    keep: int | None = None
    wait: bool = False
    mask_pii: bool = False
    engine: str = "duckdb"
    pii_columns: tuple[str, ...] = ("customer_id",)
    notebook_dir: Path = NOTEBOOK_DIR
    decimal: str = "."
    dayfirst: bool = False
    params_file: Path | None = None
    lang: str = i18n.DEFAULT_LANGUAGE


def _sha256(path: Path) -> str:
    """SHA-256 of a file; of a folder or glob of Parquet files, of their names and hashes."""
    from seglab import buckets

    files = buckets.parquet_files(path)
    if len(files) == 1 and Path(path).is_file():
        return sha256_file(path)
    if not files:
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.name} {sha256_file(file)}\n".encode())
    return digest.hexdigest()


def load_params(path: Path | None) -> dict[str, Any]:
    """Read a YAML params file: shared settings and a section per notebook.

    See :func:`notebook_params` for what it may hold.

    Parameters
    ----------
    path : pathlib.Path or None
        The file; None gives no parameters.

    Returns
    -------
    dict
        Parameters.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, not YAML (one line with the line and
        column of the problem) or not a mapping of names to values.
    """
    if path is None:
        return {}
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found.")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "syntax error"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}.") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_first_line(error)}.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the params file ({error}).") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of parameter: value, got "
                          f"{type(params).__name__}.")
    names = [key for key in params if not isinstance(key, str)
             and (isinstance(key, bool) or not isinstance(key, int))]
    if names:
        raise ConfigError(f"{path}: parameter names are words, not {names[0]!r}.")
    return params


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def notebook_parameters(notebook_dir: Path) -> dict[str, dict[str, Any]]:
    """Return each notebook's parameters and defaults, read from its ``parameters`` cell."""
    found = {}
    for name, _, _ in NOTEBOOKS:
        path = notebook_dir / f"{name}.ipynb"
        if not path.exists():
            raise ConfigError(f"{path}: notebook not found; is --notebooks right?")
        found[name] = {
            key: spec["default"] for key, spec in papermill.inspect_notebook(str(path)).items()
        }
    return found


def _default_type(default: Any) -> type | None:
    """Return the type of a notebook parameter's default (papermill gives its source)."""
    if isinstance(default, str):
        try:
            default = ast.literal_eval(default)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
    if default is None:
        return None
    if isinstance(default, tuple):
        return list
    return type(default) if type(default) in _TYPE_WORDS else None


def _fits(value: Any, expected: type) -> bool:
    """Whether a YAML value fits a parameter whose default is of type ``expected``."""
    if expected is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # YAML's true/false is not a number
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def _section_of(key: Any, known: dict[str, dict[str, Any]]) -> str | None:
    """Return the notebook a params file's top-level key names as a section, or None."""
    for name in known:
        number = name.split("-", 1)[0]
        if key == name or str(key) == number or (isinstance(key, int) and key == int(number)):
            return name
    return None


def _check_value(name: str, value: Any, expected: type | None, where: str) -> None:
    if expected is not None and not _fits(value, expected):
        raise ConfigError(f"{where}{name} must be {_TYPE_WORDS[expected]}, got {_shown(value)}.")


def notebook_params(params: dict[str, Any], known: dict[str, dict[str, Any]], *,
                    source: str = "params file",
                    reader: str | None = None) -> dict[str, dict[str, Any]]:
    """Check a params file and return each notebook's parameters.

    A params file holds the study's shared settings at the top level
    (:data:`SHARED_PARAMETERS`: ``seed``, ``time_unit``, ``costs``) and a section per
    notebook, named as the notebook (``03-clustering-comparison``) or by its number
    (``"03"``), whose keys are the notebook's parameters (the stage's keyword
    arguments). A top-level key that exactly one notebook takes still goes to that
    notebook (flat files keep working); one that several notebooks take must sit in
    a section.

    Parameters
    ----------
    params : dict
        From :func:`load_params`.
    known : dict
        From :func:`notebook_parameters`.
    source : str
        The params file's name, for messages.
    reader : str, optional
        The one notebook whose settings are read (``seglab features`` reads notebook
        02's): a top-level key that notebook takes is its own, even when other
        notebooks take a key of that name too.

    Returns
    -------
    dict
        Notebook name → its parameters from the file (``seed`` included where the
        notebook takes one).

    Raises
    ------
    ConfigError
        For a name no notebook takes (naming the file, the section and the key), a
        top-level key several notebooks take, a shared setting inside a section, a
        parameter the runner sets (``run_dir``), or a value whose type differs from the
        default's, e.g. ``params.yaml: k_max must be a whole number, got 'eight'``.
        An int is fine where a float is expected; true/false is not a number.
    """
    chosen: dict[str, dict[str, Any]] = {name: {} for name in known}
    valid = set().union(*known.values()) - set(_RUNNER_PARAMETERS)
    flat: dict[str, Any] = {}
    for key, value in params.items():
        section = _section_of(key, known)
        if section is None:
            flat[key] = value
            continue
        where = f"{source}: section {key}: "
        if not isinstance(value, dict):
            raise ConfigError(f"{where}expected a mapping of parameter: value, got "
                              f"{_shown(value)}.")
        for name, item in value.items():
            if name in _RUNNER_PARAMETERS:
                raise ConfigError(f"{where}{name} is set by seglab run; remove it.")
            if name in SHARED_PARAMETERS:
                raise ConfigError(f"{where}{name} is shared by the whole study; set it at the "
                                  "top level of the file.")
            if name not in known[section]:
                raise ConfigError(
                    f"{where}unknown parameter {name!r}; notebook {section} takes: "
                    f"{sorted(set(known[section]) - set(_RUNNER_PARAMETERS))}.")
            _check_value(name, item, _default_type(known[section][name]), f"{source}: ")
            chosen[section][name] = item
    unknown = sorted(str(k) for k in set(flat) - valid - set(SHARED_PARAMETERS)
                     - set(_RUNNER_PARAMETERS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown parameter(s) {unknown}; notebooks take: {sorted(valid)} "
            f"(top level: {list(SHARED_PARAMETERS)}, or in a section per notebook).")
    for name in _RUNNER_PARAMETERS:
        if name in flat:
            raise ConfigError(f"{source}: {name} is set by seglab run; remove it.")
    if "time_unit" in flat and flat["time_unit"] not in TIME_UNITS:
        raise ConfigError(f"{source}: time_unit must be one of {list(TIME_UNITS)}, got "
                          f"{_shown(flat['time_unit'])}.")
    if "costs" in flat and not isinstance(flat["costs"], dict | str):
        raise ConfigError(f"{source}: costs must be a mapping (name: value) or the path of "
                          f"a YAML file, got {_shown(flat['costs'])}.")
    for name, value in flat.items():
        if name in ("time_unit", "costs"):
            continue
        takers = [section for section, defaults in known.items() if name in defaults]
        if reader in takers:
            takers = [reader]
        if name != "seed" and len(takers) > 1:
            raise ConfigError(
                f"{source}: {name} is a parameter of notebooks {', '.join(takers)}; put it "
                f"in the section of the one you mean, e.g. {takers[-1]}: {{{name}: ...}}.")
        for section in takers:
            _check_value(name, value, _default_type(known[section][name]), f"{source}: ")
            chosen[section].setdefault(name, value)
    return chosen


def check_params(params: dict[str, Any], known: dict[str, dict[str, Any]], *,
                 source: str = "params file") -> None:
    """Check a params file against the notebooks' parameters cells.

    Parameters
    ----------
    params : dict
        From :func:`load_params`.
    known : dict
        From :func:`notebook_parameters`.
    source : str
        The params file's name, for messages.

    Raises
    ------
    ConfigError
        As :func:`notebook_params`.
    """
    notebook_params(params, known, source=source)


def params_for(name: str, params: dict[str, Any], known: dict[str, dict[str, Any]] | None, *,
               source: str = "params file") -> dict[str, Any]:
    """Return one notebook's parameters with the shared settings, as its stage takes them.

    ``seglab features`` and the Spark job read notebook 02's settings this way.

    Parameters
    ----------
    name : str
        Notebook name, e.g. ``"02-feature-engineering"``.
    params : dict
        From :func:`load_params`.
    known : dict or None
        From :func:`notebook_parameters`; None (no notebooks installed) takes the
        top-level keys and the notebook's section as they are.
    source : str
        The params file's name, for messages.

    Returns
    -------
    dict
        The shared settings and the notebook's parameters.
    """
    shared = {key: params[key] for key in SHARED_PARAMETERS if key in params}
    if known is None:
        sections = {key for key in params if _section_of(key, {name: {}}) is not None}
        own = next((params[key] for key in sections), {})
        flat = {k: v for k, v in params.items() if k not in sections}
        return {**flat, **own}
    return {**shared, **notebook_params(params, known, source=source, reader=name)[name]}


def _shown(value: Any) -> str:
    """Show a params value as the YAML file spells it (true, not True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (an empty value)"
    return repr(value)


def _check_seed(seed: Any, option: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= _MAX_SEED:
        raise ConfigError(
            f"{option} {seed!r}: a seed is a whole number from 0 to {_MAX_SEED}."
        )
    return seed


def _check_out(out: Path) -> None:
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                what = "is a file" if folder == out else f"is inside {folder}, a file"
                raise ConfigError(
                    f"--out {out}: {what}, not a folder; name a folder for the run folders."
                )
            return


def check_options(options: RunOptions, known: dict[str, dict[str, Any]]) -> RunOptions:
    """Check every option and the params file before anything runs; resolve the seed.

    Parameters
    ----------
    options : RunOptions
        As the CLI (or a caller) filled it.
    known : dict
        The notebooks' parameters, from :func:`notebook_parameters`.

    Returns
    -------
    RunOptions
        A copy with ``seed`` resolved (``--seed``, else the params file's ``seed``,
        else :data:`DEFAULT_SEED`), ``as_of`` as the analysis day (a
        :class:`pandas.Timestamp` at midnight), and, on the embedded
        synthetic data, its planted campaigns (``campaigns="synthetic"``) unless others
        are given.

    Raises
    ------
    ConfigError
        Naming the option or file and the problem: a ``--lang`` seglab has no reports
        in, a Chinese report (``--lang zh``) on a machine without a font with Chinese
        characters (:func:`seglab.i18n.cjk_font`), an ``--as-of`` that is not a
        YYYY-MM-DD date, an ``--out`` that is a file, a bad seed, encoding, decimal
        mark, ``--bad-dates``, engine, column mapping or ``--run-id``, ``--sheet`` for
        a file that is not a workbook, ``--customer-columns`` without ``--customers``,
        or a params file with unknown names or values of the wrong type (see
        :func:`check_params`).
    InputError
        If ``--sheet`` names a sheet the workbook does not have (listing its sheets).
    """
    if i18n.check_language(options.lang) == "zh":
        i18n.cjk_font()  # charts without one would show boxes instead of characters
    source = str(options.params_file) if options.params_file else "params file"
    check_params(options.params, known, source=source)
    if "costs" in options.params:
        from seglab import profit

        try:
            profit.cost_table(options.params["costs"])
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    if options.seed is not None:
        seed = _check_seed(options.seed, "--seed")
    elif "seed" in options.params:
        seed = _check_seed(options.params["seed"], f"{source}: seed")
    else:
        seed = DEFAULT_SEED
    as_of = None if options.as_of is None else parse_as_of(options.as_of, option="--as-of")
    _check_out(Path(options.out))
    if options.encoding is not None:
        try:
            codecs.lookup(options.encoding)
        except LookupError:
            raise ConfigError(
                f"--encoding {options.encoding!r}: not a known encoding; use e.g. utf-8, "
                "gbk, gb18030 or latin-1."
            ) from None
    if options.decimal not in DECIMAL_MARKS:
        raise ConfigError(f"--decimal {options.decimal!r}: should be '.' or ','.")
    if options.bad_dates not in ("fail", "drop"):
        raise ConfigError(f"--bad-dates {options.bad_dates!r}: should be 'fail' or 'drop'.")
    try:
        study.check_engine(options.engine)
    except ConfigError as error:
        raise ConfigError(f"--engine {options.engine!r}: {error}") from None
    for flag, spec in (("--columns", options.columns),
                       ("--customer-columns", options.customer_columns),
                       ("--campaign-columns", options.campaign_columns)):
        try:
            parse_column_mapping(spec)
        except ConfigError as error:
            message = str(error).removeprefix("column mapping: ")
            raise ConfigError(f"{flag}: {message}") from None
    if options.customer_columns and options.customers is None:
        raise ConfigError("--customer-columns maps a --customers file, and none is given.")
    if options.campaign_columns and options.campaigns is None:
        raise ConfigError("--campaign-columns maps a --campaigns file, and none is given.")
    campaigns = options.campaigns
    if campaigns is not None and str(campaigns) == "synthetic":
        if options.data is not None:
            raise ConfigError("--campaigns synthetic plants campaigns in the synthetic data; "
                              "with --data give an exposures file.")
    elif campaigns is not None:
        if not Path(campaigns).is_file():
            raise ConfigError(f"--campaigns {str(campaigns)!r}: no such file.")
        seglab_io.check_decimal_for(campaigns, options.decimal)
    for label, path in (("--data", options.data), ("--customers", options.customers)):
        if path is None:
            continue
        suffix = "".join(Path(path).suffixes[-1:]).lower()
        if label == "--data" and options.sheet is not None and Path(path).is_file():
            if suffix not in (".xlsx", ".xls"):
                raise ConfigError(
                    f"--sheet {options.sheet!r}: {path} is not an Excel workbook.")
            seglab_io.check_sheet(path, options.sheet)
        if Path(path).is_file():
            seglab_io.check_decimal_for(path, options.decimal)
    run_id = options.run_id
    if run_id is not None and (not run_id.strip() or run_id != Path(run_id).name
                               or run_id.startswith(".") or run_id in _RESERVED_RUN_IDS):
        raise ConfigError(
            f"--run-id {run_id!r}: not a usable folder name; use letters, digits, '-' or "
            f"'_' (not {', '.join(_RESERVED_RUN_IDS)}, no '/', not starting with '.')."
        )
    # The embedded study plants its campaigns, so the default report shows a real readout.
    campaigns = "synthetic" if options.data is None and options.campaigns is None \
        else options.campaigns
    return dataclasses.replace(options, seed=seed, as_of=as_of, campaigns=campaigns)


def stage_options(options: RunOptions, folder: Path) -> study.StudyInputs:
    """Stage a run's inputs into ``folder`` as ``seglab run`` does (``seglab lab`` too).

    Parameters
    ----------
    options : RunOptions
        Checked by :func:`check_options`; the params file's shared ``time_unit`` and
        ``costs`` become the study's settings.
    folder : pathlib.Path
        The run folder (or workspace) being made.

    Returns
    -------
    seglab.study.StudyInputs
        The staged inputs.
    """
    return study.stage_inputs(
        folder, data=options.data, customers=options.customers, columns=options.columns,
        customer_columns=options.customer_columns, encoding=options.encoding,
        sheet=options.sheet, as_of=options.as_of, seed=options.seed,
        n_customers=options.synthetic_customers, bad_dates=options.bad_dates,
        mask_pii=options.mask_pii, engine=options.engine, decimal=options.decimal,
        dayfirst=options.dayfirst, campaigns=options.campaigns,
        campaign_columns=options.campaign_columns,
        time_unit=options.params.get("time_unit", "D"), costs=options.params.get("costs"),
        lang=options.lang,
    )


def _versions() -> dict[str, str]:
    versions = {"seglab": importlib.metadata.version("seglab"),
                "python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "absent"
    return versions


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    """Return a sortable, unique run id: UTC time and a short random suffix."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _point_latest(out: Path, run_id: str) -> None:
    """Make ``out/latest`` point at ``run_id``, replacing the old link atomically."""
    tmp = out / f".latest-{run_id}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_id, target_is_directory=True)
    os.replace(tmp, out / "latest")


#: The lock file of a reports folder (:func:`reports_lock`).
LOCK_FILE = ".seglab.lock"


@contextlib.contextmanager
def reports_lock(out: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the reports folder's lock so two runs never write it at once.

    Parameters
    ----------
    out : pathlib.Path
        The reports folder (created if absent).
    wait : bool
        Wait for another run to finish instead of failing at once.

    Raises
    ------
    LockedError
        If another run holds the lock and ``wait`` is false.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_FILE
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedError(
                f"{out}: another seglab run is writing here ({holder}); "
                "try again later or pass --wait."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {_now()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def local_kernel() -> Iterator[KernelManager]:
    """Start a Python kernel that talks over Unix sockets, not TCP (private, quiet).

    ``seglab run`` starts one per notebook. Passed to :func:`run_study`, one kernel
    runs every notebook of a study (faster, for tests of many small studies; a notebook
    then sees the variables of the notebooks before it).
    """
    with tempfile.TemporaryDirectory(prefix="seglab-kernel-") as folder:
        kernel = KernelManager(kernel_name="python3", transport="ipc",
                               ip=str(Path(folder) / "kernel"))
        try:
            yield kernel
        finally:
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)


def _fix_injected_cell_id(notebook: Path) -> None:
    """Give papermill's injected parameters cell a fixed id (it draws a random one)."""
    book = nbformat.read(notebook, as_version=4)
    for cell in book.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
    nbformat.write(book, notebook)


def _failure_message(error: papermill.PapermillExecutionError, name: str) -> str:
    # A SeglabError raised inside a notebook is a user mistake: show its message only.
    if error.ename in {cls.__name__ for cls in (SeglabError, *_subclasses(SeglabError))}:
        return f"{name}: {error.evalue}"
    return f"notebook {name} failed: {error.ename}: {error.evalue}"


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def run_study(options: RunOptions, *, kernel: KernelManager | None = None) -> Path:
    """Execute every notebook into a new run folder and write index, manifest, metrics.

    The run is built in a hidden ``.<run-id>.partial`` folder and renamed into place
    when it ends. Only a successful run moves ``<out>/latest``. Input errors found
    before any notebook runs leave nothing behind. A lock keeps concurrent runs into
    the same folder apart; ``keep`` prunes old runs after a success.

    Parameters
    ----------
    options : RunOptions
        The study definition.
    kernel : KernelManager, optional
        A kernel (from :func:`local_kernel`) to run every notebook in; default a fresh
        kernel per notebook.

    Returns
    -------
    pathlib.Path
        The run's ``index.html``.

    Raises
    ------
    SeglabError
        If inputs or parameters are invalid (``InputError``, ``ConfigError``), another
        run holds the folder (``LockedError``) or a notebook fails (``RunError``; the
        failed run folder is kept for inspection).
    """
    known = notebook_parameters(options.notebook_dir)
    options = check_options(options, known)
    created = not options.out.exists()
    try:
        with reports_lock(options.out, wait=options.wait):
            index = _run_locked(options, known, kernel)
            if options.keep:
                history.prune_runs(options.out, options.keep)
    except (InputError, ConfigError):
        # Refused before any notebook ran: a reports folder made for this run goes too.
        if created and [p.name for p in options.out.iterdir()] == [LOCK_FILE]:
            shutil.rmtree(options.out, ignore_errors=True)
        raise
    return index


def _run_locked(options: RunOptions, known: dict[str, dict[str, Any]],
                kernel: KernelManager | None = None) -> Path:
    run_id = options.run_id or new_run_id()
    final = options.out / run_id
    if final.exists():
        raise ConfigError(f"{final}: a run with id {run_id!r} exists already.")
    options.out.mkdir(parents=True, exist_ok=True)
    work = options.out / f".{run_id}.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    manifest: dict[str, Any] = {
        "run_id": run_id,
        "status": "running",
        # The seed the notebooks run with (resolved in check_options), not the file's.
        "parameters": {"seed": options.seed, "as_of": options.as_of, "columns": options.columns,
                       **{k: v for k, v in options.params.items() if k != "seed"}},
        "inputs": {},
        "versions": _versions(),
        "started_at": _now(),
        "finished_at": None,
        "notebooks": [],
    }
    try:
        inputs = stage_options(options, work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    staged_campaigns = (options.campaigns if options.campaigns is not None
                        and str(options.campaigns) != "synthetic" else None)
    for label, path in (("data", options.data), ("customers", options.customers),
                        ("campaigns", staged_campaigns)):
        if path is not None:
            manifest["inputs"][label] = {"path": str(Path(path).resolve()),
                                         "sha256": _sha256(path)}
    if options.data is None:
        staged = RunFolder(work).staged_transactions
        manifest["inputs"]["data"] = {"synthetic": inputs.source,
                                      "sha256": sha256_file(staged)}
    manifest["parameters"]["as_of"] = inputs.as_of.date().isoformat()
    manifest["parameters"]["engine"] = options.engine
    manifest["parameters"]["lang"] = options.lang
    if options.decimal != ".":
        manifest["parameters"]["decimal"] = options.decimal
    if options.dayfirst:
        manifest["parameters"]["dayfirst"] = True

    failure: str | None = None
    per_notebook = notebook_params(options.params, known)
    for name, title, summary in NOTEBOOKS:
        entry = {"name": name, "title": title, "summary": summary, "status": "skipped",
                 "seconds": None, "html": None}
        manifest["notebooks"].append(entry)
        if failure:
            continue
        parameters = {**per_notebook[name], **({"seed": options.seed}
                                               if "seed" in known[name] else {})}
        parameters["run_dir"] = str(work.resolve())
        executed = RunFolder(work).notebook(name)
        executed.parent.mkdir(exist_ok=True)
        started = time.perf_counter()
        try:
            with (contextlib.nullcontext(kernel) if kernel else local_kernel()) as manager:
                # Written once, when it ends (a failed one with its error), not after
                # every cell: rewriting a notebook and its figures per cell cost seconds.
                papermill.execute_notebook(
                    str(options.notebook_dir / f"{name}.ipynb"), str(executed),
                    parameters=parameters, cwd=str(work), progress_bar=False,
                    kernel_name="python3", km=manager, request_save_on_cell_execute=False,
                )
            entry["status"] = "succeeded"
        except papermill.PapermillExecutionError as error:
            entry["status"] = "failed"
            failure = _failure_message(error, name)
        entry["seconds"] = round(time.perf_counter() - started, 2)
        _fix_injected_cell_id(executed)
        entry["html"] = str(FILES.report(name))
        report.notebook_to_html(executed, work / entry["html"], lang=options.lang)
        logger.info("%s %s in %.1fs", name, entry["status"], entry["seconds"])

    study.export_customers_csv(work)
    if options.mask_pii:
        private = privacy.make_shareable(work, options.out / "private" / run_id,
                                         privacy.salt_for(options.out), options.pii_columns)
        manifest["masked"] = {"columns": list(options.pii_columns),
                              "unmasked_files": str(private.resolve())}
    report.write_data_dictionary(work)
    manifest["status"] = "failed" if failure else "succeeded"
    manifest["error"] = failure
    manifest["finished_at"] = _now()
    write_json(RunFolder(work).manifest, manifest)
    previous = options.out / "latest"
    changes = None
    if previous.exists():
        manifest["previous_run"] = previous.resolve().name
        changes = history.compare_folders(previous.resolve(), work)
    report.write_index(work, manifest, read_json(RunFolder(work).metrics),
                       read_json(RunFolder(work).study), changes=changes)
    work.rename(final)
    if failure:
        raise RunError(f"{failure} (run folder kept: {final})")
    _point_latest(options.out, run_id)
    return RunFolder(final).index
