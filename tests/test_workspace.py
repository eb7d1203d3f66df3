"""Workspaces for JupyterLab (seglab lab): try parameters without touching a published run."""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest
import yaml
from conftest import checksums
from nbclient import NotebookClient
from typer.testing import CliRunner

from seglab import i18n, run, study, workspace
from seglab.cli import app
from seglab.errors import ConfigError
from seglab.runfolder import RunFolder, read_study

runner = CliRunner()

CLUSTERING = "03-clustering-comparison"
#: What the data scientist tries in notebook 03 (cheap methods keep the test short).
TRIED = {"k_max": 3, "methods": "kmeans,gmm", "n_resamples": 1, "map_sample": 200}


@pytest.fixture(scope="module")
def lab(finished_run, tmp_path_factory):
    """A workspace made from the finished run; notebook 03 changed and run alone."""
    before = checksums(finished_run)
    ws = RunFolder(tmp_path_factory.mktemp("lab") / "ws")
    workspace.make_workspace(ws.path, source=finished_run)
    made = checksums(ws.path)
    notebook = ws.notebook(CLUSTERING)
    workspace.bind_notebook(notebook, notebook, ws.path, TRIED)  # as edited in JupyterLab
    book = nbformat.read(notebook, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ws.notebooks)}}).execute()
    return finished_run, before, ws, made


def test_workspace_holds_the_runs_inputs_not_its_results(lab):
    finished, _, ws, made = lab
    assert read_study(ws) == read_study(RunFolder(finished))
    assert "inputs/transactions.parquet" in made and "study.json" in made
    assert not any(name.endswith(".csv") and "/" not in name for name in made)
    assert all(checksums(finished)[name] == digest for name, digest in made.items()
               if name.startswith("inputs/"))
    for name, _, _ in run.NOTEBOOKS:
        values = workspace.notebook_values(ws.notebook(name))
        source = ws.notebook(name).read_text()
        assert f"run_dir = {str(ws.path.resolve())!r}" in source.replace('\\"', "'")
        assert values.get("seed", 1) == 1  # the run's seed


def test_notebook_03_reruns_alone_in_the_workspace(lab):
    finished, before, ws, _ = lab
    assert checksums(finished) == before  # the published run is untouched
    comparison = pd.read_csv(ws.clustering_comparison)
    methods = comparison[comparison["kind"] == "clustering"]
    assert set(methods["method"]) == {"kmeans", "gmm"}
    assert methods["k"].max() <= TRIED["k_max"]
    assert "cluster" in pd.read_csv(ws.customers_csv).columns  # 01-02 ran on their own
    published = pd.read_csv(RunFolder(finished).k_selection)
    assert published["k"].max() == 4 and pd.read_csv(ws.k_selection)["k"].max() == 3


def test_the_monitor_charges_the_studys_costs(lab, monkeypatch):
    from seglab import dynamics

    charged = []
    real = dynamics.monitoring

    def spy(*args, **kwargs):
        charged.append(kwargs["costs"])
        return real(*args, **kwargs)

    monkeypatch.setattr(dynamics, "monitoring", spy)
    study.dynamics_stage(lab[2].path, steps=2)
    assert charged[0].return_cost == 20.0  # the run's costs, as notebook 04 charged them


def test_export_params_makes_the_tried_parameters_a_run(lab, tmp_path):
    ws = lab[2]
    path = workspace.export_params(ws.path, tmp_path / "params.yaml")
    params = yaml.safe_load(path.read_text())
    assert params == {"seed": 1, "costs": {"return_cost": 20.0}, CLUSTERING: TRIED}
    known = run.notebook_parameters(run.NOTEBOOK_DIR)
    options = run.check_options(run.RunOptions(params=run.load_params(path),
                                               out=tmp_path / "reports"), known)
    assert run.notebook_params(options.params, known)[CLUSTERING] == {**TRIED, "seed": 1}
    assert path.read_text().startswith("# Parameters tried in the workspace")


def test_export_refuses_two_seeds(lab, tmp_path):
    import shutil

    ws, copy = lab[2], RunFolder(tmp_path / "ws")
    shutil.copytree(ws.notebooks, copy.notebooks)
    shutil.copy(ws.study, copy.study)
    workspace.bind_notebook(copy.notebook("07-campaigns"), copy.notebook("07-campaigns"),
                            copy.path, {"seed": 5})
    with pytest.raises(ConfigError, match="different seeds"):
        workspace.export_params(copy.path, tmp_path / "p.yaml")


def test_lab_no_start_makes_the_workspace_and_prints_the_command(finished_run, tmp_path):
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["lab", str(finished_run), "--workspace", str(ws),
                                 "--no-start", "--no-browser"])
    assert result.exit_code == 0, result.output
    assert re.search(r"-m jupyterlab .*root_dir=.*ws/notebooks --no-browser", result.stdout)
    assert RunFolder(ws).notebook(CLUSTERING).exists()
    again = runner.invoke(app, ["lab", str(finished_run), "--workspace", str(ws),
                                "--no-start"])
    assert again.exit_code == 0 and "reopening" in again.output


@pytest.mark.parametrize(("args", "message"), [
    (["--columns", "customer=Kunde"], r"--columns: unknown canonical column 'customer'"),
    (["--data", "nowhere.csv"], r"nowhere\.csv"),
    (["RUN"], r"not a run folder with staged inputs"),
])
def test_lab_checks_its_inputs_as_run_does(tmp_path, args, message):
    args = [str(tmp_path) if a == "RUN" else a for a in args]
    ws = tmp_path / "ws"
    result = runner.invoke(app, ["lab", *args, "--workspace", str(ws), "--no-start"])
    assert result.exit_code == 2, result.output
    assert re.search(message, result.output), result.output
    assert not ws.exists()


def test_a_finished_run_is_no_workspace(finished_run):
    with pytest.raises(ConfigError, match="finished run"):
        workspace.make_workspace(finished_run, source=finished_run)


def test_a_workspace_records_the_language_asked_or_keeps_the_runs(finished_run, tmp_path):
    try:
        i18n.cjk_font()
    except ConfigError:
        pytest.skip("no font with Chinese characters")
    kept = tmp_path / "kept"
    workspace.make_workspace(kept, source=finished_run)
    assert read_study(RunFolder(kept)).lang == read_study(RunFolder(finished_run)).lang
    chinese = tmp_path / "zh"
    workspace.make_workspace(chinese, source=finished_run, lang="zh")
    assert read_study(RunFolder(chinese)).lang == "zh"
    again = tmp_path / "again"
    workspace.make_workspace(again, source=chinese)  # a workspace from a zh one stays zh
    assert read_study(RunFolder(again)).lang == "zh"
    staged = tmp_path / "staged"
    result = runner.invoke(app, ["lab", "--synthetic-customers", "60", "--lang", "zh",
                                 "--workspace", str(staged), "--no-start"])
    assert result.exit_code == 0, result.output
    assert read_study(RunFolder(staged)).lang == "zh"
    refused = runner.invoke(app, ["lab", str(finished_run), "--lang", "fr", "--workspace",
                                  str(tmp_path / "fr"), "--no-start"])
    assert refused.exit_code == 2 and "--lang must be one of en, zh" in refused.output
    assert not (tmp_path / "fr").exists()
