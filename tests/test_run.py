"""The whole study through the CLI, into a temporary reports folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import SMALL_RUN_OPTIONS, copy_run, notebooks_in
from typer.testing import CliRunner

from seglab import study
from seglab.cli import app
from seglab.run import NOTEBOOK_DIR, NOTEBOOKS, RunOptions, check_options, notebook_parameters
from seglab.runfolder import RunFolder

runner = CliRunner()


@pytest.fixture(scope="module")
def study_run(small_run) -> Path:
    """The shared small run (conftest): ``first``, run with ``params.yaml`` = k_max 5, seed 3."""
    return small_run


def test_run_folder_has_every_file(study_run):
    run = study_run / "first"
    for name in ("index.html", "manifest.json", "metrics.json", "customers.csv",
                 "segments.csv", "clustering_comparison.csv", "cleaning_log.csv",
                 "segment_products.csv", "basket_rules.csv", "recommendations.csv"):
        assert (run / name).is_file(), name
    for name, _, _ in NOTEBOOKS:
        assert (run / f"{name}.html").is_file()
    assert os.readlink(study_run / "latest") == "first"
    assert not list(study_run.glob(".*partial"))


def test_manifest(study_run):
    manifest = json.loads((study_run / "first" / "manifest.json").read_text())
    assert manifest["run_id"] == "first"
    assert manifest["status"] == "succeeded"
    assert manifest["parameters"]["k_max"] == 5
    assert manifest["parameters"]["seed"] == 3
    assert manifest["versions"]["python"] and manifest["versions"]["pandas"]
    assert [nb["name"] for nb in manifest["notebooks"]] == [n for n, _, _ in NOTEBOOKS]
    assert all(nb["status"] == "succeeded" and nb["seconds"] > 0
               for nb in manifest["notebooks"])
    assert manifest["started_at"] <= manifest["finished_at"]


def test_metrics_and_exports_agree(study_run):
    run = study_run / "first"
    metrics = json.loads((run / "metrics.json").read_text())
    customers = pd.read_csv(run / "customers.csv", dtype={"customer_id": str})
    assert customers.columns[0] == "customer_id"
    assert customers["customer_id"].is_unique
    assert metrics["features"]["customers"] == len(customers)
    assert metrics["cleaning"]["reconciles"] is True
    for column in ("rfm_segment", "value_tier", "lifecycle_stage", "cluster", "profit",
                   "persona"):
        assert customers[column].notna().all(), column
    assert customers["profit"].sum() == pytest.approx(metrics["profit"]["profit"], abs=0.01)
    comparison = pd.read_csv(run / "clustering_comparison.csv")
    assert {"kmeans", "hdbscan"} <= set(comparison["method"])
    assert comparison["chosen"].sum() == 1
    assert metrics["clustering"]["chosen_method"] == comparison.loc[comparison["chosen"],
                                                                    "method"].iat[0]
    assert comparison["ari_truth"].notna().all()


def test_reports_hide_code_and_link_from_index(study_run):
    run = study_run / "first"
    index = (run / "index.html").read_text()
    for name, title, _ in NOTEBOOKS:
        assert f'href="{name}.html"' in index
        assert title in index
    page = (run / "03-clustering-comparison.html").read_text()
    assert "data:image/png;base64" in page
    assert "study.cluster_stage(" not in page  # code cells are hidden


def test_unknown_param_is_rejected_before_running(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("k_maxx: 4\n")
    result = runner.invoke(app, ["run", "--out", str(tmp_path / "r"), "--params", str(params)])
    assert result.exit_code == 2
    assert "unknown parameter(s) ['k_maxx']" in result.output
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_bad_data_leaves_latest_untouched(study_run, tmp_path):
    reports = copy_run(study_run, tmp_path / "reports")  # the shared run stays as it is
    bad = tmp_path / "orders.csv"
    bad.write_text("customer_id,order_date,amount\n1,not a date,3\n")
    result = runner.invoke(app, ["run", "--out", str(reports), "--data", str(bad)])
    assert result.exit_code == 2
    assert "orders.csv" in result.output and "order_date" in result.output
    assert "Traceback" not in result.output
    assert os.readlink(reports / "latest") == "first"
    assert not list(reports.glob(".*partial"))
    assert sorted(p.name for p in reports.iterdir()) == sorted(
        p.name for p in study_run.iterdir())


def test_existing_run_id_is_refused(study_run, tmp_path):
    reports = copy_run(study_run, tmp_path / "reports")
    before = (reports / "first" / "manifest.json").read_bytes()
    result = runner.invoke(app, ["run", "--out", str(reports), "--run-id", "first"])
    assert result.exit_code == 2
    assert "exists already" in result.output
    assert (reports / "first" / "manifest.json").read_bytes() == before


def test_notebooks_ran_with_the_params_files_seed(study_run):
    # The seed in the manifest is the one every notebook and the synthetic data used.
    run = study_run / "first"
    for name in ("03-clustering-comparison", "05-segment-dynamics"):
        book = nbformat.read(run / "notebooks" / f"{name}.ipynb", as_version=4)
        injected = [cell for cell in book.cells
                    if "injected-parameters" in cell.metadata.get("tags", [])]
        assert len(injected) == 1 and "seed = 3\n" in injected[0].source, name
    assert json.loads((run / "study.json").read_text())["seed"] == 3



def test_a_failed_notebook_keeps_its_error_and_stops_the_run(tmp_path):
    from seglab.errors import RunError
    from seglab.run import local_kernel, run_study

    notebooks = tmp_path / "notebooks"  # one line each; the second one fails
    notebooks.mkdir()
    for i, (name, _, _) in enumerate(NOTEBOOKS):
        parameters = nbformat.v4.new_code_cell('run_dir = ""', metadata={"tags": ["parameters"]})
        body = "raise ValueError('no such segment')" if i == 1 else f"print('{name} ran')"
        book = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(body)])
        book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
        nbformat.write(book, notebooks / f"{name}.ipynb")
    out = tmp_path / "reports"
    with local_kernel() as kernel, pytest.raises(RunError, match=r"02-feature-engineering "
                                                 r"failed: ValueError: no such segment"):
        run_study(RunOptions(out=out, run_id="broken", notebook_dir=notebooks,
                             synthetic_customers=100), kernel=kernel)
    run = out / "broken"
    manifest = json.loads((run / "manifest.json").read_text())
    assert [nb["status"] for nb in manifest["notebooks"]] == \
        ["succeeded", "failed", *["skipped"] * (len(NOTEBOOKS) - 2)]
    failed = nbformat.read(run / "notebooks" / "02-feature-engineering.ipynb", as_version=4)
    assert failed.cells[-1].outputs[-1]["ename"] == "ValueError"  # written with its error
    assert "no such segment" in (run / "02-feature-engineering.html").read_text()
    assert not (out / "latest").exists()

@pytest.mark.parametrize(
    ("cli_seed", "params", "expected"),
    [(None, {}, 0), (None, {"seed": 7}, 7), (5, {"seed": 7}, 5), (0, {"seed": 7}, 0)],
)
def test_seed_precedence(tmp_path, cli_seed, params, expected):
    options = RunOptions(seed=cli_seed, params=params, out=tmp_path / "r")
    checked = check_options(options, notebook_parameters(NOTEBOOK_DIR))
    assert checked.seed == expected
    assert options.seed == cli_seed  # the caller's options are not changed


def test_as_of_is_normalised(tmp_path):
    known = notebook_parameters(NOTEBOOK_DIR)
    for given in ("2011-12-01", "2011-12-01 10:30"):
        assert check_options(RunOptions(as_of=given), known).as_of == pd.Timestamp("2011-12-01")


def test_european_options_reach_the_staged_inputs(tmp_path):
    rows = [f"K{i:02d};{day:02d}/0{1 + i % 2}/2011;1.{i:03d},50"
            for i, day in zip(range(40), [*range(1, 29), *range(1, 13)], strict=True)]
    data = tmp_path / "eu.csv"
    data.write_text("Kunde;Datum;Betrag\n" + "\n".join(rows) + "\n")
    study.stage_inputs(tmp_path / "run", data=data, decimal=",", dayfirst=True,
                                columns="customer_id=Kunde,order_date=Datum,amount=Betrag")
    staged = pd.read_parquet(RunFolder(tmp_path / "run").staged_transactions)
    assert staged["amount"].iloc[:3].tolist() == [1000.5, 1001.5, 1002.5]
    assert staged["order_date"].iat[1] == pd.Timestamp("2011-02-02")
    assert staged["order_date"].iat[12] == pd.Timestamp("2011-01-13")


@pytest.fixture(scope="module")
def zh_run(study_run, tmp_path_factory, layout_kernel) -> Path:
    """The same study as ``study_run``, its reports in Chinese (notebooks in one kernel).

    Its charts are laid out, not painted: what the tests read are the glyphs the kernel
    found and the files, which painting does not change.
    """
    out = tmp_path_factory.mktemp("reports-zh")
    with notebooks_in(layout_kernel):
        result = runner.invoke(app, ["run", "--out", str(out), "--run-id", "zh", "--lang",
                                     "zh", "--params", str(study_run / "params.yaml"),
                                     *SMALL_RUN_OPTIONS])
    assert result.exit_code == 0, result.output
    return out / "zh"


def test_a_chinese_run_writes_chinese_reports(zh_run):
    index = (zh_run / "index.html").read_text()
    assert '<html lang="zh">' in index and "<h1>客户细分研究</h1>" in index
    assert 'href="data_dictionary.csv"' in index
    page = (zh_run / "04-profitability-personas.html").read_text()
    assert '<html lang="zh">' in page
    assert json.loads((zh_run / "manifest.json").read_text())["parameters"]["lang"] == "zh"
    assert study.report_language(zh_run) == "zh"
    for name, _, _ in NOTEBOOKS:  # the kernel found every glyph of the charts
        book = (zh_run / "notebooks" / f"{name}.ipynb").read_text()
        assert "missing from font" not in book, name


def test_files_keep_their_column_names_in_every_language(study_run, zh_run):
    en_run = study_run / "first"
    names = sorted(p.name for p in en_run.glob("*.csv"))
    assert names == sorted(p.name for p in zh_run.glob("*.csv"))
    assert "data_dictionary.csv" in names
    for name in names:
        en_header = (en_run / name).read_text(encoding="utf-8").splitlines()[0]
        assert en_header == (zh_run / name).read_text(encoding="utf-8").splitlines()[0], name
    assert (en_run / "data_dictionary.csv").read_bytes() == \
        (zh_run / "data_dictionary.csv").read_bytes()


# --- Params files: shared settings and a section per notebook ------------------------


@pytest.fixture(scope="module")
def known():
    return notebook_parameters(NOTEBOOK_DIR)


def test_sections_reach_their_notebook_only(known):
    from seglab.run import notebook_params

    chosen = notebook_params({"seed": 4, "03-clustering-comparison": {"k_max": 5},
                              "05": {"horizon_days": 60, "segment_col": "value_tier"},
                              4: {"horizon_days": 730}, "min_support": 0.01}, known)
    assert chosen["03-clustering-comparison"] == {"k_max": 5, "seed": 4}
    assert chosen["05-segment-dynamics"] == {"horizon_days": 60, "segment_col": "value_tier",
                                             "seed": 4}
    assert chosen["04-profitability-personas"] == {"horizon_days": 730}
    assert chosen["06-segment-products"] == {"min_support": 0.01}  # flat and unambiguous
    assert chosen["01-data-profile"] == {}


@pytest.mark.parametrize(("params", "message"), [
    ({"horizon_days": 60}, r"p\.yaml: horizon_days is a parameter of notebooks "
                           r"04-profitability-personas, 05-segment-dynamics; put it in the "
                           r"section of the one you mean"),
    ({"05-segment-dynamics": {"k_max": 3}}, r"p\.yaml: section 05-segment-dynamics: unknown "
                                            r"parameter 'k_max'; notebook 05-segment-dynamics "
                                            r"takes: \["),
    ({"03": {"seed": 2}}, r"p\.yaml: section 03: seed is shared by the whole study; set it "
                          r"at the top level"),
    ({"03": {"k_max": "eight"}}, r"p\.yaml: k_max must be a whole number, got 'eight'"),
    ({"03": {"run_dir": "x"}}, r"p\.yaml: section 03: run_dir is set by seglab run"),
    ({"03": 5}, r"p\.yaml: section 03: expected a mapping"),
    ({"rfm_window_days": 90}, r"p\.yaml: unknown parameter\(s\) \['rfm_window_days'\]"),
    ({"time_unit": "Q"}, r"p\.yaml: time_unit must be one of \['D', 'W', 'M'\], got 'Q'"),
])
def test_bad_params_name_file_section_and_key(known, params, message):
    from seglab.errors import ConfigError
    from seglab.run import check_params

    with pytest.raises(ConfigError, match=message):
        check_params(params, known, source="p.yaml")


def test_shared_settings_are_staged_into_the_study(tmp_path, known):
    from seglab.run import stage_options
    from seglab.runfolder import read_study

    options = check_options(RunOptions(params={"time_unit": "W", "costs": {"return_cost": 9}},
                                       synthetic_customers=100, out=tmp_path), known)
    stage_options(options, tmp_path / "run")
    meta = read_study(RunFolder(tmp_path / "run"))
    assert meta.time_unit == "W" and meta.cost_table().return_cost == 9
