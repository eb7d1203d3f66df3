"""Bad input through the CLI: one clear line, a non-zero exit, nothing written."""

from __future__ import annotations

import gzip
import re

import pytest
from typer.testing import CliRunner

from seglab.cli import app

runner = CliRunner()


def _run(tmp_path, *args):
    out = tmp_path / "reports"
    result = runner.invoke(app, ["run", "--out", str(out), "-q", *args])
    return result, out


def _orders(n_customers: int, *, date: str = "2024-01-05") -> str:
    rows = [f"C{i:03d},{date},{10 + i}.5" for i in range(n_customers)]
    return "customer_id,order_date,amount\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, r"missing\.csv: no such file"),
        ("empty.csv", "", r"empty\.csv: empty file"),
        ("header.csv", "customer_id,order_date,amount\n", r"header\.csv: has a header but no"),
        ("nocol.csv", "customer_id,amount\nA,3\n", r"nocol\.csv: required .*'order_date'"),
        ("dates.csv", "customer_id,order_date,amount\nA,soon,3\nB,2024-01-01,4\n",
         r"dates\.csv: column 'order_date' has 1 value that is not a date \(row 1: 'soon'\)"),
        ("text.csv", "customer_id,order_date,amount\nA,2024-01-01,12 EUR\n",
         r"text\.csv: column 'amount' has 1 value that is not a number"),
        ("few.csv", _orders(5), r"few\.csv: column customer_id has 5 distinct customers"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result, out = _run(tmp_path, "--data", str(path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seglab: error: ")
    assert re.search(message, lines[0]), lines[0]
    left = [p.name for p in out.iterdir()] if out.exists() else []
    assert left in ([], [".seglab.lock"]), left  # nothing left behind but the lock file


def test_encoding_problem_suggests_encoding(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(("customer_id,order_date,amount,category\n"
                      "A,2024-01-01,3,美妆\n").encode("gbk"))
    result, _ = _run(tmp_path, "--data", str(path))
    assert result.exit_code == 2
    assert "gbk.csv: bytes at row ~1 are not valid UTF-8; pass --encoding" in result.output


def test_input_file_is_never_modified(tmp_path):
    path = tmp_path / "orders.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(_orders(3))
    before = path.read_bytes()
    _run(tmp_path, "--data", str(path))
    assert path.read_bytes() == before


def test_bad_mapping_suggests_the_closest_name(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(_orders(40).replace("customer_id", "CustomerID"))
    result, _ = _run(tmp_path, "--data", str(path), "--columns", "customer_id=Customer Id")
    assert result.exit_code == 2
    assert "did you mean 'CustomerID'?" in result.output
