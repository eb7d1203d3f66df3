"""Render executed notebooks to shareable HTML and write the run's index page."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import nbformat
import pandas as pd
from jinja2 import Environment, select_autoescape
from nbconvert import HTMLExporter
from traitlets.config import Config

from seglab import features, i18n
from seglab.runfolder import FILES, RunFolder

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: The run folder's data dictionary (:func:`write_data_dictionary`).
DATA_DICTIONARY = str(FILES.data_dictionary)
#: Its columns; they never change with the report's language.
DICTIONARY_COLUMNS = ("file", "column", "label_en", "label_zh", "meaning_en", "meaning_zh")

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ words.page_title }}</title>
<style>
 body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC",
        sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
 h1 { font-size: 1.6rem; margin-bottom: .2rem; } .sub { color: #666; margin-top: 0; }
 .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr));
          gap: .8rem; margin: 1.5rem 0; }
 .card { border: 1px solid #ddd; border-radius: .5rem; padding: .7rem .9rem; }
 .card .v { font-size: 1.35rem; font-weight: 600; } .card .k { color: #666; font-size: .85rem; }
 ol li { margin: .6rem 0; } a { color: #0b5cad; } .status-failed { color: #b00020; }
 table { border-collapse: collapse; } td, th { padding: .2rem .6rem; text-align: left; }
 footer { color: #888; font-size: .8rem; margin-top: 2rem; }
</style></head><body>
<h1>{{ words.heading }}</h1>
<p class="sub">{{ words.run }} &middot; {{ words.data }} &middot;
{{ words.as_of }} &middot;
<span class="status-{{ manifest.status }}">{{ words.status }}</span>
{% if manifest.masked %}&middot; {{ words.masked }}{% endif %}</p>
<div class="cards">
{% for label, value in headline %}<div class="card"><div class="v">{{ value }}</div>
<div class="k">{{ label }}</div></div>
{% endfor %}</div>
<h2>{{ words.reports }}</h2>
<ol>
{% for nb in notebooks %}<li>{% if nb.html %}<a href="{{ nb.html }}">{{ nb.title }}</a>
{% else %}{{ nb.title }}{% endif %} &mdash; {{ nb.summary }}
{% if nb.status != "succeeded" %}<strong class="status-failed">({{ nb.status_text }})</strong>
{% endif %}</li>
{% endfor %}</ol>
{% if data_notes %}<h2>{{ words.data_notes }}</h2>
<ul class="data-notes">{% for note in data_notes %}<li>{{ note }}</li>{% endfor %}</ul>{% endif %}
{% if changes is not none %}
<h2>{{ words.changes }}</h2>
{% if changed_figures %}<table class="changes">
<tr><th>{{ words.figure }}</th><th>{{ words.before }}</th><th>{{ words.now }}</th></tr>
{% for row in changed_figures %}<tr><td>{{ row.figure }}</td><td>{{ row.a }}</td>
<td>{{ row.b }}</td></tr>
{% endfor %}</table>{% else %}<p>{{ words.no_change }}</p>{% endif %}
{% if shifted_segments %}<p>{{ words.shifted }}</p>
<table class="changes"><tr><th>{{ words.segment }}</th><th>{{ words.customers_before }}</th>
<th>{{ words.now }}</th><th>{{ words.share_shift }}</th></tr>
{% for row in shifted_segments %}<tr><td>{{ row.segment }}</td><td>{{ row.a }}</td>
<td>{{ row.b }}</td><td>{{ row.shift }}</td></tr>
{% endfor %}</table>{% endif %}
{% endif %}
<h2>{{ words.files }}</h2>
<table>
{% for name, what in files %}
<tr><td><a href="{{ name }}">{{ name }}</a></td><td>{{ what }}</td></tr>
{% endfor %}</table>
<footer>{{ words.footer }}</footer>
</body></html>
"""

RUN_FILES: tuple[tuple[str, str], ...] = tuple((str(path), what) for path, what in (
    (FILES.customers_csv, "one row per customer: features, segments, profit (CRM export)"),
    (FILES.segments, "one row per segment: persona, size, revenue, profit, CLV, strategy"),
    (FILES.clustering_comparison, "every clustering method scored side by side"),
    (FILES.cleaning_log, "every row dropped or changed by cleaning, and why"),
    (FILES.segment_migration, "customers and revenue moving between segments, date to date"),
    (FILES.segment_monitoring, "each segment's size, revenue, profit and churn over time"),
    (FILES.audiences, "one row per contactable customer: segment, strategy, treatment or "
                      "control group (CRM export)"),
    (FILES.next_tier, "customers one order short of the next membership grade"),
    (FILES.segment_moves, "customers who entered or left a segment since the previous run"),
    (FILES.growth_accessibility, "every customer's growth x accessibility quadrant"),
    (FILES.campaign_readout, "each campaign's effect per segment and metric, with intervals"),
    (FILES.segment_products, "each segment's distinguishing and best-selling products"),
    (FILES.segment_categories, "each segment's distinguishing categories (retail index)"),
    (FILES.basket_rules, "what sells together in each segment's orders: product pair rules"),
    (FILES.category_rules, "the same rules between categories"),
    (FILES.recommendations, "next-product offers per customer (holds customer ids)"),
    (FILES.data_dictionary, "every column of the files above: its label in English and "
                            "Chinese and what it means"),
    (FILES.metrics, "the run's key figures"),
    (FILES.manifest, "parameters, inputs with checksums, versions, timings"),
))


