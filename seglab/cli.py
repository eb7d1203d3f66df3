"""Command line: ``seglab run`` and friends.

Exit codes: 0 success; 1 a notebook failed (the failed run folder is kept);
2 bad input, parameters or usage.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from seglab.errors import RunError, SeglabError

app = typer.Typer(
    help="Reproducible customer segmentation studies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(error: SeglabError) -> None:
    typer.echo(f"seglab: error: {error}", err=True)
    raise typer.Exit(1 if isinstance(error, RunError) else 2)


@app.command()
def run(
    data: Annotated[Path | None, typer.Option(
        help="Transaction file (CSV, Excel, Parquet). Default: embedded synthetic data.",
        dir_okay=False)] = None,
    customers: Annotated[Path | None, typer.Option(
        help="Customer attribute file (optional).", dir_okay=False)] = None,
    columns: Annotated[str | None, typer.Option(
        help="Column mapping 'customer_id=Customer ID,order_date=InvoiceDate,...', "
             "a YAML file, or a preset (online_retail, online_retail_ii).")] = None,
    customer_columns: Annotated[str | None, typer.Option(
        help="Column mapping for the customer file.")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="Text encoding of CSV input, e.g. gbk or latin-1.")] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet name.")] = None,
    bad_dates: Annotated[str, typer.Option(
        help="'fail' on any unparseable date, or 'drop' up to 1% of rows with a warning.")
    ] = "fail",
    params: Annotated[Path | None, typer.Option(
        help="YAML file of notebook parameters.", dir_okay=False)] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Analysis date (default: the day after the last transaction).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for every random step.")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for run folders.")] = Path("reports"),
    run_id: Annotated[str | None, typer.Option(help="Name of the run folder.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the path.")] = False,
) -> None:
    """Run the whole study and print the path of the report's index.html."""
    from seglab.run import RunOptions, load_params, run_study

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("seglab").setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        index = run_study(RunOptions(
            data=data, customers=customers, columns=columns,
            customer_columns=customer_columns, encoding=encoding, sheet=sheet,
            bad_dates=bad_dates, params=load_params(params), as_of=as_of, seed=seed,
            out=out, run_id=run_id,
        ))
    except SeglabError as error:
        _fail(error)
    typer.echo(str(index))


@app.command()
def version() -> None:
    """Print the seglab version."""
    from seglab import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover - console entry point
    """Run the CLI."""
    app()
