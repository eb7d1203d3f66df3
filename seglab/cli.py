"""Command line: ``seglab run`` and friends.

Exit codes: 0 success; 1 a notebook failed (the failed run folder is kept);
2 bad input, parameters or usage; 75 another run holds the reports folder (try later).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from seglab.errors import ConfigError, LockedError, RunError, SeglabError

#: Exit code when the reports folder is locked: EX_TEMPFAIL, "try again later".
EXIT_LOCKED = 75

class _App(typer.Typer):
    """The typer app; called bare (the console script), usage errors are one line."""

    def __call__(self, *args: object, **kwargs: object) -> object:
        if args or kwargs:
            return super().__call__(*args, **kwargs)
        return main()


app = _App(
    help="Reproducible customer segmentation studies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



# Options `run` and `features` share, defined once.
CustomersOption = Annotated[Path | None, typer.Option(
    help="Customer attribute file (optional).", dir_okay=False)]
ColumnsOption = Annotated[str | None, typer.Option(
    help="Column mapping 'customer_id=Customer ID,order_date=InvoiceDate,...', "
         "a YAML file, or a preset (online_retail, online_retail_ii).")]
CustomerColumnsOption = Annotated[str | None, typer.Option(
    help="Column mapping for the customer file.")]
EncodingOption = Annotated[str | None, typer.Option(
    help="Text encoding of CSV input, e.g. gbk or latin-1.")]
SheetOption = Annotated[str | None, typer.Option(help="Excel sheet name.")]
BadDatesOption = Annotated[str, typer.Option(
    help="'fail' on any unparseable date, or 'drop' up to 1% of rows with a warning.")]
AsOfOption = Annotated[str | None, typer.Option(
    "--as-of", help="Analysis date (default: the day after the last transaction).")]
EngineOption = Annotated[str, typer.Option(
    help="Engine that aggregates transactions into the customer table: duckdb, or spark "
         "(pip install 'seglab[spark]'; same numbers).")]
DecimalOption = Annotated[str, typer.Option(
    help="Decimal mark of numbers in CSV input: '.' or ',' (European files: 1.234,50).")]
DayfirstOption = Annotated[bool, typer.Option(
    "--dayfirst", help="Read dates such as 02/01/2011 day first (2 January).")]

def _check_encoding(encoding: str | None) -> None:
    if encoding is None:
        return
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(f"--encoding {encoding!r}: not a known encoding; use e.g. utf-8, "
                          "gbk, gb18030 or latin-1.") from None


def _fail(error: SeglabError) -> None:
    typer.echo(f"seglab: error: {error}", err=True)
    if isinstance(error, LockedError):
        raise typer.Exit(EXIT_LOCKED)
    raise typer.Exit(1 if isinstance(error, RunError) else 2)


@app.command()
def run(
    data: Annotated[Path | None, typer.Option(
        help="Transaction file (CSV, Excel, Parquet), or a folder or glob of Parquet files "
             "(a large log, studied bucket by bucket). Default: embedded synthetic data.")
    ] = None,
    customers: CustomersOption = None,
    columns: ColumnsOption = None,
    customer_columns: CustomerColumnsOption = None,
    campaigns: Annotated[str | None, typer.Option(
        help="Campaign exposures file (CSV, Excel, Parquet): one row per customer "
             "contacted or held out per campaign; 'synthetic' plants two campaigns in the "
             "synthetic data.")] = None,
    campaign_columns: Annotated[str | None, typer.Option(
        help="Column mapping for the exposures file "
             "'customer_id=...,campaign=...,group=...,sent_at=...' (optional segment, "
             "cost).")] = None,
    encoding: EncodingOption = None,
    sheet: SheetOption = None,
    bad_dates: BadDatesOption = "fail",
    decimal: DecimalOption = ".",
    dayfirst: DayfirstOption = False,
    params: Annotated[Path | None, typer.Option(
        help="YAML file of notebook parameters.", dir_okay=False)] = None,
    as_of: AsOfOption = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed for every random step (default: the params file's seed, else 0).")
    ] = None,
    engine: EngineOption = "duckdb",
    synthetic_customers: Annotated[int, typer.Option(
        help="Customers in the synthetic data (when no --data).", min=30)] = 2000,
    out: Annotated[Path, typer.Option(help="Folder for run folders.")] = Path("reports"),
    run_id: Annotated[str | None, typer.Option(help="Name of the run folder.")] = None,
    keep: Annotated[int | None, typer.Option(
        help="After a successful run, keep only the newest N runs.", min=1)] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait for another run into the same folder instead of failing.")
    ] = False,
    mask_pii: Annotated[bool, typer.Option(
        "--mask-pii", help="Share-safe run folder: customer ids (and --pii-column) become "
        "salted pseudonyms; unmasked files move to <out>/private/<run-id>/.")] = False,
    pii_column: Annotated[list[str] | None, typer.Option(
        help="Another personal column to mask with --mask-pii (repeatable).")] = None,
    lang: Annotated[str, typer.Option(
        help="Language of the reports: en or zh (Chinese; needs a font with Chinese "
             "characters, e.g. Debian's fonts-noto-cjk). File and column names stay "
             "English.")] = "en",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the path.")] = False,
) -> None:
    """Run the whole study and print the path of the report's index.html."""
    from seglab.run import RunOptions, load_params, run_study

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("seglab").setLevel(logging.WARNING if quiet else logging.INFO)
    # Jupyter's own chatter (kernel client teardown, image alt text) is not for users.
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    try:
        index = run_study(RunOptions(
            data=data, customers=customers, columns=columns,
            customer_columns=customer_columns, encoding=encoding, sheet=sheet,
            campaigns=campaigns, campaign_columns=campaign_columns,
            bad_dates=bad_dates, params=load_params(params), as_of=as_of, seed=seed,
            synthetic_customers=synthetic_customers, out=out, run_id=run_id, keep=keep,
            wait=wait, mask_pii=mask_pii, engine=engine,
            pii_columns=("customer_id", *(pii_column or ())), decimal=decimal,
            dayfirst=dayfirst, params_file=params, lang=lang,
        ))
    except SeglabError as error:
        _fail(error)
    typer.echo(str(index))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def lab(
    context: typer.Context,
    source: Annotated[Path | None, typer.Argument(
        metavar="[RUN]", help="A run folder (e.g. reports/latest) whose staged inputs the "
        "workspace starts from; default --data, else the synthetic study.")] = None,
    data: Annotated[Path | None, typer.Option(
        help="Transaction file (or Parquet folder) staged into the workspace as "
             "`seglab run` stages it.")] = None,
    customers: CustomersOption = None,
    columns: ColumnsOption = None,
    customer_columns: CustomerColumnsOption = None,
    campaigns: Annotated[str | None, typer.Option(
        help="Campaign exposures file (as for `seglab run`).")] = None,
    campaign_columns: Annotated[str | None, typer.Option(
        help="Column mapping for the exposures file.")] = None,
    encoding: EncodingOption = None,
    sheet: SheetOption = None,
    bad_dates: BadDatesOption = "fail",
    decimal: DecimalOption = ".",
    dayfirst: DayfirstOption = False,
    params: Annotated[Path | None, typer.Option(
        help="Params file (as for `seglab run`): its shared settings go into the "
             "workspace, its notebook sections into the workspace notebooks.",
        dir_okay=False)] = None,
    as_of: AsOfOption = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed (default: the params file's, else the run's, else 0).")] = None,
    engine: EngineOption = "duckdb",
    synthetic_customers: Annotated[int, typer.Option(
        help="Customers in the synthetic data (when no RUN or --data).", min=30)] = 2000,
    workspace: Annotated[Path | None, typer.Option(
        help="Workspace folder (default workspaces/<run id or data name>); an existing "
             "workspace is reopened as it is.", file_okay=False)] = None,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Start JupyterLab without opening a browser.")] = False,
    no_start: Annotated[bool, typer.Option(
        "--no-start", help="Only make the workspace and print the command that starts "
        "JupyterLab.")] = False,
    export_params: Annotated[Path | None, typer.Option(
        help="Write the workspace notebooks' parameters to this params file for "
             "`seglab run --params`, and stop.", dir_okay=False)] = None,
    lang: Annotated[str | None, typer.Option(
        help="Language of the workspace's reports: en or zh (default: the run's; en for "
             "--data or the synthetic study).")] = None,
) -> None:
    """Open JupyterLab on a workspace: a copy of a run's inputs, never the run itself.

    Options after ``--`` go to JupyterLab, e.g. ``seglab lab reports/latest -- --port 8899``.
    """
    import shlex
    import subprocess

    from seglab import workspace as ws
    from seglab.run import RunOptions, load_params
    from seglab.runfolder import RunFolder

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        if source is not None and data is not None:
            raise ConfigError("give a RUN folder or --data, not both.")
        folder = workspace or ws.default_workspace(source, data)
        if export_params is not None:
            typer.echo(str(ws.export_params(folder, export_params)))
            return
        if RunFolder(folder).study.is_file() and data is None:
            typer.echo(f"reopening the workspace {folder} as it is (remove it to start "
                       "afresh)", err=True)
        notebooks = ws.make_workspace(folder, source=source, options=RunOptions(
            data=data, customers=customers, columns=columns,
            customer_columns=customer_columns, encoding=encoding, sheet=sheet,
            campaigns=campaigns, campaign_columns=campaign_columns, bad_dates=bad_dates,
            params=load_params(params), as_of=as_of, seed=seed,
            synthetic_customers=synthetic_customers, engine=engine, decimal=decimal,
            dayfirst=dayfirst, params_file=params), lang=lang)
    except SeglabError as error:
        _fail(error)
    command = [*ws.lab_command(folder, browser=not no_browser), *context.args]
    typer.echo(f"workspace: {notebooks}")
    if no_start:
        typer.echo(shlex.join(command))
        return
    raise typer.Exit(subprocess.call(command))