def notebook_to_html(notebook: Path, html: Path, *,
                     lang: str = i18n.DEFAULT_LANGUAGE) -> Path:
    """Render an executed notebook to self-contained HTML: code hidden, images embedded.

    The template is nbconvert's ``lab`` without the scripts it would load from the
    network (require.js, MathJax, mermaid), so the page opens offline and by e-mail.
    A notebook's text is written in each language, each markdown cell tagged
    ``lang-en`` or ``lang-zh``; the page keeps the cells of ``lang`` and untagged
    cells, and says its language (``<html lang="zh">``).

    Parameters
    ----------
    notebook : pathlib.Path
        Executed ``.ipynb``.
    html : pathlib.Path
        Where to write the page.
    lang : {"en", "zh"}
        Language of the report.

    Returns
    -------
    pathlib.Path
        ``html``.
    """
    exporter = _exporter(i18n.check_language(lang))
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    html.write_text(body, encoding="utf-8")
    return html


@functools.cache
def _exporter(lang: str) -> HTMLExporter:
    """Return the exporter of :func:`notebook_to_html` in ``lang``, made once.

    Its templates compile when it is made, which took a third of every page's time.
    """
    other = [f"lang-{code}" for code in i18n.LANGUAGES if code != lang]
    return HTMLExporter(
        config=Config({"TagRemovePreprocessor": {"enabled": True,
                                                 "remove_cell_tags": other}}),
        template_name="seglab_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        language_code=lang,
    )


def headline_figures(metrics: dict, lang: str = i18n.DEFAULT_LANGUAGE
                     ) -> list[tuple[str, str]]:
    """Pick the run's headline figures from ``metrics.json`` for the index page.

    Parameters
    ----------
    metrics : dict
        Contents of ``metrics.json``.
    lang : {"en", "zh"}
        Language of the labels; money is written by :func:`seglab.i18n.money` (in
        Chinese, 10,000 or more in 万 and 亿).

    Returns
    -------
    list of (label, formatted value)
        Only figures the run recorded.
    """
    figures: list[tuple[str, str]] = []
    cleaning = metrics.get("cleaning", {})
    feats = metrics.get("features", {})
    clusters = metrics.get("clustering", {})
    money = metrics.get("profit", {})
    if feats.get("customers") is not None:
        figures.append((i18n.text("customers", lang), f"{feats['customers']:,}"))
    if cleaning.get("rows_kept") is not None:
        figures.append((i18n.text("transaction lines analysed", lang),
                        f"{cleaning['rows_kept']:,}"))
    if money.get("revenue") is not None:
        figures.append((i18n.text("net revenue", lang), i18n.money(money["revenue"], lang)))
    if money.get("profit") is not None:
        figures.append((i18n.text("profit after cost-to-serve", lang),
                        i18n.money(money["profit"], lang)))
    if money.get("unprofitable_customer_share") is not None:
        share = money["unprofitable_customer_share"]
        figures.append((i18n.text("customers who lose money", lang), f"{share:.0%}"))
    if clusters.get("chosen_method"):
        figures.append((i18n.text("segments found", lang),
                        f"{clusters['k']} ({clusters['chosen_method']})"))
    if clusters.get("ari_truth") is not None:
        figures.append((i18n.text("agreement with planted segments (ARI)", lang),
                        f"{clusters['ari_truth']:.2f}"))
    churn = metrics.get("churn", {})
    if churn.get("auc") is not None and churn.get("best_baseline_auc") is not None:
        figures.append((i18n.text("churn risk, next {days} days: ROC AUC (strongest simple "
                                  "rule: {rule})", lang, days=churn.get("horizon_days"),
                                  rule=i18n.text(churn["best_baseline"], lang)),
                        f"{churn['auc']:.2f} ({churn['best_baseline_auc']:.2f})"))
    return figures


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "-" if value is None else str(value)


