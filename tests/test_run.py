"""The whole study through the CLI, into a temporary reports folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from seglab.cli import app
from seglab.run import NOTEBOOKS

runner = CliRunner()


SMALL = ["--synthetic-customers", "500", "--quiet"]


@pytest.fixture(scope="module")
def study_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    params = out / "params.yaml"
    params.write_text(yaml.safe_dump({"k_max": 5}))
    result = runner.invoke(app, ["run", "--out", str(out), "--run-id", "first",
                                 "--params", str(params), *SMALL])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out / "first" / "index.html")
    return out


def test_run_folder_has_every_file(study_run):
    run = study_run / "first"
    for name in ("index.html", "manifest.json", "metrics.json", "customers.csv",
                 "segments.csv", "clustering_comparison.csv", "cleaning_log.csv"):
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
    assert manifest["parameters"]["seed"] == 0
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
    bad = tmp_path / "orders.csv"
    bad.write_text("customer_id,order_date,amount\n1,not a date,3\n")
    result = runner.invoke(app, ["run", "--out", str(study_run), "--data", str(bad)])
    assert result.exit_code == 2
    assert "orders.csv" in result.output and "order_date" in result.output
    assert "Traceback" not in result.output
    assert os.readlink(study_run / "latest") == "first"
    assert not list(study_run.glob(".*partial"))


def test_existing_run_id_is_refused(study_run):
    result = runner.invoke(app, ["run", "--out", str(study_run), "--run-id", "first"])
    assert result.exit_code == 2
    assert "exists already" in result.output