@app.command()
def runs(
    out: Annotated[Path, typer.Option(help="Folder of run folders.")] = Path("reports"),
) -> None:
    """List past runs: date, data, status and headline figures."""
    from seglab.history import list_runs

    table = list_runs(out)
    if table.empty:
        typer.echo(f"no runs in {out}")
        return
    table["latest"] = table["latest"].map({True: "<- latest", False: ""})
    typer.echo(table.to_string(index=False, na_rep="-", float_format="{:,.0f}".format))


@app.command()
def compare(
    run_a: Annotated[str, typer.Argument(help="Earlier run id (or 'latest').")],
    run_b: Annotated[str, typer.Argument(help="Later run id (or 'latest').")],
    out: Annotated[Path, typer.Option(help="Folder of run folders.")] = Path("reports"),
) -> None:
    """Show what changed between two runs: figures, method, segment sizes."""
    from seglab.history import compare_runs

    try:
        result = compare_runs(out, run_a, run_b)
    except SeglabError as error:
        _fail(error)
    typer.echo(result["figures"].to_string(index=False, na_rep="-"))
    typer.echo("")
    typer.echo(result["segments"].to_string(index=False, float_format="{:+.1%}".format))


@app.command("features")
def features_command(
    data: Annotated[Path, typer.Option(
        help="Transaction file (CSV, Excel, Parquet), or with --no-clean a folder or glob "
             "of Parquet files.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Customer table to write: .parquet or .csv.", dir_okay=False)],
    customers: CustomersOption = None,
    columns: ColumnsOption = None,
    customer_columns: CustomerColumnsOption = None,
    encoding: EncodingOption = None,
    sheet: SheetOption = None,
    bad_dates: BadDatesOption = "fail",
    decimal: DecimalOption = ".",
    dayfirst: DayfirstOption = False,
    as_of: AsOfOption = None,
    params: Annotated[Path | None, typer.Option(
        help="The study's YAML params file; its time_unit and its notebook 02 section "
             "(window_days, category_top_n, channel_top_n, segment_rules) are used.",
        dir_okay=False)] = None,
    clean: Annotated[bool, typer.Option(
        "--clean/--no-clean", help="Run seglab's intake and cleaning first (default), or "
        "aggregate a clean Parquet/CSV extract straight from disk in DuckDB (faster).")
    ] = True,
    segments: Annotated[bool, typer.Option(
        "--segments/--no-segments", help="Add the rule segments (RFM, tiers, lifecycle).")
    ] = True,
    engine: EngineOption = "duckdb",
) -> None:
    """Build the customer table (features and rule segments) without the notebooks.

    For nightly scoring: prints the path written.
    """
    from seglab.analysis_date import parse_as_of
    from seglab.nightly import export_customer_table
    from seglab.schema import DECIMAL_MARKS

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        day = None if as_of is None else parse_as_of(as_of, option="--as-of")
        _check_encoding(encoding)
        if bad_dates not in ("fail", "drop"):
            raise ConfigError(f"--bad-dates {bad_dates!r}: should be 'fail' or 'drop'.")
        if decimal not in DECIMAL_MARKS:
            raise ConfigError(f"--decimal {decimal!r}: should be '.' or ','.")
        if output.is_dir():
            raise ConfigError(f"--output {output}: is a folder; name a .parquet or .csv file.")
        if params is not None:
            # imports papermill: only when needed
            from seglab.run import NOTEBOOK_DIR, load_params, notebook_parameters, params_for

            # The same file as `seglab run --params`: same checks, notebook 02's section.
            known = notebook_parameters(NOTEBOOK_DIR) if NOTEBOOK_DIR.is_dir() else None
            settings = params_for("02-feature-engineering", load_params(params), known,
                                  source=str(params))
        else:
            settings = {}
        path, _ = export_customer_table(
            data, output, columns=columns, customers=customers,
            customer_columns=customer_columns, encoding=encoding, sheet=sheet,
            bad_dates=bad_dates, decimal=decimal, dayfirst=dayfirst, as_of=day, clean=clean,
            segments=segments, params=settings, engine=engine,
        )
    except SeglabError as error:
        _fail(error)
    typer.echo(str(path))


@app.command()
def version() -> None:
    """Print the seglab version."""
    from seglab import __version__

    typer.echo(__version__)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a usage error (an option of the wrong type) is one line, exit 2.

    Parameters
    ----------
    argv : list of str, optional
        The arguments; default ``sys.argv[1:]``.
    """
    try:
        code = app(args=argv, prog_name="seglab", standalone_mode=False)
    except typer.Abort:
        typer.echo("seglab: aborted", err=True)
        raise SystemExit(1) from None
    except typer.TyperException as error:  # typer's click: usage errors and the like
        ctx = getattr(error, "ctx", None)
        exit_code = getattr(error, "exit_code", 2)
        if type(error).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            raise SystemExit(exit_code) from None
        format_message = getattr(error, "format_message", None)
        message = " ".join((format_message() if format_message else str(error)).split())
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        typer.echo(f"seglab: error: {message}{where}", err=True)
        raise SystemExit(exit_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover - python -m seglab.cli
    main()
