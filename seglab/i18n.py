"""Report languages: the message catalogs behind every string seglab writes into a report.

English is the source language: a message is written in the code in English, as a
``str.format`` template, and passed through :func:`text` with the report's language::

    i18n.text("{customers:,} customers bought in the last {days} days", lang,
              customers=1200, days=90)

Chinese translations live in ``seglab/locales/zh/*.yaml`` (one file per module, each a
mapping of the English template to its translation, placeholders kept). YAML rather than
gettext's compiled ``.mo`` files: no build step, and translators edit plain text.
``tests/test_i18n.py`` reads every ``i18n.text`` call in ``seglab/`` and fails when a
literal message has no translation or a translation drops a placeholder.

Column names of the files a run writes never change with the language (schedulers and
CRMs read them); :func:`column_label` gives their display label, and
``seglab/locales/columns.yaml`` is the data dictionary of both languages.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path

import yaml

from seglab.errors import ConfigError

#: Report languages: English (the source) and simplified Chinese.
LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"

LOCALES = Path(__file__).resolve().parent / "locales"

#: Fonts with Chinese glyphs, tried in order (Noto comes with ``fonts-noto-cjk``).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC",
             "Noto Serif CJK SC", "AR PL UMing CN")


def check_language(lang: str) -> str:
    """Return ``lang`` if seglab writes reports in it.

    Raises
    ------
    ConfigError
        For any other value, naming the languages there are.
    """
    if lang not in LANGUAGES:
        raise ConfigError(f"--lang must be one of {', '.join(LANGUAGES)}, got {lang!r}.")
    return lang


@functools.cache
def catalog(lang: str) -> dict[str, str]:
    """Return the translations of ``lang``: English template -> translated template."""
    if check_language(lang) == "en":
        return {}
    found: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.yaml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for message, translation in entries.items():
            if message in found and found[message] != translation:
                raise ConfigError(f"{path}: {message!r} is translated differently in another "
                                  "catalog file.")
            found[message] = translation
    return found


def text(message: str, lang: str = DEFAULT_LANGUAGE, /, **values: object) -> str:
    """Return ``message`` in ``lang``, formatted with ``values``.

    Parameters
    ----------
    message : str
        The English template (``str.format`` fields, e.g. ``"{n:,} customers"``).
    lang : {"en", "zh"}
        The report's language.
    **values
        The template's fields.

    Returns
    -------
    str
        The translation (the English template when a message has none; the tests
        make sure every literal message has one), formatted.
    """
    template = catalog(lang).get(message, message) if lang != "en" else message
    return template.format(**values) if values else template


def fields(template: str) -> set[str]:
    """Return the field names of a ``str.format`` template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@functools.cache
def _columns() -> dict[str, dict[str, str]]:
    path = LOCALES / "columns.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {} if path.exists() else {}


def column_label(column: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """Return the display label of an output column (the column name itself in English)."""
    if lang == "en":
        return column
    return _columns().get(column, {}).get(lang, column)


def cjk_font() -> str:
    """Return the name of an installed font that draws Chinese characters.

    Raises
    ------
    ConfigError
        When there is none: a Chinese chart would show boxes instead of characters.
    """
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    raise ConfigError("A Chinese report needs a font with Chinese characters and none is "
                      "installed; install one (Debian/Ubuntu: apt-get install fonts-noto-cjk) "
                      "and run again.")
