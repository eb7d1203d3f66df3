"""Every markdown cell of every notebook comes in English and Chinese.

The report renderer keeps one language's markdown cells (tag ``lang-en`` or ``lang-zh``) and
drops the other's, so each English cell must be followed by its Chinese twin, whose id is the
English id plus ``-zh``. The code names a cell quotes in backticks must be the same in both:
a parameter renamed in the English text but not in the Chinese one fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
LANGUAGE_TAGS = ("lang-en", "lang-zh")
CHINESE = re.compile(r"[\u4e00-\u9fff]")
CODE_NAME = re.compile(r"`([^`\n]+)`")
HEADING = re.compile(r"^(#{1,6}) ", flags=re.MULTILINE)


def markdown_cells(path: Path) -> list[tuple[int, nbformat.NotebookNode]]:
    book = nbformat.read(path, as_version=4)
    return [(i, cell) for i, cell in enumerate(book.cells) if cell.cell_type == "markdown"]


def language(cell: nbformat.NotebookNode) -> str:
    tags = [t for t in cell.metadata.get("tags", []) if t in LANGUAGE_TAGS]
    assert len(tags) == 1, f"markdown cell {cell.id!r} has language tags {tags}, wants one of " \
                           f"{LANGUAGE_TAGS}"
    return tags[0]


def twins(path: Path) -> list[tuple[nbformat.NotebookNode, nbformat.NotebookNode]]:
    """The (English, Chinese) pairs of a notebook, checked to be adjacent and matching."""
    book = nbformat.read(path, as_version=4)
    pairs = []
    for i, cell in enumerate(book.cells):
        if cell.cell_type != "markdown" or language(cell) != "lang-en":
            continue
        after = book.cells[i + 1] if i + 1 < len(book.cells) else None
        assert after is not None and after.cell_type == "markdown" \
            and language(after) == "lang-zh" and after.id == f"{cell.id}-zh", \
            f"{path.name}: English cell {cell.id!r} is not followed by its Chinese twin " \
            f"{cell.id + '-zh'!r}"
        pairs.append((cell, after))
    return pairs


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_markdown_cell_has_one_language(path):
    cells = markdown_cells(path)
    assert cells
    for _, cell in cells:
        language(cell)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_english_cell_is_followed_by_its_chinese_twin(path):
    pairs = twins(path)
    chinese = [cell.id for _, cell in markdown_cells(path) if language(cell) == "lang-zh"]
    assert sorted(zh.id for _, zh in pairs) == sorted(chinese), \
        f"{path.name}: Chinese cells without an English cell just before them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chinese_twins_are_chinese_and_name_the_same_code(path):
    for en, zh in twins(path):
        assert CHINESE.search(zh.source), f"{path.name}: {zh.id!r} holds no Chinese"
        assert set(CODE_NAME.findall(zh.source)) == set(CODE_NAME.findall(en.source)), \
            f"{path.name}: {zh.id!r} quotes other code names than {en.id!r}"
        assert HEADING.findall(zh.source) == HEADING.findall(en.source), \
            f"{path.name}: {zh.id!r} has other headings than {en.id!r}"

