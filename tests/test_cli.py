"""Bad input through the CLI: one clear line, a non-zero exit, nothing written."""

from __future__ import annotations

import gzip
import re

import pandas as pd
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
    assert not out.exists(), list(out.iterdir())  # the reports folder made for it is gone


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


# ------------------------------------------------------------ options checked up front


def _one_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seglab: error: "), lines
    return lines[0]


@pytest.mark.parametrize(
    ("args", "params", "message"),
    [
        (["--as-of", "bad"], None, r"--as-of 'bad': not a date; write it as YYYY-MM-DD"),
        (["--as-of", "2011-02-30"], None, r"--as-of '2011-02-30': no such day"),
        (["--seed", "-1"], None, r"--seed -1: a seed is a whole number from 0"),
        (["--encoding", "klingon"], None, r"--encoding 'klingon': not a known encoding"),
        (["--decimal", ";"], None, r"--decimal ';': should be '\.' or ','"),
        (["--bad-dates", "skip"], None, r"--bad-dates 'skip': should be 'fail' or 'drop'"),
        (["--columns", "customer=Kunde"], None,
         r"--columns: unknown canonical column 'customer' \(did you mean 'customer_id'\?\)"),
        (["--customer-columns", "customer_id=Kunde"], None,
         r"--customer-columns maps a --customers file, and none is given"),
        ([], "k_max: eight\n", r"p\.yaml: k_max must be a whole number, got 'eight'"),
        ([], "k_max: 5.5\n", r"p\.yaml: k_max must be a whole number, got 5\.5"),
        ([], "min_stability: yes\n", r"p\.yaml: min_stability must be a number, got true"),
        ([], "methods: [kmeans]\n", r"p\.yaml: methods must be text, got \['kmeans'\]"),
        ([], "costs: 3\n", r"p\.yaml: costs must be a mapping"),
        ([], "seed: -2\n", r"p\.yaml: seed -2: a seed is a whole number"),
        ([], "run_dir: elsewhere\n", r"p\.yaml: run_dir is set by seglab run"),
        ([], "k_max: [1\nseed: 2\n",
         r"p\.yaml: not valid YAML at line 2, column 5: expected ',' or '\]'"),
        ([], "k_max: 5\n  k_min: 2\n", r"p\.yaml: not valid YAML at line 2, column 8: "),
        ([], "- k_max\n", r"p\.yaml: expected a mapping of parameter: value, got list"),
    ],
)
def test_bad_option_gives_one_line_before_anything_runs(tmp_path, args, params, message):
    if params is not None:
        (tmp_path / "p.yaml").write_text(params)
        args = [*args, "--params", str(tmp_path / "p.yaml")]
    result, out = _run(tmp_path, *args)
    assert re.search(message, _one_line(result)), result.output
    assert not out.exists()  # checked before the lock, the run folder or any notebook


def test_float_parameter_takes_an_int(tmp_path):
    from seglab.run import NOTEBOOK_DIR, check_params, notebook_parameters

    check_params({"min_stability": 1, "k_max": 4, "methods": "kmeans"},
                 notebook_parameters(NOTEBOOK_DIR))  # does not raise


@pytest.mark.parametrize("inside", [False, True])
def test_out_that_is_a_file(tmp_path, inside):
    target = tmp_path / "reports.txt"
    target.write_text("not a folder")
    out = target / "sub" if inside else target
    result = runner.invoke(app, ["run", "--out", str(out), "-q"])
    line = _one_line(result)
    assert f"--out {out}: " in line
    assert ("is inside" if inside else "is a file, not a folder") in line
    assert target.read_text() == "not a folder"


def test_sheet_for_a_csv_and_a_missing_sheet(tmp_path):
    csv = tmp_path / "o.csv"
    csv.write_text(_orders(40))
    result, _ = _run(tmp_path, "--data", str(csv), "--sheet", "Orders")
    assert re.search(r"--sheet 'Orders': .*o\.csv is not an Excel workbook", _one_line(result))
    book = tmp_path / "o.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame({"customer_id": ["A"]}).to_excel(writer, sheet_name="Orders", index=False)
        pd.DataFrame({"customer_id": ["A"]}).to_excel(writer, sheet_name="Notes", index=False)
    result, out = _run(tmp_path, "--data", str(book), "--sheet", "Order")
    assert re.search(r"o\.xlsx: no sheet 'Order'; sheets are: 'Orders', 'Notes'",
                     _one_line(result))
    assert not out.exists()  # checked before the lock
    result, _ = _run(tmp_path, "--data", str(book), "--decimal", ",")
    assert re.search(r"--decimal ',' applies to CSV and text files; .*o\.xlsx",
                     _one_line(result))


