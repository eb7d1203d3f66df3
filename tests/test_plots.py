from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from seglab import plots


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_table_escapes_text_from_the_data():
    frame = pd.DataFrame({"product": ["<script>alert(1)</script>", "Mug & Saucer"],
                          "revenue": [1234.5, 2.0]})
    html = plots.table(frame, money=("revenue",)).to_html()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "1,234" in html or "1,235" in html


def test_table_escapes_index_labels():
    frame = pd.DataFrame({"n": [1]}, index=["<b>segment</b>"])
    assert "<b>segment" not in plots.table(frame).to_html()


def test_chinese_labels_render_with_a_cjk_font():
    if plots.cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    customers = pd.DataFrame({"region": ["上海", "北京", "上海"], "revenue": [1.0, 2.0, 3.0]})
    with plots.theme(), warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph warns
        ax = plots.segment_sizes(customers, "region")
        ax.figure.canvas.draw()
    labels = {t.get_text() for t in ax.get_yticklabels()}
    assert labels == {"上海", "北京"}


def test_missing_column_draws_a_note():
    with plots.theme():
        ax = plots.distribution(None, label="unit price")
    assert "No unit price" in ax.texts[0].get_text()


def test_segment_sizes_orders_numeric_labels():
    customers = pd.DataFrame({"cluster": [2, 0, 1, 1], "revenue": [9.0, 1.0, 2.0, 2.0]})
    with plots.theme():
        ax = plots.segment_sizes(customers, "cluster")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "2"]


def test_theme_leaves_global_style_alone():
    before = dict(plt.rcParams)
    with plots.theme():
        assert plt.rcParams["figure.dpi"] == plots.RC["figure.dpi"]
    assert dict(plt.rcParams) == before


def test_product_plots_draw_and_skip_empty_tables():
    matrix = pd.DataFrame({"A + B": [2.0, None], "A + C": [0.5, 1.5]}, index=["s1", "s2"])
    ax = plots.pair_heatmap(matrix)
    assert [t.get_text() for t in ax.texts] == ["2.0", "0.5", "1.5"]  # no rule: no cell
    scores = pd.DataFrame({"method": ["segment rules", "segment best sellers"],
                           "precision_at_n": [0.12, 0.1], "recall_at_n": [0.2, 0.18],
                           "n": [5, 5]})
    ax = plots.offer_evaluation(scores)
    assert "precision at 5" in [t.get_text() for t in ax.get_xticklabels()]
    assert plots.pair_heatmap(pd.DataFrame()) is None
    assert plots.offer_evaluation(pd.DataFrame()) is None
    assert plots.sentence("") is None
    assert "&lt;b&gt;" in plots.sentence("<b>").data
    plt.close("all")
