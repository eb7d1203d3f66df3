"""Tests for seglab.schema: column mappings, canonical names and validation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from seglab.errors import ConfigError, DataWarning, InputError
from seglab.schema import (
    CUSTOMER_COLUMNS,
    SOURCE_COLUMNS_ATTR,
    TRANSACTION_COLUMNS,
    apply_column_mapping,
    find_column,
    mapping_presets,
    parse_column_mapping,
    validate_customers,
    validate_transactions,
)


def text_frame(**columns: list[object]) -> pd.DataFrame:
    """A frame of text columns, as read_table returns them."""
    return pd.DataFrame(
        {name: pd.array(values, dtype="string") for name, values in columns.items()}
    )


# ------------------------------------------------------------------ parse_column_mapping


def test_parse_pairs_strips_spaces_and_keeps_inner_spaces():
    spec = " customer_id = Customer ID, order_date=InvoiceDate,amount=Total, "
    assert parse_column_mapping(spec) == {
        "customer_id": "Customer ID",
        "order_date": "InvoiceDate",
        "amount": "Total",
    }


@pytest.mark.parametrize("spec", [None, "", "   "])
def test_parse_empty_spec_is_no_mapping(spec):
    assert parse_column_mapping(spec) == {}


def test_parse_dict_spec():
    assert parse_column_mapping({"customer_id": "Kunde"}) == {"customer_id": "Kunde"}


def test_presets_are_bundled():
    assert mapping_presets() == ["online_retail", "online_retail_ii"]
    uci = parse_column_mapping("online_retail")
    assert uci == {
        "order_id": "InvoiceNo",
        "product_id": "StockCode",
        "product_name": "Description",
        "quantity": "Quantity",
        "order_date": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
        "country": "Country",
    }
    ii = parse_column_mapping("online_retail_ii")
    assert ii["customer_id"] == "Customer ID"
    assert ii["unit_price"] == "Price"
    assert ii["order_id"] == "Invoice"


def test_parse_yaml_file_with_and_without_columns_key(tmp_path):
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        "description: shop export\ncolumns:\n  customer_id: Kunde\n  amount: Umsatz\n"
    )
    flat = tmp_path / "flat.yml"
    flat.write_text("customer_id: Kunde\norder_date: Datum\n")
    assert parse_column_mapping(nested) == {"customer_id": "Kunde", "amount": "Umsatz"}
    assert parse_column_mapping(str(flat)) == {"customer_id": "Kunde", "order_date": "Datum"}


def test_bad_mapping_key_suggests_closest_name():
    with pytest.raises(
        ConfigError,
        match=(
            r"unknown canonical column 'custmer_id' \(did you mean "
            r"'customer_id'\?\); valid names are: customer_id, order_date"
        ),
    ):
        parse_column_mapping("custmer_id=CustomerID")


def test_bad_mapping_key_in_yaml_names_the_file(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("columns:\n  ammount: Total\n")
    with pytest.raises(
        ConfigError,
        match=(
            r"map\.yaml: unknown canonical column 'ammount' \(did you mean "
            r"'amount'\?\)"
        ),
    ):
        parse_column_mapping(path)


def test_malformed_pair_is_quoted():
    with pytest.raises(ConfigError, match=r"column mapping: 'order_date' is not canonical=source"):
        parse_column_mapping("customer_id=CustomerID,order_date")


def test_empty_source_name():
    with pytest.raises(ConfigError, match=r"'amount' is mapped to an empty column name"):
        parse_column_mapping({"amount": " "})


def test_key_mapped_twice():
    with pytest.raises(ConfigError, match=r"'amount' is mapped twice \('Total' and 'Sum'\)"):
        parse_column_mapping("amount=Total,amount=Sum")


def test_unknown_preset_suggests_closest():
    with pytest.raises(
        ConfigError,
        match=(
            r"'online_retial' is neither .* did you mean the preset "
            r"'online_retail'\?"
        ),
    ):
        parse_column_mapping("online_retial")


def test_missing_yaml_file():
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: no such column-mapping file"):
        parse_column_mapping("nowhere.yaml")


def test_yaml_file_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- customer_id\n- amount\n")
    with pytest.raises(
        ConfigError,
        match=(
            r"list\.yaml: a column-mapping file must hold canonical: source "
            r"pairs"
        ),
    ):
        parse_column_mapping(path)


def test_yaml_file_with_syntax_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("columns: [customer_id\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML \(.* at line \d+\)"):
        parse_column_mapping(path)


# ------------------------------------------------------------------ apply_column_mapping


def test_find_column_exact_then_case_and_space_insensitive():
    assert find_column("CustomerID", ["customerid", "CustomerID"]) == "CustomerID"
    assert find_column("customer id", ["Invoice", " Customer  ID "]) == " Customer  ID "
    assert find_column("Customer Id", ["CustomerID"]) is None


def test_apply_mapping_renames_keeps_canonical_and_drops_the_rest():
    raw = text_frame(
        InvoiceNo=["1"], CustomerID=["00012"], amount=["5"], Notes=["x"], Day=["2021-03-01"]
    )
    before = raw.copy()
    out = apply_column_mapping(
        raw,
        {"customer_id": "customerid", "order_date": "Day", "order_id": "InvoiceNo"},
        source="data.csv",
        kind="transactions",
    )
    assert list(out.columns) == ["customer_id", "order_date", "amount", "order_id"]
    assert out["customer_id"].tolist() == ["00012"]
    assert out.attrs[SOURCE_COLUMNS_ATTR]["customer_id"] == "CustomerID"
    pd.testing.assert_frame_equal(raw, before)


def test_missing_mapped_column_suggests_closest():
    raw = text_frame(InvoiceNo=["1"], InvoiceDate=["2021-03-01"], CustomerID=["7"])
    with pytest.raises(
        InputError,
        match=(
            r"^data\.csv: column 'Customer Id' \(mapped to customer_id\) not "
            r"found; columns are: InvoiceNo, InvoiceDate, CustomerID; did you "
            r"mean 'CustomerID'\?$"
        ),
    ):
        apply_column_mapping(
            raw, {"customer_id": "Customer Id"}, source="data.csv", kind="transactions"
        )


def test_mapping_a_column_of_the_other_table():
    raw = text_frame(Age=["30"])
    with pytest.raises(ConfigError, match=r"data\.csv: 'age' is not a transactions column"):
        apply_column_mapping(raw, {"age": "Age"}, source="data.csv", kind="transactions")


# ------------------------------------------------------------------ validate_transactions


def test_validate_types_every_kind_and_does_not_mutate():
    raw = text_frame(
        customer_id=[" 00012 ", "", None, "A-7"],
        order_date=["2021-03-01 08:26:00", "2021-03-02", None, "2021-03-04T10:00"],
        amount=["10.5", " 3 ", None, "-1e2"],
        product_name=[" Mug ", "Tea", None, ""],
    )
    before = raw.copy()
    out = validate_transactions(raw, source="data.csv")
    assert out.dtypes.to_dict() == {
        "customer_id": pd.StringDtype(),
        "order_date": np.dtype("datetime64[ns]"),
        "amount": np.dtype("float64"),
        "product_name": pd.StringDtype(),
    }
    assert out["customer_id"].tolist() == ["00012", pd.NA, pd.NA, "A-7"]
    assert out["amount"].tolist()[:2] == [10.5, 3.0]
    assert out["amount"].iloc[3] == -100.0
    assert out["order_date"].iloc[0] == pd.Timestamp("2021-03-01 08:26")
    assert pd.isna(out["order_date"].iloc[2])
    assert out["product_name"].iloc[0] == " Mug "  # text is left for cleaning to report
    pd.testing.assert_frame_equal(raw, before)


def test_ids_keep_leading_zeros_and_lose_float_suffix():
    zeros = validate_transactions(
        text_frame(customer_id=["00012", "012"], order_date=["2021-03-01"] * 2, amount=["1", "2"]),
        source="x.csv",
    )
    assert zeros["customer_id"].tolist() == ["00012", "012"]
    floats = validate_transactions(
        text_frame(
            customer_id=["12346.0", "7.0", None], order_date=["2021-03-01"] * 3, amount=["1"] * 3
        ),
        source="x.csv",
    )
    assert floats["customer_id"].tolist() == ["12346", "7", pd.NA]
    typed = validate_transactions(
        pd.DataFrame(
            {"customer_id": [12346.0, np.nan], "order_date": ["2021-03-01"] * 2, "amount": [1, 2]}
        ),
        source="x.csv",
    )
    assert typed["customer_id"].tolist() == ["12346", pd.NA]


def test_amount_derived_from_quantity_and_unit_price():
    raw = text_frame(
        customer_id=["1", "2"],
        order_date=["2021-03-01"] * 2,
        quantity=["6", "-2"],
        unit_price=["2.5", "1.25"],
    )
    out = validate_transactions(raw, source="x.csv")
    assert list(out.columns) == ["customer_id", "order_date", "amount", "quantity", "unit_price"]
    assert out["amount"].tolist() == [15.0, -2.5]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/1/2010 8:26", "2010-12-01 08:26"),
        ("12/13/2010 17:05", "2010-12-13 17:05"),
        ("2010-12-01T08:26:00", "2010-12-01 08:26"),
        ("2010-12-01 08:26:00+01:00", "2010-12-01 07:26"),
        ("40513.35", "2010-12-01 08:24"),
        ("2010年12月1日", "2010-12-01"),
        ("1 Dec 2010", "2010-12-01"),
    ],
)
def test_date_formats(text, expected):
    raw = text_frame(customer_id=["1", "2"], order_date=[text, "12/31/2010"], amount=["1", "1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = validate_transactions(raw, source="x.csv")
    assert out["order_date"].iloc[0] == pd.Timestamp(expected)


def test_day_first_column_is_read_day_first():
    raw = text_frame(
        customer_id=["1", "2"], order_date=["1/2/2011", "13/4/2011"], amount=["1", "1"]
    )
    out = validate_transactions(raw, source="x.csv")
    assert out["order_date"].tolist() == [pd.Timestamp("2011-02-01"), pd.Timestamp("2011-04-13")]


def test_ambiguous_day_month_warns():
    raw = text_frame(customer_id=["1", "2"], order_date=["1/2/2011", "3/4/2011"], amount=["1", "1"])
    with pytest.warns(
        DataWarning,
        match=(
            r"x\.csv: column 'order_date' has dates such as '1/2/2011' that "
            r"could be month/day or day/month"
        ),
    ):
        out = validate_transactions(raw, source="x.csv")
    assert out["order_date"].iloc[0] == pd.Timestamp("2011-01-02")


def test_missing_required_column_lists_existing_columns():
    raw = text_frame(customer_id=["1"], amount=["2"])
    with pytest.raises(
        InputError,
        match=(
            r"^data\.csv: required transactions column 'order_date' is "
            r"missing; columns are: customer_id, amount; map it with "
            r"--columns order_date=<column>$"
        ),
    ):
        validate_transactions(raw, source="data.csv")


def test_missing_amount_and_its_parts():
    raw = text_frame(customer_id=["1"], order_date=["2021-03-01"], quantity=["2"])
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: required transactions column 'amount' \(or "
            r"'quantity' and 'unit_price'\) is missing"
        ),
    ):
        validate_transactions(raw, source="data.csv")


def test_text_amounts_name_rows_and_values():
    raw = text_frame(
        customer_id=["1", "2", "3", "4"],
        order_date=["2021-03-01"] * 4,
        amount=["12,50 EUR", "3", "n/a", "1,234.50"],
    )
    raw.attrs[SOURCE_COLUMNS_ATTR] = {"amount": "Total"}
    with pytest.raises(
        InputError,
        match=(
            r"^data\.csv: column 'Total' \(amount\) has 3 values that are not "
            r"numbers \(row 1: '12,50 EUR', row 3: 'n/a', row 4: "
            r"'1,234.50'\); write plain numbers"
        ),
    ):
        validate_transactions(raw, source="data.csv")


def test_unparseable_dates_fail_with_row_numbers():
    raw = text_frame(
        customer_id=["1", "2", "3", "4"],
        order_date=["2021-03-01", "soon", "2021-13-45", None],
        amount=["1"] * 4,
    )
    with pytest.raises(
        InputError,
        match=(
            r"^data\.csv: column 'order_date' has 2 values that are not dates "
            r"\(row 2: 'soon', row 3: '2021-13-45'\); .* --bad-dates drop$"
        ),
    ):
        validate_transactions(raw, source="data.csv")


def test_unparseable_dates_dropped_with_warning():
    dates = ["2021-03-01"] * 199 + ["soon"]
    raw = text_frame(customer_id=[str(i) for i in range(200)], order_date=dates, amount=["1"] * 200)
    with pytest.warns(
        DataWarning,
        match=(
            r"data\.csv: dropped 1 of 200 rows \(0\.50%\) whose column "
            r"'order_date' is not a date \(row 200: 'soon'\)"
        ),
    ):
        out = validate_transactions(raw, source="data.csv", bad_dates="drop")
    assert len(out) == 199
    assert out["order_date"].notna().all()
    assert out.index[-1] == 198


def test_dropping_too_many_dates_fails():
    raw = text_frame(
        customer_id=["1", "2", "3", "4"],
        order_date=["2021-03-01", "soon", "later", "2021-03-02"],
        amount=["1"] * 4,
    )
    with pytest.raises(
        InputError,
        match=(
            r"data\.csv: column 'order_date' has values that are not dates in "
            r"2 of 4 rows \(50\.0%\) \(row 2: 'soon', row 3: 'later'\), more "
            r"than the 1\.0% that --bad-dates drop may remove"
        ),
    ):
        validate_transactions(raw, source="data.csv", bad_dates="drop")


def test_bad_dates_option_is_checked():
    raw = text_frame(customer_id=["1"], order_date=["2021-03-01"], amount=["1"])
    with pytest.raises(ConfigError, match=r"bad_dates='skip' should be 'fail' or 'drop'"):
        validate_transactions(raw, source="data.csv", bad_dates="skip")
    with pytest.raises(ConfigError, match=r"max_bad_fraction=2 should be between 0 and 1"):
        validate_transactions(raw, source="data.csv", max_bad_fraction=2)


def test_non_canonical_columns_are_dropped_with_warning():
    raw = text_frame(customer_id=["1"], order_date=["2021-03-01"], amount=["1"], Notes=["x"])
    with pytest.warns(
        DataWarning,
        match=(
            r"x\.csv: ignoring columns that are not transactions columns: "
            r"Notes"
        ),
    ):
        out = validate_transactions(raw, source="x.csv")
    assert "Notes" not in out.columns


def test_missing_customer_ids_are_not_an_error():
    raw = text_frame(customer_id=[None, "", "7"], order_date=["2021-03-01"] * 3, amount=["1"] * 3)
    out = validate_transactions(raw, source="x.csv")
    assert out["customer_id"].isna().sum() == 2


# ------------------------------------------------------------------ validate_customers


def test_validate_customers_types_bool_and_numbers():
    raw = text_frame(
        customer_id=["00012", "2", "3", "4"],
        contact_consent=["Yes", "n", None, "1"],
        age=["30", "", None, "41"],
        signup_date=["2020-01-01", None, "", "2021-05-06"],
        city=["上海", "北京", None, "Köln"],
    )
    out = validate_customers(raw, source="customers.csv")
    assert list(out.columns) == [c for c in CUSTOMER_COLUMNS if c in raw.columns]
    assert out["contact_consent"].dtype == pd.BooleanDtype()
    assert out["contact_consent"].tolist() == [True, False, pd.NA, True]
    assert out["age"].iloc[0] == 30.0
    assert out["city"].tolist()[:2] == ["上海", "北京"]
    assert out["customer_id"].iloc[0] == "00012"


def test_customers_bool_not_yes_no():
    raw = text_frame(customer_id=["1", "2"], contact_consent=["yes", "maybe"])
    with pytest.raises(
        InputError,
        match=(
            r"^customers\.csv: column 'contact_consent' has 1 value that is "
            r"not yes/no \(row 2: 'maybe'\)"
        ),
    ):
        validate_customers(raw, source="customers.csv")


def test_customers_repeated_ids():
    raw = text_frame(customer_id=["00012", "7", "00012 "])
    with pytest.raises(
        InputError,
        match=(
            r"^customers\.csv: column 'customer_id' has 1 id that is repeated "
            r"\(row 3: '00012 '\); the customers table needs one row per "
            r"customer$"
        ),
    ):
        validate_customers(raw, source="customers.csv")


def test_customers_need_an_id():
    raw = text_frame(Kunde=["1"], age=["30"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(
            InputError,
            match=(
                r"customers\.csv: required customers column 'customer_id' is "
                r"missing; columns are: Kunde, age; map it with "
                r"--customer-columns customer_id=<column>"
            ),
        ):
            validate_customers(raw, source="customers.csv")


def test_canonical_constants_unchanged():
    assert TRANSACTION_COLUMNS["customer_id"] == "id"
    assert CUSTOMER_COLUMNS["contact_consent"] == "bool"


# ------------------------------------------------------------- decimal comma, as-of


@pytest.mark.parametrize(
    ("text", "number"),
    [("10,50", 10.5), ("1.234,50", 1234.5), ("1 234,5", 1234.5), ("1\u00a0234", 1234.0),
     ("-1.234.567,891", -1234567.891), ("+7", 7.0), (",5", 0.5), ("12", 12.0)],
)
def test_decimal_comma_numbers(text, number):
    frame = pd.DataFrame({"customer_id": ["A", "B"], "order_date": ["2011-01-01"] * 2,
                          "amount": [text, "0,0"]})
    out = validate_transactions(frame, source="eu.csv", decimal=",")
    assert out["amount"].iat[0] == pytest.approx(number, rel=0, abs=1e-12)


@pytest.mark.parametrize("text", ["10.5", "1.23,4", "1.2345", "1,234.5", "1.234 567", "1,2,3",
                                  "12 EUR", ","])
def test_decimal_comma_rejects_what_it_cannot_read_for_sure(text):
    frame = pd.DataFrame({"customer_id": ["A"], "order_date": ["2011-01-01"], "amount": [text]})
    with pytest.raises(InputError, match=r"^eu\.csv: column 'amount' has 1 value that is not "
                       r"a number .*with --decimal ','"):
        validate_transactions(frame, source="eu.csv", decimal=",")


def test_decimal_point_file_with_comma_numbers_suggests_the_option():
    frame = pd.DataFrame({"customer_id": ["A", "B"], "order_date": ["2011-01-01"] * 2,
                          "amount": ["10,50", "1.234,5"]})
    with pytest.raises(InputError, match=r"look like numbers with a decimal comma: "
                       r"pass --decimal ','"):
        validate_transactions(frame, source="eu.csv")


def test_unknown_decimal_mark():
    frame = pd.DataFrame({"customer_id": ["A"], "order_date": ["2011-01-01"], "amount": ["1"]})
    with pytest.raises(ConfigError, match=r"decimal=';' should be '\.' or ','"):
        validate_customers(frame[["customer_id"]], source="c.csv", decimal=";")
