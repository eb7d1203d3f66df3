"""What a log can answer (seglab.support) and the logs refused before anything runs."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from seglab import study, support
from seglab.cli import app

runner = CliRunner()


def log(rows: list[tuple[str, str, float]], **columns) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["order_date"] = pd.to_datetime(frame["order_date"], format="ISO8601")
    return frame.assign(**columns)


def test_support_counts_span_repeat_buyers_and_present_columns():
    tx = log([("a", "2024-01-01 10:00", 5), ("a", "2024-01-01 18:00", 3),
              ("a", "2024-02-01", 4), ("b", "2024-03-01", 2), (None, "2024-03-02", 1),
              ("b", "2024-05-01", 9)],
             channel=["web"] * 6, store=[None] * 6)
    found = support.DataSupport.of(tx, as_of=pd.Timestamp("2024-04-01"))
    # The May line is after the analysis day: out. Two purchases of one day are one.
    assert found.lines == 5
    assert found.customers == 2
    assert found.repeat_customers == 1
    assert found.span_days == 91  # 2024-01-01 to 2024-04-01, as lifetimes' T
    assert found.columns == ("channel",)  # store is there but empty
    assert found.has("channel") and not found.has("store") and not found.has_any("store", "region")
    assert support.DataSupport.from_json(found.to_json()) == found


def test_derived_order_ids_are_one_per_customer_per_day_and_clear_of_rule_prefixes():
    tx = log([("C1", "2024-01-01 10:00", 5), ("C1", "2024-01-01 18:00", 3),
              ("C1", "2024-01-02", 4), ("A2", "2024-01-01", 2), (None, "2024-01-01", 1)])
    ids = support.derive_order_ids(tx)
    assert ids.iloc[0] == ids.iloc[1] != ids.iloc[2]
    assert ids.iloc[0] != ids.iloc[3]
    assert pd.isna(ids.iloc[4])
    # Cancellations start with C and adjustments with A; derived ids must not.
    assert not ids.dropna().str.match(r"^[CA]").any()


@pytest.mark.parametrize(("span", "days", "share", "expected"),
                         [(730, 180, 1 / 3, 180), (90, 180, 1 / 3, 30), (30, 180, 1 / 3, 0),
                          (365, 180, 1 / 2, 180), (90, 180, 1 / 2, 45)])
def test_fit_days_shrinks_to_the_span_or_gives_up(span, days, share, expected):
    found = support.DataSupport((), (), 10, 5, 2, span, 10)
    assert found.fit_days(days, share=share) == expected


def test_notes_name_what_is_missing_and_sections_record_their_status():
    found = support.DataSupport(("channel",), ("order_id",), 10, 5, 2, 100, 10)
    assert "one order per customer per day" in found.order_note()
    assert found.missing_note(("channel", "region"), "sub-segments") == ""
    note = found.missing_note(("product_id", "category"), "what sells")
    assert note == ("Skipped: what sells needs a column product_id or category, and this log "
                    "has none.")
    assert support.section_notes({"a": "", "b": note, "c": "Shrunk."}) == {
        "a": {"status": "ran"}, "b": {"status": "skipped", "note": note},
        "c": {"status": "adapted", "note": "Shrunk."}}


def test_staging_a_log_without_order_ids_derives_them(tmp_path):
    tx = log([(f"c{i}", f"2024-01-{1 + i % 20:02d}", 5.0) for i in range(40)]
             + [(f"c{i}", "2024-02-10", 7.0) for i in range(12)])
    path = tmp_path / "orders.csv"
    tx.to_csv(path, index=False)
    inputs = study.stage_inputs(tmp_path / "run", data=path)
    assert inputs.support.derived == ("order_id",)
    assert inputs.support.repeat_customers == 12
    assert inputs.transactions["order_id"].str.startswith(support.DERIVED_ORDER_PREFIX).all()
    assert study.load_inputs(tmp_path / "run").support == inputs.support


def csv_log(tmp_path, rows) -> str:
    path = tmp_path / "orders.csv"
    log(rows).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(("rows", "args", "message"), [
    ([(f"c{i}", "2024-03-01", 5.0) for i in range(40)], ["--as-of", "2024-01-01"],
     "orders.csv: no line is dated on or before the analysis date 2024-01-01 (column "
     "order_date); use a later --as-of."),
    ([(f"c{i}", "2024-03-01", -5.0) for i in range(40)], [],
     "orders.csv: every line up to 2024-03-02 is a return (column amount is never positive); "
     "there are no purchases to study."),
    ([(f"c{i}", f"2024-03-{1 + i:02d}", 5.0) for i in range(25)]
     + [(f"d{i}", "2024-06-01", 5.0) for i in range(25)], ["--as-of", "2024-04-01"],
     "orders.csv: column customer_id has 25 distinct customers up to 2024-04-01; a "
     "segmentation needs at least 30"),
])
def test_a_log_that_leaves_nothing_to_study_is_refused_before_anything_runs(
        tmp_path, rows, args, message):
    out = tmp_path / "reports"
    result = runner.invoke(app, ["run", "--data", csv_log(tmp_path, rows), "--out", str(out),
                                 *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"seglab: error: {message}")
    assert "Traceback" not in result.output
    assert not [p for p in out.glob("*") if not p.name.startswith(".")]  # no run folder
