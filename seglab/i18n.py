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
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC",
             "Noto Serif CJK SC", "AR PL UMing CN", "Noto Sans CJK JP", "Arial Unicode MS")

#: Chinese reports write money of at least this much in 万 (10,000) or 亿 (100 million).
WAN = 10_000
YI = 100_000_000


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
    return column_entry(column).get(lang, column)


def column_entry(column: str) -> dict[str, str]:
    """Return a column's entry of the data dictionary ``columns.yaml``.

    Keys: ``en`` and ``zh`` (its labels), ``meaning`` and ``meaning_zh`` (what it
    holds); an unknown column gives an empty dict. A key ending in ``*`` covers the
    columns that start with the rest of it (``category_share_*``), its ``{}`` standing
    for the remainder of the column's name.
    """
    entries = _columns()
    if column in entries:
        return dict(entries[column])
    for key, entry in entries.items():
        if key.endswith("*") and column.startswith(key[:-1]):
            rest = column[len(key) - 1:]
            return {field: str(text).replace("{}", rest) for field, text in entry.items()}
    return {}


def cjk_font() -> str:
    """Return the name of an installed font that draws Chinese characters.

    The first of :data:`CJK_FONTS` matplotlib knows; fonts installed after matplotlib
    built its font cache are looked for on disk and registered for this session.

    Raises
    ------
    ConfigError
        When there is none: a Chinese chart would show boxes instead of characters.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    installed = {font.name for font in manager.ttflist}
    if not installed.intersection(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if "cjk" in path.lower() or "wqy" in path.lower():
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        installed = {font.name for font in manager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    raise ConfigError("A Chinese report needs a font with Chinese characters and none is "
                      "installed; install one (Debian/Ubuntu: apt-get install fonts-noto-cjk) "
                      "and run again.")


def money(value: float | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """Return a money amount for a reader of ``lang``: whole units, thousands separated.

    Chinese reports write amounts of 10,000 or more (either sign) in 万 or 亿 with two
    decimals, as Chinese financial reports do: ``1234567`` is ``123.46万`` and
    ``250000000`` is ``2.50亿``; smaller amounts, and every English one, in full
    (``1,234,567``). The files a run writes always hold the full amounts.

    Parameters
    ----------
    value : float or None
        The amount; None or NaN gives "".
    lang : {"en", "zh"}
        The report's language.

    Returns
    -------
    str
    """
    if value is None or value != value:  # NaN
        return ""
    if round(value) == 0:
        return "0"  # not "-0" for a small refund
    size = abs(value)
    if lang == "zh" and size >= YI:
        return f"{value / YI:,.2f}亿"
    if lang == "zh" and size >= WAN:
        return f"{value / WAN:,.2f}万"
    return f"{value:,.0f}"


def short_money(value: float, lang: str = DEFAULT_LANGUAGE) -> str:
    """Return money in a few characters for a chart: 950 / 12.3k / 4.56m / 1.20bn.

    In Chinese: 950 / 1.2万 / 456.3万 / 200万 / 1.2亿 (a trailing ".0" dropped).
    """
    size = abs(value)
    if lang == "zh":
        if size >= YI:
            return f"{value / YI:,.2f}".rstrip("0").removesuffix(".") + "亿"
        if size >= WAN:
            return f"{value / WAN:,.1f}".removesuffix(".0") + "万"
    else:
        if size >= 1e9:
            return f"{value / 1e9:,.2f}bn"
        if size >= 1e6:
            return f"{value / 1e6:,.2f}m"
        if size >= 1e4:
            return f"{value / 1e3:,.1f}k"
    if size < 10 and value != round(value):
        return f"{value:.1f}"
    return f"{value:,.0f}"
