"""The whole study on every log shape users bring: each completes, and says what it lacks.

One small synthetic log (``tests/data_shapes.py``) is cut into the shapes; each runs
every notebook through ``run_study`` in one shared kernel (the notebooks themselves run
with a fresh kernel each under nbval and ``seglab run``). That kernel lays every chart out
but paints no picture (``conftest.layout_kernel``): the small and fresh-kernel runs and
nbval paint them.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
import yaml
from conftest import FAST_PARAMS
from data_shapes import SHAPES, Shape, base_log, write_shape

from seglab import privacy, run

#: Fast settings: the shapes check that the study completes and says what it lacks.
PARAMS = FAST_PARAMS


@pytest.fixture(scope="module")
def base():
    return base_log()


def test_a_chart_that_cannot_be_drawn_fails_in_the_layout_kernel(layout_kernel, tmp_path):
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        "%matplotlib inline\nimport matplotlib.pyplot as plt",
        "fig, ax = plt.subplots(); ax.plot([1, 2]); ax.set_title('drawn')",
        "fig, ax = plt.subplots(); ax.set_title(r'$\\frac{1$')",  # unparsable math text
    )])
    nbformat.write(book, tmp_path / "charts.ipynb")
    with pytest.raises(papermill.PapermillExecutionError, match="frac") as failed:
        papermill.execute_notebook(str(tmp_path / "charts.ipynb"), str(tmp_path / "out.ipynb"),
                                   km=layout_kernel, kernel_name="python3", progress_bar=False)
    assert failed.value.cell_index == 2
    cells = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
    drawn = next(cell for cell in cells if "'drawn'" in cell.source).outputs
    assert drawn and all(list(output["data"]) == ["text/plain"] for output in drawn)  # no PNG


@pytest.fixture(scope="module")
def params(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(PARAMS))
    return path


def report_notes(run_dir: Path) -> list[str]:
    """The one-line notes the run's HTML reports show, in notebook order."""
    found = []
    for page in sorted(run_dir.glob("0*.html")):
        found += [html.unescape(n) for n in re.findall(
            r'class="seglab-note"><strong>Note\.</strong> ([^<]*)', page.read_text())]
    return found


def shared_safely(folder: Path) -> None:
    """A masked run: no customer id in what it shares, and markup shows as text."""
    out, run_id = folder.parent, folder.name
    private = out / "private" / run_id
    shared = pd.read_csv(folder / "customers.csv", dtype={"customer_id": str})
    crm = pd.read_csv(private / "customers.csv", dtype={"customer_id": str})
    assert len(shared) == len(crm)
    assert shared["customer_id"].str.fullmatch(r"id_[0-9a-f]{12}").all()
    assert shared["customer_id"].tolist() == privacy.mask_values(
        crm["customer_id"], privacy.salt_for(out)).tolist()
    assert not (folder / "inputs").exists() and not list(folder.glob("*.parquet"))
    assert not (folder / "recommendations.csv").exists()
    assert (private / "recommendations.csv").is_file()
    pages = "".join(p.read_text() for p in folder.glob("*.html"))
    assert not any(cid in pages for cid in crm["customer_id"].head(50))
    assert "personal identifiers masked" in (folder / "index.html").read_text()

    page = folder / "01-data-profile.html"
    assert "&lt;script&gt;document.title" in page.read_text()
    assert "<img src=x onerror" not in page.read_text()
    if shutil.which("chromium") is None:
        pytest.skip("masked and escaped in the files; chromium is not installed to read "
                    "the page as a browser does")
    dom = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--no-first-run",
         f"--user-data-dir={out / 'chrome'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    assert "data-pwned" not in dom
    assert "<title>pwned</title>" not in dom
    assert "&lt;script&gt;document.title" in dom  # shown as text on the page


def ids_kept_as_text(folder: Path) -> None:
    """Numeric customer ids keep their leading zeros in the files a run writes."""
    ids = pd.read_csv(folder / "customers.csv", dtype={"customer_id": str})["customer_id"]
    assert ids.str.fullmatch(r"0\d{7}").all(), ids.head().tolist()


#: What else a shape's finished run must show, given the run folder.
CHECKS = {"markup_in_text_masked": shared_safely,
          "european_csv_zero_padded_ids": ids_kept_as_text}


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_every_shape_completes_the_study_and_says_what_it_lacks(
        shape: Shape, base, params, layout_kernel, tmp_path):
    data = write_shape(shape, tmp_path, base)
    started = time.perf_counter()
    index = run.run_study(run.RunOptions(
        data=data, out=tmp_path / "reports", run_id=shape.name, params=run.load_params(params),
        **shape.options), kernel=layout_kernel)
    seconds = time.perf_counter() - started
    folder = index.parent
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "succeeded"
    assert all(n["status"] == "succeeded" for n in manifest["notebooks"])
    notes = report_notes(folder)
    for expected in shape.notes:
        assert any(expected in note for note in notes), (expected, notes)
    sections = json.loads((folder / "metrics.json").read_text())["sections"]
    shown = {entry["note"] for entry in sections.values() if "note" in entry}
    assert shown <= set(notes)
    print(f"\n{shape.name}: {seconds:.1f} s; notes: {notes}")
    if shape.name in CHECKS:
        CHECKS[shape.name](folder)
