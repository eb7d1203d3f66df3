"""The run's index and notebook pages in the report's language; the data dictionary."""

from __future__ import annotations

import re

import nbformat
import pandas as pd

from seglab import i18n, report
from seglab.report import data_dictionary
from seglab.run import NOTEBOOKS

CJK = re.compile(r"[\u4e00-\u9fff]")


def _manifest() -> dict:
    return {"run_id": "r1", "status": "succeeded", "versions": {"seglab": "0.1.0"},
            "parameters": {"seed": 0}, "finished_at": "2026-01-01T00:00:00+00:00",
            "notebooks": [{"name": name, "title": title, "summary": summary,
                           "status": "succeeded", "html": f"{name}.html"}
                          for name, title, summary in NOTEBOOKS]}


METRICS = {"features": {"customers": 2000}, "profit": {"revenue": 1_234_567.0,
                                                        "profit": -250_000_000.0}}


def test_a_chinese_index_is_in_chinese(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,revenue\nA,1\n")
    page = report.write_index(tmp_path, _manifest(), METRICS,
                              {"lang": "zh", "source": "synthetic"}).read_text()
    assert '<html lang="zh">' in page
    headings = re.findall(r"<h[12]>(.*?)</h[12]>", page)
    assert headings == ["客户细分研究", "报告", "文件"]
    for _, title, summary in NOTEBOOKS:
        assert i18n.text(title, "zh") in page and i18n.text(summary, "zh") in page
    assert "123.46万" in page and "-2.50亿" in page  # headline money in 万 and 亿
    assert "每位客户一行" in page  # the files listed


def test_an_english_index_stays_english(tmp_path):
    page = report.write_index(tmp_path, _manifest(), METRICS, {"source": "synthetic"}
                              ).read_text()
    assert '<html lang="en">' in page
    assert "<h1>Customer segmentation study</h1>" in page
    assert "1,234,567" in page and not CJK.search(page)


def test_every_notebook_title_and_listed_file_has_a_translation():
    zh = i18n.catalog("zh")
    texts = [t for _, title, summary in NOTEBOOKS for t in (title, summary)]
    texts += [what for _, what in report.RUN_FILES]
    assert [t for t in texts if t not in zh] == []


def test_notebook_pages_keep_the_cells_of_their_language(tmp_path):
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Customers by segment", metadata={"tags": ["lang-en"]}),
        nbformat.v4.new_markdown_cell("各细分群的客户", metadata={"tags": ["lang-zh"]}),
        nbformat.v4.new_markdown_cell("Both languages"),
        nbformat.v4.new_code_cell("secret_code = 1"),
    ])
    path = tmp_path / "book.ipynb"
    nbformat.write(book, path)
    zh = report.notebook_to_html(path, tmp_path / "zh.html", lang="zh").read_text()
    en = report.notebook_to_html(path, tmp_path / "en.html").read_text()
    assert '<html lang="zh">' in zh and '<html lang="en">' in en
    assert "各细分群的客户" in zh and "Customers by segment" not in zh
    assert "Customers by segment" in en and "各细分群的客户" not in en
    assert "Both languages" in zh and "Both languages" in en
    assert "secret_code" not in zh and "secret_code" not in en  # code stays hidden


def test_the_data_dictionary_describes_every_column_of_every_file(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,revenue,category_share_beauty\nA,1,0\n")
    (tmp_path / "segments.csv").write_text("segment,customers\n0,1\n")
    report.write_data_dictionary(tmp_path)
    table = pd.read_csv(tmp_path / report.DATA_DICTIONARY, keep_default_na=False)
    assert list(table.columns) == list(report.DICTIONARY_COLUMNS)
    assert table[["file", "column"]].values.tolist() == [
        ["customers.csv", "customer_id"], ["customers.csv", "revenue"],
        ["customers.csv", "category_share_beauty"], ["segments.csv", "segment"],
        ["segments.csv", "customers"]]
    row = table.set_index("column").loc["category_share_beauty"]
    assert row["label_zh"].startswith("品类占比") and row["label_zh"].endswith("beauty")
    assert "beauty" in row["meaning_en"]
    assert table.set_index("column").loc["revenue", "meaning_en"]  # from FEATURE_DOCS
    assert table["label_zh"].map(lambda label: bool(CJK.search(label))).all()
    report.write_data_dictionary(tmp_path)  # a second run does not describe itself
    assert len(pd.read_csv(tmp_path / report.DATA_DICTIONARY)) == len(table)


def test_every_column_a_run_writes_has_a_meaning_in_both_languages(small_run):
    """A new column without a meaning in seglab/locales/columns.yaml fails here, by name."""
    run = small_run / "latest"
    table = pd.read_csv(run / report.DATA_DICTIONARY, keep_default_na=False)
    written = {path.name for path in run.glob("*.csv")} - {report.DATA_DICTIONARY}
    assert set(table["file"]) == written
    missing = table[(table["meaning_en"].str.strip() == "")
                    | (table["meaning_zh"].str.strip() == "")]
    assert missing[["file", "column"]].values.tolist() == []


def test_chinese_money_is_written_in_wan_and_yi():
    assert i18n.money(9_999.0, "zh") == "9,999"
    assert i18n.money(12_345.0, "zh") == "1.23万"
    assert i18n.money(-1_234_567.0, "zh") == "-123.46万"
    assert i18n.money(250_000_000.0, "zh") == "2.50亿"
    assert i18n.money(250_000_000.0, "en") == "250,000,000"
    assert i18n.money(float("nan"), "zh") == ""
    assert i18n.money(-0.3, "zh") == i18n.money(-0.3, "en") == "0"


def test_a_column_can_mean_something_else_in_one_file(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,revenue\nA,1\n")
    (tmp_path / "cleaning_log.csv").write_text("step,revenue\n1,2\n")
    meanings = data_dictionary(tmp_path).set_index(["file", "column"])
    customer, rule = (meanings.loc[(name, "revenue")] for name in
                      ("customers.csv", "cleaning_log.csv"))
    assert "rule" in rule["meaning_en"] and "规则" in rule["meaning_zh"]
    assert customer["meaning_en"] != rule["meaning_en"]
    assert customer["label_zh"] == rule["label_zh"]  # the label stays the column's
