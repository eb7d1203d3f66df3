"""Tests for seglab.io: reading CSV/Excel/Parquet as text and loading canonical tables."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seglab.errors import ConfigError, InputError
from seglab.io import (
    load_customers,
    load_transactions,
    read_columns,
    read_table,
    sha256_file,
)

SHARED_RETAIL = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "online_retail"
    / "online_retail_2010_2011.csv.gz"
)
ORDERS = "customer_id,order_date,amount\n00012,2021-03-01,10.5\n00013,2021-03-02 14:05,7\n"


def write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    """Write a small input file and return its path."""
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


# ------------------------------------------------------------------------- file errors


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"data\.csv: no such file$"):
        read_table(tmp_path / "data.csv")


def test_directory(tmp_path):
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(InputError, match=r"data\.csv: is a directory, not a file$"):
        read_table(folder)


def test_unsupported_suffix(tmp_path):
    path = write(tmp_path / "data.json", "{}")
    with pytest.raises(
        InputError,
        match=(
            r"data\.json: unsupported file type '\.json'; supported: \.csv, "
            r".*\.parquet$"
        ),
    ):
        read_table(path)


def test_empty_file(tmp_path):
    path = write(tmp_path / "data.csv", "")
    with pytest.raises(InputError, match=r"data\.csv: empty file \(0 bytes\)$"):
        read_table(path)


def test_blank_lines_only(tmp_path):
    path = write(tmp_path / "data.csv", "\n\n")
    with pytest.raises(InputError, match=r"data\.csv: empty file \(no header, no data\)$"):
        read_table(path)


def test_header_only(tmp_path):
    path = write(tmp_path / "data.csv", "customer_id,order_date,amount\n")
    with pytest.raises(InputError, match=r"data\.csv: has a header but no data rows$"):
        read_table(path)


def test_row_with_too_many_fields(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS + "00014,2021-03-03,5,extra\n")
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: row ~3 has 4 fields but the header has 3 \(delimiter "
            r"','\); check the quoting of that row: '00014,2021-03-03,5,extra'"
        ),
    ):
        read_table(path)


def test_unknown_encoding(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS)
    with pytest.raises(ConfigError, match=r"encoding='gbkk' is not a known encoding"):
        read_table(path, encoding="gbkk")


def test_wanted_column_missing(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS)
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: column 'amout' not found; columns are: customer_id, "
            r"order_date, amount; did you mean 'amount'\?"
        ),
    ):
        read_table(path, columns=["customer_id", "amout"])


# ------------------------------------------------------------------------- encodings


GBK_ORDERS = (
    "customer_id,order_date,amount,category,region\n"
    "00012,2021-03-01,88,美妆,上海\n"
    "00013,2021-03-02,19.9,服装,北京\n"
)


def test_gbk_without_encoding_suggests_encoding(tmp_path):
    path = write(tmp_path / "data.csv", GBK_ORDERS, encoding="gbk")
    with pytest.raises(
        InputError,
        match=(
            r"^.*data\.csv: bytes at row ~1 are not valid UTF-8; pass "
            r"--encoding, e.g\. --encoding gbk or --encoding latin-1$"
        ),
    ):
        read_table(path)


def test_bad_bytes_far_into_the_file_are_located(tmp_path):
    body = "customer_id,order_date,amount\n" + "1,2021-03-01,5\n" * 30_000
    path = write(tmp_path / "data.csv", body.encode() + "2,2021-03-01,上海\n".encode("gbk"))
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: bytes at row ~30001 are not valid UTF-8; pass "
            r"--encoding"
        ),
    ):
        read_table(path)


def test_gbk_with_encoding_round_trips_chinese(tmp_path):
    path = write(tmp_path / "data.csv", GBK_ORDERS, encoding="gbk")
    raw = read_table(path, encoding="gbk")
    assert raw["category"].tolist() == ["美妆", "服装"]
    out = load_transactions(path, encoding="gbk")
    assert out["category"].tolist() == ["美妆", "服装"]
    assert out["region"].tolist() == ["上海", "北京"]
    assert out["customer_id"].tolist() == ["00012", "00013"]


def test_wrong_explicit_encoding(tmp_path):
    path = write(tmp_path / "data.csv", GBK_ORDERS, encoding="gbk")
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: bytes at row ~1 are not valid ascii; pass the file's "
            r"encoding with --encoding"
        ),
    ):
        read_table(path, encoding="ascii")


def test_utf8_bom(tmp_path):
    path = write(tmp_path / "data.csv", "\ufeff" + ORDERS)
    assert read_columns(path) == ["customer_id", "order_date", "amount"]
    out = load_transactions(path)
    assert out["customer_id"].tolist() == ["00012", "00013"]


def test_utf16_with_bom_is_detected(tmp_path):
    text = "customer_id\torder_date\tamount\tregion\n00012\t2021-03-01\t5\t上海\n"
    path = write(tmp_path / "data.txt", text, encoding="utf-16")
    assert read_table(path)["region"].tolist() == ["上海"]


# ------------------------------------------------------------------------- formats


def test_blank_lines_before_header_and_between_rows(tmp_path):
    path = write(tmp_path / "data.csv", b"\r\n  \r\ncustomer_id,amount\r\n1,2\r\n\r\n3,4\r\n")
    assert read_table(path).to_dict("list") == {"customer_id": ["1", "3"], "amount": ["2", "4"]}


def test_everything_is_text_and_leading_zeros_stay(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS + "00014,,\n")
    raw = read_table(path)
    assert all(dtype == pd.StringDtype() for dtype in raw.dtypes)
    assert raw["customer_id"].tolist() == ["00012", "00013", "00014"]
    assert raw["amount"].tolist() == ["10.5", "7", pd.NA]


def test_semicolon_delimiter_with_commas_in_values(tmp_path):
    text = (
        "customer_id;order_date;amount;product_name\n"
        "00012;2021-03-01;10.5;Mug, blue\n"
        "00013;2021-03-02;7;Tea\n"
    )
    path = write(tmp_path / "data.csv", text)
    raw = read_table(path)
    assert list(raw.columns) == ["customer_id", "order_date", "amount", "product_name"]
    assert raw["product_name"].tolist() == ["Mug, blue", "Tea"]


@pytest.mark.parametrize(
    ("name", "delimiter"), [("data.tsv", "\t"), ("data.txt", "|"), ("data.txt", "\t")]
)
def test_other_delimiters(tmp_path, name, delimiter):
    path = write(tmp_path / name, ORDERS.replace(",", delimiter))
    assert read_table(path)["amount"].tolist() == ["10.5", "7"]


def test_quoted_newlines_and_quotes(tmp_path):
    text = (
        "customer_id,order_date,amount,product_name\n"
        '1,2021-03-01,5,"two\nlines"\n'
        '2,2021-03-01,5,"7"" single, frame"\n'
    )
    path = write(tmp_path / "data.csv", text)
    assert read_table(path)["product_name"].tolist() == ["two\nlines", '7" single, frame']


def test_gzip(tmp_path):
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(ORDERS)
    out = load_transactions(path)
    assert out["customer_id"].tolist() == ["00012", "00013"]
    assert out["amount"].sum() == pytest.approx(17.5)


def test_broken_gzip(tmp_path):
    path = write(tmp_path / "data.csv.gz", "not gzip at all")
    with pytest.raises(InputError, match=r"data\.csv\.gz: cannot read \(Not a gzipped file"):
        read_table(path)


def test_columns_restricts_and_matches_loosely(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS)
    raw = read_table(path, columns=["AMOUNT", "customer_id"])
    assert list(raw.columns) == ["amount", "customer_id"]


def test_repeated_and_blank_header_names(tmp_path):
    path = write(tmp_path / "data.csv", "a,a,\n1,2,3\n")
    with pytest.warns(UserWarning, match=r"data\.csv: header repeats column 'a'"):
        assert read_columns(path) == ["a", "a.1", "column_3"]


def online_retail_ii_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Invoice": ["489434", "489434", "C489449"],
            "StockCode": ["85048", "79323P", "22087"],
            "Description": ["15CM CHRISTMAS GLASS BALL", "PINK CHERRY LIGHTS", "PAPER BUNTING"],
            "Quantity": [12, 12, -3],
            "InvoiceDate": pd.to_datetime(
                ["2009-12-01 07:45", "2009-12-01 07:45", "2009-12-01 10:33"]
            ),
            "Price": [6.95, 6.75, 2.1],
            "Customer ID": [13085.0, 13085.0, np.nan],
            "Country": ["United Kingdom", "United Kingdom", "Australia"],
        }
    )


def test_xlsx_with_online_retail_ii_preset(tmp_path):
    path = tmp_path / "online_retail_II.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(writer, sheet_name="About", index=False)
        online_retail_ii_frame().to_excel(writer, sheet_name="Year 2009-2010", index=False)
    out = load_transactions(path, columns="online_retail_ii", sheet="Year 2009-2010")
    assert out["customer_id"].tolist() == ["13085", "13085", pd.NA]
    assert out["order_id"].tolist() == ["489434", "489434", "C489449"]
    assert out["order_date"].iloc[2] == pd.Timestamp("2009-12-01 10:33")
    assert out["amount"].tolist() == pytest.approx([83.4, 81.0, -6.3])
    by_number = load_transactions(path, columns="online_retail_ii", sheet=1)
    pd.testing.assert_frame_equal(out, by_number)
    by_cli_text = load_transactions(path, columns="online_retail_ii", sheet="1")
    pd.testing.assert_frame_equal(out, by_cli_text)


def test_xlsx_missing_sheet(tmp_path):
    path = tmp_path / "data.xlsx"
    online_retail_ii_frame().to_excel(path, index=False, sheet_name="Year 2009-2010")
    with pytest.raises(
        InputError,
        match=(
            r"data\.xlsx: no sheet 'Year 2010-2011'; sheets are: 'Year "
            r"2009-2010'"
        ),
    ):
        read_table(path, sheet="Year 2010-2011")


def test_xlsx_header_only(tmp_path):
    path = tmp_path / "data.xlsx"
    pd.DataFrame({"customer_id": []}).to_excel(path, index=False)
    with pytest.raises(
        InputError, match=(r"data\.xlsx: the first sheet has a header but no data rows")
    ):
        read_table(path)


def test_unreadable_excel(tmp_path):
    path = write(tmp_path / "data.xlsx", "this is not a workbook")
    with pytest.raises(InputError, match=r"data\.xlsx: cannot read as Excel \("):
        read_table(path)


def test_xls_needs_xlrd(tmp_path):
    path = write(tmp_path / "data.xls", b"\xd0\xcf\x11\xe0 old excel")
    try:
        import xlrd  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match=r"data\.xls: reading \.xls needs the xlrd package"):
            read_table(path)
    else:
        with pytest.raises(InputError, match=r"data\.xls: cannot read as Excel"):
            read_table(path)


def test_parquet_typed_columns_become_text_then_canonical(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame(
        {
            "customer_id": ["00012", "00013", None],
            "order_date": pd.to_datetime(
                ["2021-03-01 08:26", "2021-03-02 00:00", "2021-03-03 00:00"]
            ),
            "quantity": [2, 1, 3],
            "unit_price": [0.1, 2.55, 1.0],
        }
    ).to_parquet(path)
    raw = read_table(path)
    assert all(dtype == pd.StringDtype() for dtype in raw.dtypes)
    assert raw["order_date"].iloc[0] == "2021-03-01 08:26:00"
    out = load_transactions(path)
    assert out["customer_id"].tolist() == ["00012", "00013", pd.NA]
    assert out["amount"].tolist() == pytest.approx([0.2, 2.55, 3.0])
    assert out["order_date"].iloc[0] == pd.Timestamp("2021-03-01 08:26")


def test_unreadable_parquet(tmp_path):
    path = write(tmp_path / "data.parquet", "this is not parquet")
    with pytest.raises(InputError, match=r"data\.parquet: cannot read as Parquet \("):
        read_table(path)


def test_input_file_is_not_modified(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS)
    before = (sha256_file(path), os.stat(path).st_mtime_ns)
    load_transactions(path)
    assert (sha256_file(path), os.stat(path).st_mtime_ns) == before


def test_sha256_file(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS)
    assert sha256_file(path, chunk_size=7) == hashlib.sha256(ORDERS.encode()).hexdigest()
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        sha256_file(tmp_path / "nope.csv")


# ------------------------------------------------------------------------- loading


UCI_STYLE = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
    "C536379,D,Discount,-1,12/13/2010 9:41,27.5,14527,United Kingdom\n"
    "536414,22139,,56,12/1/2010 11:52,0,,United Kingdom\n"
)


def test_load_with_preset_derives_amount(tmp_path):
    path = write(tmp_path / "data.csv", UCI_STYLE)
    out = load_transactions(path, columns="online_retail")
    assert list(out.columns) == [
        "customer_id",
        "order_date",
        "amount",
        "quantity",
        "unit_price",
        "order_id",
        "product_id",
        "product_name",
        "country",
    ]
    assert out["amount"].tolist() == pytest.approx([15.3, -27.5, 0.0])
    assert out["order_date"].tolist()[:2] == [
        pd.Timestamp("2010-12-01 08:26"),
        pd.Timestamp("2010-12-13 09:41"),
    ]
    assert out["customer_id"].isna().sum() == 1


def test_load_missing_mapped_column_suggests(tmp_path):
    path = write(tmp_path / "data.csv", UCI_STYLE)
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: column 'Customer Id' \(mapped to customer_id\) not "
            r"found; columns are: InvoiceNo, StockCode, .*, CustomerID, "
            r"Country; did you mean 'CustomerID'\?"
        ),
    ):
        load_transactions(
            path, columns="customer_id=Customer Id,order_date=InvoiceDate,amount=UnitPrice"
        )


def test_load_missing_required_columns_points_at_preset(tmp_path):
    path = write(tmp_path / "data.csv", UCI_STYLE)
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: required transactions columns 'customer_id', "
            r"'order_date', 'amount' \(or 'quantity' and 'unit_price'\) are "
            r"missing; columns are: InvoiceNo, .*; these look like the "
            r"'online_retail' columns: --columns online_retail$"
        ),
    ):
        load_transactions(path)


def test_load_missing_required_column_suggests_close_name(tmp_path):
    path = write(tmp_path / "data.csv", "CustomerID,OrderDate,Total\n1,2021-03-01,5\n")
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: required transactions columns 'order_date', 'amount' "
            r".* are missing; columns are: CustomerID, OrderDate, Total; "
            r".*\(perhaps --columns order_date=OrderDate\)"
        ),
    ):
        load_transactions(path, columns="customer_id=CustomerID")


def test_load_bad_mapping_key(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS)
    with pytest.raises(
        ConfigError, match=(r"unknown canonical column 'ammount' \(did you mean 'amount'\?\)")
    ):
        load_transactions(path, columns="ammount=amount")


def test_load_text_amounts(tmp_path):
    path = write(
        tmp_path / "data.csv",
        'customer_id,order_date,Total\n1,2021-03-01,"12,50 EUR"\n2,2021-03-01,3\n',
    )
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: column 'Total' \(amount\) has 1 value that is not a "
            r"number \(row 1: '12,50 EUR'\)"
        ),
    ):
        load_transactions(path, columns="amount=Total")


def test_load_bad_dates_fail_and_drop(tmp_path):
    rows = "".join(f"{i},2021-03-01,5\n" for i in range(150)) + "150,someday,5\n"
    path = write(tmp_path / "data.csv", "customer_id,InvoiceDate,amount\n" + rows)
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: column 'InvoiceDate' \(order_date\) has 1 value that "
            r"is not a date \(row 151: 'someday'\); .*--bad-dates drop"
        ),
    ):
        load_transactions(path, columns="order_date=InvoiceDate")
    with pytest.warns(
        UserWarning, match=(r"data\.csv: dropped 1 of 151 rows .* \(row 151: 'someday'\)")
    ):
        out = load_transactions(path, columns="order_date=InvoiceDate", bad_dates="drop")
    assert len(out) == 150


def test_load_bad_dates_option(tmp_path):
    path = write(tmp_path / "data.csv", ORDERS)
    with pytest.raises(ConfigError, match=r"bad_dates='ignore' should be 'fail' or 'drop'"):
        load_transactions(path, bad_dates="ignore")


def test_load_customers_with_mapping(tmp_path):
    text = "Kunde,Zustimmung,Stadt\n00012,yes,上海\n00013,no,北京\n"
    path = write(tmp_path / "customers.csv", text)
    out = load_customers(
        path, columns={"customer_id": "Kunde", "contact_consent": "Zustimmung", "city": "Stadt"}
    )
    assert out["customer_id"].tolist() == ["00012", "00013"]
    assert out["contact_consent"].tolist() == [True, False]
    assert out["city"].tolist() == ["上海", "北京"]


def test_load_customers_without_id(tmp_path):
    path = write(tmp_path / "customers.csv", "Kunde,age\n1,30\n")
    with pytest.raises(
        InputError,
        match=(
            r"customers\.csv: required customers column 'customer_id' is "
            r"missing; columns are: Kunde, age; map it with "
            r"--customer-columns customer_id=<column>"
        ),
    ):
        load_customers(path)


@pytest.mark.skipif(not SHARED_RETAIL.exists(), reason="shared UCI Online Retail file not present")
def test_real_online_retail_file():
    out = load_transactions(SHARED_RETAIL, columns="online_retail")
    assert len(out) == 541_909
    assert out["amount"].sum() == pytest.approx(9_747_747.93, abs=0.01)
    assert out["customer_id"].isna().sum() == 135_080
    assert out["order_date"].min() == pd.Timestamp("2010-12-01 08:26")
    assert out["order_date"].max() == pd.Timestamp("2011-12-09 12:50")
    assert out["order_id"].str.startswith("C").sum() == 9_288


# ----------------------------------------------------------- European files, repeats

EUROPEAN = (
    "Kunde;Datum;Betrag;Menge\n"
    "K1;02/01/2011;1.234,50;1\n"
    "K2;13/01/2011;10,50;2\n"
    "K3;05/02/2011;-3;1.000\n"
    "K1;11/02/2011 14:05;0,5;3\n"
)
EUROPEAN_COLUMNS = "customer_id=Kunde,order_date=Datum,amount=Betrag,quantity=Menge"


def test_european_csv_with_decimal_comma_and_day_first_dates(tmp_path):
    path = write(tmp_path / "eu.csv", EUROPEAN)
    with pytest.warns(UserWarning, match=r"'Menge' \(quantity\) has no value with a decimal"):
        orders = load_transactions(path, columns=EUROPEAN_COLUMNS, decimal=",", dayfirst=True)
    assert orders["amount"].tolist() == [1234.5, 10.5, -3.0, 0.5]
    assert orders["quantity"].tolist() == [1.0, 2.0, 1000.0, 3.0]
    assert orders["order_date"].tolist() == [
        pd.Timestamp("2011-01-02"), pd.Timestamp("2011-01-13"),
        pd.Timestamp("2011-02-05"), pd.Timestamp("2011-02-11 14:05"),
    ]


def test_european_csv_without_decimal_option_points_at_it(tmp_path):
    path = write(tmp_path / "eu.csv", EUROPEAN)
    with pytest.raises(InputError, match=r"eu\.csv: column 'Betrag' \(amount\) has 3 values "
                       r"that are not numbers \(row 1: '1\.234,50'.*pass --decimal ','"):
        load_transactions(path, columns=EUROPEAN_COLUMNS)


def test_decimal_comma_never_guesses_at_a_dot(tmp_path):
    # With a decimal comma a dot separates thousands only: 10.5 is not 105 nor 10.5.
    path = write(tmp_path / "o.csv", "customer_id;order_date;amount\nA;2011-01-01;10.5\n")
    with pytest.raises(InputError, match=r"'amount' has 1 value that is not a number "
                       r"\(row 1: '10\.5'\); with --decimal ','"):
        load_transactions(path, decimal=",")


def test_day_first_is_strict(tmp_path):
    # Without --dayfirst a column that reads either way is month first (with a warning);
    # with it, day first, and a month-first date is an error, not a silent swap.
    path = write(tmp_path / "o.csv", "customer_id,order_date,amount\nA,02/01/2011,1\n")
    with pytest.warns(UserWarning, match="month/day"):
        assert load_transactions(path)["order_date"].iat[0] == pd.Timestamp("2011-02-01")
    assert load_transactions(path, dayfirst=True)["order_date"].iat[0] == pd.Timestamp(
        "2011-01-02")
    us = write(tmp_path / "us.csv", "customer_id,order_date,amount\nA,12/31/2011,1\n")
    with pytest.raises(InputError, match=r"not a date \(read day first, as --dayfirst asks\)"):
        load_transactions(us, dayfirst=True)


def test_decimal_option_is_checked(tmp_path):
    path = write(tmp_path / "o.csv", ORDERS)
    with pytest.raises(ConfigError, match=r"decimal=';' should be '\.' or ','"):
        load_transactions(path, decimal=";")
    frame = pd.DataFrame({"customer_id": ["A"], "order_date": ["2011-01-01"], "amount": [1.5]})
    frame.to_parquet(tmp_path / "o.parquet")
    with pytest.raises(ConfigError, match=r"--decimal ',' applies to CSV and text files; "
                       r".*o\.parquet stores numbers as numbers"):
        load_transactions(tmp_path / "o.parquet", decimal=",")


@pytest.mark.parametrize(
    ("header", "columns", "message"),
    [
        ("customer_id,order_date,amount,amount", None,
         r"header repeats column 'amount'; which one holds the amount"),
        ("Kunde,order_date,Total,Kunde", "customer_id=Kunde,amount=Total",
         r"header repeats column 'Kunde' \(mapped to customer_id\)"),
    ],
)
def test_repeated_mapped_header_is_an_error(tmp_path, header, columns, message):
    path = write(tmp_path / "data.csv", f"{header}\nA,2011-01-01,3,4\n")
    with pytest.raises(InputError, match=r"^.*data\.csv: " + message):
        load_transactions(path, columns=columns)


def test_repeated_unused_header_is_fine(tmp_path):
    path = write(tmp_path / "data.csv",
                 "customer_id,order_date,amount,note,note\nA,2011-01-01,3,x,y\n")
    assert load_transactions(path)["amount"].tolist() == [3.0]


def test_repeated_mapped_header_in_a_workbook(tmp_path):
    path = tmp_path / "data.xlsx"
    frame = pd.DataFrame([["A", "2011-01-01", 3, 4]],
                         columns=["customer_id", "order_date", "amount", "amount"])
    frame.to_excel(path, index=False)
    with pytest.raises(InputError, match=r"data\.xlsx: header repeats column 'amount'"):
        load_transactions(path)


def test_sheet_names_and_check_sheet(tmp_path):
    from seglab.io import check_sheet, sheet_names

    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"a": [1]}).to_excel(writer, sheet_name="Orders", index=False)
        pd.DataFrame({"a": [1]}).to_excel(writer, sheet_name="Notes", index=False)
    assert sheet_names(path) == ["Orders", "Notes"]
    check_sheet(path, "Notes")
    check_sheet(path, "1")
    check_sheet(path, None)
    with pytest.raises(InputError, match=r"book\.xlsx: no sheet '2'; sheets are: 'Orders', "
                       r"'Notes'"):
        check_sheet(path, "2")
    broken = write(tmp_path / "broken.xlsx", "not a workbook")
    with pytest.raises(InputError, match=r"broken\.xlsx: cannot read as Excel"):
        sheet_names(broken)
