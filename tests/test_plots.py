from __future__ import annotations

import re
import warnings

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from seglab import i18n, plots
from seglab.errors import ConfigError


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


CJK = re.compile(r"[\u4e00-\u9fff]")


def _needs_cjk_font():
    if plots.cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")


def _texts(figure) -> list[str]:
    """Every text a figure shows: titles, labels, legends, annotations."""
    return [t.get_text() for t in figure.findobj(matplotlib.text.Text) if t.get_text()]


def test_chinese_charts_are_in_chinese_and_miss_no_glyph():
    _needs_cjk_font()
    customers = pd.DataFrame({"rfm_segment": ["Champions", "At risk", "Champions"],
                              "revenue": [120_000.0, -3_000.0, 2_500_000.0]})
    totals = {name: 1_000.0 * (i + 1) for i, name in enumerate(
        ("gross_sales", "discounts", "returns", "revenue", "cost_of_goods", "gross_margin",
         "handling", "shipping", "rent", "returns_handling", "service", "marketing"))}
    totals["profit"] = -25_000.0  # a negative figure draws a minus sign
    curve = pd.DataFrame({"customer_share": [0.0, 0.5, 1.0],
                          "cumulative_profit_share": [0.0, 1.3, 1.0]})
    with plots.theme(lang="zh"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        axes = [plots.segment_sizes(customers, "rfm_segment"), plots.pnl_waterfall(totals),
                plots.whale_curve(curve), plots.distribution(None, label="units per line")]
        for ax in axes:
            ax.figure.canvas.draw()
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing
    for ax in axes:
        assert CJK.search(ax.get_title()), ax.get_title()
    assert "按RFM 细分的客户与收入" == axes[0].get_title()
    assert {"客户数", "收入"} <= set(_texts(axes[0].figure))  # the legend
    names = {t.get_text() for t in axes[0].get_yticklabels()}  # rule segments by their
    assert names == {i18n.text("Champions", "zh"), i18n.text("At risk", "zh")}  # zh names
    assert CJK.search(next(iter(names)))
    assert "利润" in [t.get_text() for t in axes[1].get_xticklabels()]
    assert "-2.5万" in _texts(axes[1].figure)  # money in 万, an ASCII minus
    assert "没有每行件数" in axes[3].texts[0].get_text()


def test_the_theme_language_is_the_default_of_every_chart():
    _needs_cjk_font()
    customers = pd.DataFrame({"cluster": [0, 1], "revenue": [1.0, 2.0]})
    with plt.rc_context():
        plots.set_theme(lang="zh")
        try:
            assert plt.rcParams["font.sans-serif"][0] == plots.cjk_font()
            assert plt.rcParams["axes.unicode_minus"] is False
            assert CJK.search(plots.segment_sizes(customers, "cluster").get_title())
            assert plots.segment_sizes(customers, "cluster", lang="en").get_title() == \
                "Customers and revenue by cluster"
        finally:
            plots.set_theme()
    assert plots.segment_sizes(customers, "cluster").get_title() == \
        "Customers and revenue by cluster"


def test_chinese_tables_label_columns_and_write_money_in_wan():
    frame = pd.DataFrame({"segment": ["A", "B"], "revenue": [1_234_567.0, 9_876.0],
                          "customer_share": [0.25, 0.75]})
    html_zh = plots.table(frame, money=("revenue",), share=("customer_share",),
                          lang="zh").to_html()
    assert "细分群" in html_zh and "收入" in html_zh and "客户占比" in html_zh
    assert "123.46万" in html_zh and "9,876" in html_zh and "25.0%" in html_zh
    html_en = plots.table(frame, money=("revenue",), lang="en").to_html()
    assert ">revenue<" in html_en and "1,234,567" in html_en and "万" not in html_en


def test_an_unknown_language_is_refused_by_the_theme():
    with pytest.raises(ConfigError, match="--lang must be one of en, zh"):
        plots.set_theme(lang="fr")


def test_a_notebook_draws_each_chart_once_for_its_picture():
    """After ``set_theme`` a cell's chart is drawn only for the PNG the notebook shows."""
    import nbclient
    import nbformat

    cells = [
        "%matplotlib inline\n"
        "import io\n"
        "import matplotlib.figure\n"
        "import matplotlib.pyplot as plt\n"
        "import pandas as pd\n"
        "from seglab import plots\n"
        "plots.set_theme()\n"
        "draws = []\n"
        "draw = matplotlib.figure.Figure.draw\n"
        "matplotlib.figure.Figure.draw = lambda fig, renderer: draws.append(fig) or "
        "draw(fig, renderer)\n"
        "customers = pd.DataFrame({'segment': ['a', 'b', 'b'], 'revenue': [1.0, 2.0, 3.0]})",
        "plots.segment_sizes(customers, 'segment');",
        "in_the_cell = len(draws)\n"
        "figure = plots.segment_sizes(customers, 'segment').figure\n"
        "figure.canvas.print_figure(io.BytesIO(), format='png', bbox_inches='tight')\n"
        "plt.close(figure)\n"
        "print(in_the_cell, len(draws) - in_the_cell)",
    ]
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(book, kernel_name="python3", timeout=120).execute()
    assert any("image/png" in output.get("data", {}) for output in book.cells[1].outputs)
    in_the_cell, for_a_png = map(int, book.cells[2].outputs[0]["text"].split())
    assert in_the_cell == for_a_png  # not drawn once more before the picture


def test_k_selection_ticks_whole_numbers_of_segments():
    scores = pd.DataFrame({"k": [2, 3, 4], "silhouette": [0.2, 0.3, 0.25],
                           "stability": [0.9, 0.95, 0.8], "calinski_harabasz": [5.0, 7, 6],
                           "davies_bouldin": [1.2, 1.0, 1.1], "inertia": [9.0, 7, 6],
                           "chosen": [False, True, False]})
    fig = plots.k_selection({"kmeans": scores})
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if 2 <= t <= 4]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    plt.close(fig)


def test_big_counts_read_in_full_and_titles_sit_on_the_axes():
    counts = pd.Series([2_400_000, 2_400_180], index=["Gold", "Silver"])
    with plots.theme():
        ax = counts.plot.bar(title="Customers")
        ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ax.yaxis.get_offset_text().get_text() == ""  # no "1e6" or "+2.4e6" above
    assert "2000000" in [label.replace(",", "") for label in labels], labels
    assert ax.title.get_position()[1] == 1.0


def test_distribution_bars_count_every_value_once():
    values = pd.Series([1.0, 2, 2, 3, 50, 900, 0, -4])  # the log scale leaves out 0 and -4
    with plots.theme():
        ax = plots.distribution(values, label="units per line")
    heights = [path.vertices[:, 1].max() for path in ax.collections[0].get_paths()]
    assert len(heights) == 40 and sum(heights) == 6
    assert ax.get_xscale() == "log" and ax.get_ylim()[0] == 0
    low, high = ax.get_xlim()
    assert low <= 1 and high >= 900