def write_index(run_dir: Path, manifest: dict, metrics: dict, study: dict,
                changes: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write ``index.html``: headline figures and links to every report and file.

    Parameters
    ----------
    run_dir : pathlib.Path
        Run folder.
    manifest : dict
        The run manifest (``notebooks`` entries carry ``title``, ``summary``, ``html``).
    metrics : dict
        Contents of ``metrics.json``.
    study : dict
        Contents of ``study.json`` (source, analysis date).
    changes : dict, optional
        :func:`seglab.history.compare_folders` against the previous run.

    Returns
    -------
    pathlib.Path
        The index page, in the run's language (``study["lang"]``, default English).
    """
    lang = i18n.check_language(study.get("lang", i18n.DEFAULT_LANGUAGE))
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    changed_figures, shifted_segments = [], []
    if changes is not None:
        figures = changes["figures"][changes["figures"]["changed"]]
        changed_figures = [{"figure": r.figure, "a": _shown(r.a), "b": _shown(r.b)}
                           for r in figures.itertuples()]
        segments = changes["segments"]
        shifted_segments = [
            {**row, "shift": i18n.text("{shift:+.1f} pts", lang, shift=row["share_shift"] * 100)}
            for row in segments[segments["share_shift"].abs() >= 0.01].to_dict("records")]
    status = {"succeeded": i18n.text("succeeded", lang), "failed": i18n.text("failed", lang),
              "running": i18n.text("running", lang), "skipped": i18n.text("skipped", lang)}
    notebooks = [{**nb, "title": i18n.text(nb["title"], lang),
                  "summary": i18n.text(nb["summary"], lang),
                  "status_text": status.get(nb["status"], nb["status"])}
                 for nb in manifest["notebooks"]]
    words = {
        "page_title": i18n.text("Segmentation study {run_id}", lang,
                                run_id=manifest["run_id"]),
        "heading": i18n.text("Customer segmentation study", lang),
        "run": i18n.text("Run {run_id}", lang, run_id=manifest["run_id"]),
        "data": i18n.text("data: {source}", lang, source=study.get("source", "?")),
        "as_of": i18n.text("analysis date {as_of}", lang,
                           as_of=str(study.get("as_of", "?"))[:10]),
        "status": status.get(manifest["status"], manifest["status"]),
        "masked": i18n.text("personal identifiers masked", lang),
        "reports": i18n.text("Reports", lang),
        "data_notes": i18n.text("What this data could not show as designed", lang),
        "changes": i18n.text("Changes since the previous run ({run_id})", lang,
                             run_id=manifest.get("previous_run")),
        "figure": i18n.text("figure", lang),
        "before": i18n.text("before", lang),
        "now": i18n.text("now", lang),
        "no_change": i18n.text("No headline figure changed.", lang),
        "shifted": i18n.text("Segments whose share of customers moved by a point or more:",
                             lang),
        "segment": i18n.column_label("segment", lang),
        "customers_before": i18n.text("customers before", lang),
        "share_shift": i18n.text("share shift", lang),
        "files": i18n.text("Files", lang),
        "footer": i18n.text("seglab {version} · seed {seed} · finished {finished}", lang,
                            version=manifest["versions"]["seglab"],
                            seed=manifest["parameters"]["seed"],
                            finished=manifest["finished_at"]),
    }
    page = env.from_string(INDEX_TEMPLATE).render(
        lang=lang,
        words=words,
        notebooks=notebooks,
        changes=changes,
        changed_figures=changed_figures,
        shifted_segments=shifted_segments,
        manifest=manifest,
        headline=headline_figures(metrics, lang),
        data_notes=list(dict.fromkeys(entry["note"] for entry in
                                      metrics.get("sections", {}).values() if "note" in entry)),
        files=[(name, i18n.text(what, lang)) for name, what in RUN_FILES
               if (run_dir / name).exists()],
    )
    path = RunFolder(run_dir).index
    path.write_text(page, encoding="utf-8")
    return path


def data_dictionary(run_dir: Path) -> pd.DataFrame:
    """Describe every column of the CSV files in a run folder, in both languages.

    Labels and meanings come from ``seglab/locales/columns.yaml``
    (:func:`seglab.i18n.column_entry`), English meanings of customer features it lacks
    from :data:`seglab.features.FEATURE_DOCS`; an entry keyed ``<file>/<column>`` (e.g.
    ``cleaning_log.csv/revenue``) overrides what the column means in that file. A column
    it lacks gets its own name as its label and no meaning. The table is the same for an
    English and a Chinese run: the files' column names never change with the report's
    language.

    Parameters
    ----------
    run_dir : pathlib.Path
        Run folder.

    Returns
    -------
    pandas.DataFrame
        One row per file and column, files in name order, columns in file order:
        ``file``, ``column``, ``label_en``, ``label_zh``, ``meaning_en``, ``meaning_zh``.
    """
    rows = []
    for path in sorted(run_dir.glob("*.csv")):
        if path.name == DATA_DICTIONARY:
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
        for column in header:
            # A "<file>/<column>" entry says what the column means in that file.
            entry = {**i18n.column_entry(column), **i18n.column_entry(f"{path.name}/{column}")}
            meaning = entry.get("meaning") or features.FEATURE_DOCS.get(column, ("", ""))[1]
            rows.append((path.name, column, entry.get("en", column), entry.get("zh", column),
                         meaning, entry.get("meaning_zh", "")))
    return pd.DataFrame(rows, columns=list(DICTIONARY_COLUMNS))


def write_data_dictionary(run_dir: Path) -> Path:
    """Write :func:`data_dictionary` to ``data_dictionary.csv`` in the run folder."""
    path = run_dir / DATA_DICTIONARY
    data_dictionary(run_dir).to_csv(path, index=False, encoding="utf-8")
    return path
