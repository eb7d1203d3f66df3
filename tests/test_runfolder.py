"""The run-folder contract (seglab.runfolder): file names, study settings, read-only runs."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import papermill
import pytest
from conftest import checksums

from seglab import run, study
from seglab.errors import ConfigError
from seglab.runfolder import FILES, RunFolder, StudyMeta, read_study
from seglab.study import dynamics as study_dynamics

SEGLAB = Path(study.__file__).parent.parent

#: Modules that may spell these names: the contract itself, and the synthetic data's
#: own export folders (``synth.write_study``, ``synth_parts.write_study_parts``: data
#: files, not a run folder).
SPELLED_IN = ("runfolder.py", "synth.py", "synth_parts.py")


def _file_names() -> set[str]:
    names = set()
    for name, member in vars(RunFolder).items():
        if isinstance(member, property):
            path = getattr(FILES, name)
            if isinstance(path, Path) and path.suffix:
                names.add(path.name)
    return names


def test_no_module_spells_a_run_folder_file():
    names = _file_names()
    assert {"customers.parquet", "study.json", "metrics.json"} <= names
    found = []
    for module in sorted(SEGLAB.rglob("*.py")):
        if module.name in SPELLED_IN:
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{module.name}:{node.lineno} {node.value}")
    assert not found, found


def test_study_settings_are_staged_once_and_read_typed(finished_run):
    meta = read_study(RunFolder(finished_run))
    assert meta.synthetic and meta.n_customers == 300 and meta.seed == 1
    assert meta.time_unit == "D" and meta.engine == "duckdb"
    assert meta.cost_table().return_cost == 20.0  # the override
    assert meta.costs["category_margin_rates"]  # the synthetic study's own table
    assert meta.campaigns == ""  # planted campaigns, no labels mapped
    assert study.load_inputs(finished_run).support == meta.support


def test_a_folder_staged_by_an_older_seglab_is_refused(tmp_path):
    folder = RunFolder(tmp_path)
    folder.study.write_text(json.dumps({"as_of": "2024-01-01", "source": "x"}))
    with pytest.raises(ConfigError, match=r"study\.json: staged by an older seglab"):
        read_study(folder)


def test_bad_study_settings_are_refused_before_staging(tmp_path):
    with pytest.raises(ConfigError, match="time_unit='Q' is unknown"):
        study.stage_inputs(tmp_path / "a", time_unit="Q")
    with pytest.raises(ConfigError, match=r"unknown cost item\(s\) \['rent'\]"):
        study.stage_inputs(tmp_path / "b", costs={"rent": 1})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_planted_truth_is_found_by_a_field_not_the_source_text(finished_run):
    inputs = study.load_inputs(finished_run)
    renamed = dataclasses.replace(inputs.meta, source="renamed")
    assert study_dynamics._planted_movement(renamed, inputs.truth) is not None
    real = dataclasses.replace(inputs.meta, synthetic=False, n_customers=None)
    assert study_dynamics._planted_movement(real, inputs.truth) is None


STAGES = {
    "stage_inputs": lambda f: study.stage_inputs(f),
    "01 clean": lambda f: study.clean_stage(f),
    "02 features": lambda f: study.feature_stage(f),
    "03 clustering": lambda f: study.cluster_stage(f, k_max=4),
    "04 profit": lambda f: study.profit_stage(f),
    "05 dynamics": lambda f: study.dynamics_stage(f),
    "06 products": lambda f: study.products_stage(f),
    "07 campaigns": lambda f: study.campaigns_stage(f),
    "customer table": lambda f: study.write_customers(f, study.customer_table(f)),
}


def test_a_finished_run_refuses_every_stage_and_keeps_its_files(finished_run):
    before = checksums(finished_run)
    assert RunFolder(finished_run).finished
    for name, stage in STAGES.items():
        with pytest.raises(ConfigError, match=r"is a finished run and is read-only .* "
                                              r"open a workspace: seglab lab "):
            stage(finished_run)
        assert checksums(finished_run) == before, name


def test_a_notebook_pointed_at_a_finished_run_changes_nothing(finished_run, tmp_path,
                                                             study_kernel):
    before = checksums(finished_run)
    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(
            str(run.NOTEBOOK_DIR / "03-clustering-comparison.ipynb"),
            str(tmp_path / "03.ipynb"), parameters={"run_dir": str(finished_run), "k_max": 3},
            progress_bar=False, kernel_name="python3", km=study_kernel)
    assert error.value.ename == "ConfigError"
    assert "seglab lab" in error.value.evalue
    assert checksums(finished_run) == before


def test_meta_round_trips_exactly(finished_run):
    meta = read_study(RunFolder(finished_run))
    again = StudyMeta.from_json(json.loads(json.dumps(meta.to_json())), source=Path("x"))
    assert again == meta
