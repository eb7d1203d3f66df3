"""Workspaces for JupyterLab (``seglab lab``): try parameters without touching a run.

A workspace is a run folder of its own, made from a run's staged inputs (``inputs/``
and ``study.json``, not its results) or from ``--data`` staged as ``seglab run`` does.
Its ``notebooks/`` holds copies of the study's notebooks whose parameters cell names
the workspace as ``run_dir``, so each notebook reads and writes there, and re-running
one (notebook 03 with another ``k_max``) reuses what the notebooks before it left.
:func:`export_params` turns the workspace notebooks' parameters into a params file
for ``seglab run --params``.
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
import yaml

from seglab import i18n, profit, run, synth
from seglab.errors import ConfigError
from seglab.runfolder import FILES, RunFolder, read_study, write_study

logger = logging.getLogger(__name__)

#: Folder that holds the workspaces when ``--workspace`` is not given.
WORKSPACES = Path("workspaces")


def default_workspace(source: Path | None, data: Path | None) -> Path:
    """Return ``workspaces/<name>``: the run's id, the data file's stem, or ``synthetic``.

    Parameters
    ----------
    source : pathlib.Path or None
        The run the workspace is made from.
    data : pathlib.Path or None
        The transaction file it is made from.
    """
    if source is not None:
        return WORKSPACES / Path(source).resolve().name
    if data is not None:
        return WORKSPACES / Path(str(data).rstrip("/*")).name.split(".")[0]
    return WORKSPACES / "synthetic"


def make_workspace(
    workspace: Path,
    *,
    source: Path | None = None,
    options: run.RunOptions | None = None,
    notebook_dir: Path = run.NOTEBOOK_DIR,
    lang: str | None = None,
) -> Path:
    """Make a workspace, or reopen the one already there.

    Parameters
    ----------
    workspace : pathlib.Path
        The workspace folder.
    source : pathlib.Path, optional
        A run folder (finished or not) whose staged inputs and settings are copied.
    options : seglab.run.RunOptions, optional
        Intake options and params file as for ``seglab run``: without ``source``, the
        data is staged from them (the synthetic study when ``options.data`` is None);
        with it, the params file's shared ``time_unit`` and ``costs`` replace the run's.
        The params file's notebook sections go into the workspace notebooks.
    notebook_dir : pathlib.Path
        The study's notebooks.
    lang : {"en", "zh"}, optional
        Report language recorded in the workspace (``--lang``); default: the run's
        language with ``source``, else ``options.lang``.

    Returns
    -------
    pathlib.Path
        The workspace's notebooks folder.

    Raises
    ------
    ConfigError
        If ``source`` has no staged inputs, the workspace is a finished run, or it
        exists and ``--data`` asks for other data.
    InputError
        If the data cannot be staged (as ``seglab run``).
    """
    options = options or run.RunOptions()
    if lang is not None:
        options = dataclasses.replace(options, lang=lang)
    known = run.notebook_parameters(notebook_dir)
    ws = RunFolder(Path(workspace))
    ws.check_writable()
    if ws.study.is_file():
        if source is None and options.data is not None:
            raise ConfigError(f"{ws.path}: a workspace exists here already; remove it or "
                              "choose another --workspace for --data.")
        logger.info("reopening the workspace %s (remove it to start afresh)", ws.path)
        return ws.notebooks
    if ws.path.exists() and any(ws.path.iterdir()):
        raise ConfigError(f"{ws.path}: not empty and not a workspace; choose another "
                          "--workspace.")
    asked_seed = options.seed if options.seed is not None else options.params.get("seed")
    options = run.check_options(dataclasses.replace(options, out=ws.path.parent), known)
    ws.path.mkdir(parents=True, exist_ok=True)
    try:
        if source is not None:
            _copy_inputs(RunFolder(Path(source)), ws, options.params, lang=lang)
        else:
            run.stage_options(options, ws.path)
        sections = run.notebook_params(options.params, known,
                                       source=str(options.params_file or "params file"))
        for name, _, _ in run.NOTEBOOKS:
            values = {**sections[name]}
            if "seed" in known[name]:
                values["seed"] = read_study(ws).seed if asked_seed is None else asked_seed
            bind_notebook(notebook_dir / f"{name}.ipynb", ws.notebook(name), ws.path, values)
    except BaseException:
        shutil.rmtree(ws.path, ignore_errors=True)
        raise
    return ws.notebooks


def _copy_inputs(source: RunFolder, ws: RunFolder, params: dict[str, Any], *,
                 lang: str | None = None) -> None:
    """Copy a run's staged inputs and settings (not its results) into a workspace.

    The workspace keeps the run's report language unless ``lang`` names another.
    """
    if not source.inputs.is_dir() or not source.study.is_file():
        private = " (with --mask-pii they are in <out>/private/<run-id>/)" \
            if source.study.is_file() else ""
        raise ConfigError(f"{source.path}: not a run folder with staged inputs "
                          f"({FILES.inputs}/ and {FILES.study}){private}.")
    meta = read_study(source)
    shutil.copytree(source.inputs, ws.inputs)
    changes: dict[str, Any] = {}
    if "time_unit" in params:
        changes["time_unit"] = params["time_unit"]
    if "costs" in params:
        base = synth.COST_TABLE if meta.synthetic else profit.CostTable()
        table = profit.cost_table(params["costs"], base=base)
        changes["costs"] = {f.name: getattr(table, f.name) for f in dataclasses.fields(table)}
    if lang is not None:
        changes["lang"] = i18n.check_language(lang)
    if changes.get("lang", meta.lang) == "zh":
        i18n.cjk_font()  # the workspace's charts would show boxes instead of characters
    write_study(ws, dataclasses.replace(meta, **changes))


def bind_notebook(notebook: Path, target: Path, run_dir: Path,
                  values: dict[str, Any] | None = None) -> Path:
    """Copy a notebook whose parameters cell sets ``run_dir`` (and ``values``).

    Each parameter's line keeps its comment; only the value changes.

    Parameters
    ----------
    notebook : pathlib.Path
        The study's notebook.
    target : pathlib.Path
        Where the copy goes.
    run_dir : pathlib.Path
        The folder the copy reads and writes (stored absolute).
    values : dict, optional
        Parameter → value to write into the parameters cell.

    Returns
    -------
    pathlib.Path
        ``target``.
    """
    book = nbformat.read(notebook, as_version=4)
    cell = _parameters_cell(book, notebook)
    lines = cell.source.splitlines()
    for name, value in {"run_dir": str(Path(run_dir).resolve()), **(values or {})}.items():
        for i, line in enumerate(lines):
            if line.split("=", 1)[0].strip() == name:
                comment = line[line.index("  #"):] if "  #" in line else ""
                if name == "run_dir":
                    comment = "  # this workspace (seglab lab); finished runs are read-only"
                lines[i] = f"{name} = {value!r}{comment}"
    cell.source = "\n".join(lines)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(book, target)
    return target


def _parameters_cell(book: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    for cell in book.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell
    raise ConfigError(f"{path}: no cell tagged 'parameters'.")


def notebook_values(notebook: Path) -> dict[str, Any]:
    """Read a notebook's parameters cell as values (``run_dir`` left out).

    Raises
    ------
    ConfigError
        If a parameter is not a plain value (a number, text, list or mapping).
    """
    cell = _parameters_cell(nbformat.read(notebook, as_version=4), notebook)
    values = {}
    for statement in ast.parse(cell.source).body:
        if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)):
            continue
        name = statement.targets[0].id
        try:
            values[name] = ast.literal_eval(statement.value)
        except ValueError:
            raise ConfigError(f"{notebook}: parameter {name} = "
                              f"{ast.get_source_segment(cell.source, statement.value)} is "
                              "not a plain value; write the value itself.") from None
    values.pop("run_dir", None)
    return values


def export_params(workspace: Path, path: Path, *,
                  notebook_dir: Path = run.NOTEBOOK_DIR) -> Path:
    """Write the workspace notebooks' parameters as a params file for ``seglab run``.

    The file holds the study's shared settings (``seed``; ``time_unit`` and the
    ``costs`` that differ from the defaults) at the top level and a section per
    notebook with the parameters that differ from the study's notebooks, so a
    scheduled run repeats what was tried: ``seglab run --params FILE``.

    Parameters
    ----------
    workspace : pathlib.Path
        A workspace made by :func:`make_workspace`.
    path : pathlib.Path
        The params file to write.
    notebook_dir : pathlib.Path
        The study's notebooks (their values are the defaults).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ConfigError
        If ``workspace`` is not a workspace, its notebooks give different seeds, or a
        parameter is not a plain value.
    """
    ws = RunFolder(Path(workspace))
    if not ws.notebooks.is_dir() or not ws.study.is_file():
        raise ConfigError(f"{ws.path}: not a workspace (no {FILES.notebooks}/ or "
                          f"{FILES.study}); make one with seglab lab.")
    meta = read_study(ws)
    shared: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    seeds: dict[str, Any] = {}
    for name, _, _ in run.NOTEBOOKS:
        tried = notebook_values(ws.notebook(name)) if ws.notebook(name).exists() else {}
        defaults = notebook_values(notebook_dir / f"{name}.ipynb")
        if "seed" in tried:
            seeds[name] = tried.pop("seed")
        changed = {k: v for k, v in tried.items() if k in defaults and v != defaults[k]}
        if changed:
            sections[name] = changed
    if len(set(seeds.values())) > 1:
        raise ConfigError(f"{ws.path}: the notebooks use different seeds ({seeds}); a run "
                          "takes one seed: make them equal.")
    shared["seed"] = next(iter(seeds.values()), meta.seed)
    if meta.time_unit != "D":
        shared["time_unit"] = meta.time_unit
    base = synth.COST_TABLE if meta.synthetic else profit.CostTable()
    costs = {k: v for k, v in meta.costs.items() if getattr(base, k) != v}
    if costs:
        shared["costs"] = costs
    run.check_params({**shared, **sections}, run.notebook_parameters(notebook_dir),
                     source=str(path))
    header = (f"# Parameters tried in the workspace {ws.path.resolve()}\n"
              f"# (data: {meta.source}). Run them: seglab run --params {path}"
              f"{'' if meta.synthetic else ' --data ...'}\n")
    Path(path).write_text(header + yaml.safe_dump({**shared, **sections}, sort_keys=False,
                                                  allow_unicode=True), encoding="utf-8")
    return Path(path)


def lab_command(workspace: Path, *, browser: bool = True) -> list[str]:
    """Return the command that starts JupyterLab on a workspace's notebooks."""
    command = [sys.executable, "-m", "jupyterlab",
               f"--ServerApp.root_dir={RunFolder(Path(workspace)).notebooks.resolve()}"]
    return command if browser else [*command, "--no-browser"]