def test_repeated_mapped_header(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(_orders(40).replace("amount", "amount,amount").replace(".5\n", ".5,1\n"))
    result, _ = _run(tmp_path, "--data", str(path))
    assert re.search(r"o\.csv: header repeats column 'amount'", _one_line(result))


def test_european_file_without_decimal_option_names_it(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("customer_id;order_date;amount\nA;02/01/2011;10,50\nB;13/01/2011;1.234,5\n")
    result, _ = _run(tmp_path, "--data", str(path))
    assert re.search(r"eu\.csv: column 'amount' has 2 values that are not numbers .*"
                     r"pass --decimal ','", _one_line(result))


def test_features_checks_its_options(tmp_path):
    data = tmp_path / "o.csv"
    data.write_text(_orders(40))
    base = ["features", "--data", str(data), "-o", str(tmp_path / "c.parquet")]
    line = _one_line(runner.invoke(app, [*base, "--as-of", "yesterday"]))
    assert "--as-of 'yesterday': not a date" in line
    line = _one_line(runner.invoke(app, [*base, "--encoding", "klingon"]))
    assert "--encoding 'klingon': not a known encoding" in line
    (tmp_path / "p.yaml").write_text("k_max: [\n")
    line = _one_line(runner.invoke(app, [*base, "--params", str(tmp_path / "p.yaml")]))
    assert re.search(r"p\.yaml: not valid YAML at line 2, column 1", line)
    assert not (tmp_path / "c.parquet").exists()


@pytest.mark.parametrize("run_id", ["../elsewhere", "latest", ".hidden", "a/b"])
def test_run_id_must_be_a_folder_name(tmp_path, run_id):
    result, out = _run(tmp_path, "--run-id", run_id)
    assert f"--run-id {run_id!r}: not a usable folder name" in _one_line(result)
    assert not out.exists()


def test_features_checks_params_types(tmp_path):
    data = tmp_path / "o.csv"
    data.write_text(_orders(40))
    (tmp_path / "p.yaml").write_text("window_days: half a year\n")
    result = runner.invoke(app, ["features", "--data", str(data), "-o",
                                 str(tmp_path / "c.csv"), "--params", str(tmp_path / "p.yaml")])
    assert re.search(r"p\.yaml: window_days must be a whole number, got 'half a year'",
                     _one_line(result))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--seed", "abc"], r"^seglab: error: Invalid value for '--seed': .*integer"),
        (["run", "--synthetic-customers", "3"],
         r"^seglab: error: Invalid value for '--synthetic-customers'"),
        (["run", "--bogus"], r"^seglab: error: No such option: --bogus.*seglab run --help"),
        (["run", "--as-of", "bad"], r"^seglab: error: --as-of 'bad': not a date"),
    ],
)
def test_console_script_gives_one_line_for_usage_errors(capsys, argv, message):
    from seglab.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and re.search(message, lines[0]), captured.err
    assert captured.out == ""


def test_console_script_exit_zero(capsys):
    from seglab import __version__
    from seglab.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == __version__


def test_features_reads_a_european_csv(tmp_path):
    rows = "".join(f"K{i:03d};0{1 + i % 9}/02/2024 10:00;1.2{i % 10}4,50\n" for i in range(40))
    data = tmp_path / "umsatz.csv"
    data.write_text("Kunde;Datum;Betrag\n" + rows, encoding="utf-8")
    out = tmp_path / "customers.csv"
    args = ["features", "--data", str(data), "-o", str(out),
            "--columns", "customer_id=Kunde,order_date=Datum,amount=Betrag"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "--decimal ','" in refused.output
    result = runner.invoke(app, [*args, "--decimal", ",", "--dayfirst"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    assert table.loc["K003", "revenue"] == 1234.5  # 1.234,50
    assert table.loc["K003", "first_order"].startswith("2024-02-04")  # 04/02: 4 February
    assert runner.invoke(app, [*args, "--decimal", ";"]).exit_code == 2


def test_an_unknown_report_language_is_refused(tmp_path):
    result, out = _run(tmp_path, "--lang", "fr")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ["seglab: error: --lang must be one of en, zh, got 'fr'."]
    assert not out.exists()  # refused before the reports folder is touched


def test_a_chinese_report_without_a_chinese_font_stops_before_running(tmp_path, monkeypatch):
    from seglab import i18n

    monkeypatch.setattr(i18n, "CJK_FONTS", ("No Such Font SC",))
    result, out = _run(tmp_path, "--lang", "zh")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("seglab: error: A Chinese report needs a font")
    assert "fonts-noto-cjk" in lines[0]
    assert not out.exists()
