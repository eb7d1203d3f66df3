"""Render executed notebooks to shareable HTML and write the run's index page."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
from jinja2 import Environment, select_autoescape
from nbconvert import HTMLExporter

from seglab.runfolder import FILES, RunFolder

TEMPLATES = Path(__file__).resolve().parent / "templates"

INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Segmentation study {{ manifest.run_id }}</title>
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
<h1>Customer segmentation study</h1>
<p class="sub">Run {{ manifest.run_id }} &middot; data: {{ source }} &middot;
analysis date {{ as_of }} &middot;
<span class="status-{{ manifest.status }}">{{ manifest.status }}</span>
{% if manifest.masked %}&middot; personal identifiers masked{% endif %}</p>
<div class="cards">
{% for label, value in headline %}<div class="card"><div class="v">{{ value }}</div>
<div class="k">{{ label }}</div></div>
{% endfor %}</div>
<h2>Reports</h2>
<ol>
{% for nb in manifest.notebooks %}<li>{% if nb.html %}<a href="{{ nb.html }}">{{ nb.title }}</a>
{% else %}{{ nb.title }}{% endif %} &mdash; {{ nb.summary }}
{% if nb.status != "succeeded" %}<strong class="status-failed">({{ nb.status }})</strong>
{% endif %}</li>
{% endfor %}</ol>
{% if data_notes %}<h2>What this data could not show as designed</h2>
<ul class="data-notes">{% for note in data_notes %}<li>{{ note }}</li>{% endfor %}</ul>{% endif %}
{% if changes is not none %}
<h2>Changes since the previous run ({{ manifest.previous_run }})</h2>
{% if changed_figures %}<table class="changes">
<tr><th>figure</th><th>before</th><th>now</th></tr>
{% for row in changed_figures %}<tr><td>{{ row.figure }}</td><td>{{ row.a }}</td>
<td>{{ row.b }}</td></tr>
{% endfor %}</table>{% else %}<p>No headline figure changed.</p>{% endif %}
{% if shifted_segments %}<p>Segments whose share of customers moved by a point or more:</p>
<table class="changes"><tr><th>segment</th><th>customers before</th><th>now</th>
<th>share shift</th></tr>
{% for row in shifted_segments %}<tr><td>{{ row.segment }}</td><td>{{ row.a }}</td>
<td>{{ row.b }}</td><td>{{ "%+.1f"|format(row.share_shift * 100) }} pts</td></tr>
{% endfor %}</table>{% endif %}
{% endif %}
<h2>Files</h2>
<table>
{% for name, what in files %}
<tr><td><a href="{{ name }}">{{ name }}</a></td><td>{{ what }}</td></tr>
{% endfor %}</table>
<footer>seglab {{ manifest.versions.seglab }} &middot; seed {{ manifest.parameters.seed }}
&middot; finished {{ manifest.finished_at }}</footer>
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
    (FILES.campaign_readout, "each campaign's effect per segment and metric, with intervals"),
    (FILES.segment_products, "each segment's distinguishing and best-selling products"),
    (FILES.segment_categories, "each segment's distinguishing categories (retail index)"),
    (FILES.basket_rules, "what sells together in each segment's orders: product pair rules"),
    (FILES.category_rules, "the same rules between categories"),
    (FILES.recommendations, "next-product offers per customer (holds customer ids)"),
    (FILES.metrics, "the run's key figures"),
    (FILES.manifest, "parameters, inputs with checksums, versions, timings"),
))


def notebook_to_html(notebook: Path, html: Path) -> Path:
    """Render an executed notebook to self-contained HTML: code hidden, images embedded.

    The template is nbconvert's ``lab`` without the scripts it would load from the
    network (require.js, MathJax, mermaid), so the page opens offline and by e-mail.

    Parameters
    ----------
    notebook : pathlib.Path
        Executed ``.ipynb``.
    html : pathlib.Path
        Where to write the page.

    Returns
    -------
    pathlib.Path
        ``html``.
    """
    exporter = HTMLExporter(
        template_name="seglab_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    html.write_text(body, encoding="utf-8")
    return html


def _money(value: float) -> str:
    return f"{value:,.0f}"


def headline_figures(metrics: dict) -> list[tuple[str, str]]:
    """Pick the run's headline figures from ``metrics.json`` for the index page.

    Parameters
    ----------
    metrics : dict
        Contents of ``metrics.json``.

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
        figures.append(("customers", f"{feats['customers']:,}"))
    if cleaning.get("rows_kept") is not None:
        figures.append(("transaction lines analysed", f"{cleaning['rows_kept']:,}"))
    if money.get("revenue") is not None:
        figures.append(("net revenue", _money(money["revenue"])))
    if money.get("profit") is not None:
        figures.append(("profit after cost-to-serve", _money(money["profit"])))
    if money.get("unprofitable_customer_share") is not None:
        share = money["unprofitable_customer_share"]
        figures.append(("customers who lose money", f"{share:.0%}"))
    if clusters.get("chosen_method"):
        figures.append(("segments found", f"{clusters['k']} ({clusters['chosen_method']})"))
    if clusters.get("ari_truth") is not None:
        figures.append(("agreement with planted segments (ARI)", f"{clusters['ari_truth']:.2f}"))
    churn = metrics.get("churn", {})
    if churn.get("auc") is not None and churn.get("best_baseline_auc") is not None:
        figures.append((f"churn risk, next {churn.get('horizon_days')} days: ROC AUC "
                        f"(strongest simple rule: {churn['best_baseline']})",
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
        The index page.
    """
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    changed_figures, shifted_segments = [], []
    if changes is not None:
        figures = changes["figures"][changes["figures"]["changed"]]
        changed_figures = [{"figure": r.figure, "a": _shown(r.a), "b": _shown(r.b)}
                           for r in figures.itertuples()]
        segments = changes["segments"]
        shifted_segments = segments[segments["share_shift"].abs() >= 0.01].to_dict("records")
    page = env.from_string(INDEX_TEMPLATE).render(
        changes=changes,
        changed_figures=changed_figures,
        shifted_segments=shifted_segments,
        manifest=manifest,
        headline=headline_figures(metrics),
        data_notes=list(dict.fromkeys(entry["note"] for entry in
                                      metrics.get("sections", {}).values() if "note" in entry)),
        source=study.get("source", "?"),
        as_of=str(study.get("as_of", "?"))[:10],
        files=[(name, what) for name, what in RUN_FILES if (run_dir / name).exists()],
    )
    path = RunFolder(run_dir).index
    path.write_text(page, encoding="utf-8")
    return path
