"""Every message seglab writes into a report has a Chinese translation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from seglab import i18n
from seglab.errors import ConfigError

PACKAGE = Path(i18n.__file__).resolve().parent


def literal_messages() -> dict[str, str]:
    """Every literal first argument of an ``i18n.text(...)`` call in seglab/, with where."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "text" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "i18n" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found[node.args[0].value] = f"{path.name}:{node.lineno}"
    return found


def test_every_message_has_a_chinese_translation():
    zh = i18n.catalog("zh")
    missing = {message: where for message, where in literal_messages().items()
               if message not in zh}
    assert not missing, f"{len(missing)} messages without a translation: {missing}"


def test_translations_keep_the_fields():
    for message, translation in i18n.catalog("zh").items():
        assert i18n.fields(translation) == i18n.fields(message), message


def test_text_translates_and_formats():
    message = next(iter(i18n.catalog("zh")), None)
    if message is None:
        pytest.skip("no catalog yet")
    values = {name: 1 for name in i18n.fields(message)}
    assert i18n.text(message, "en", **values) == message.format(**values)
    assert i18n.text(message, "zh", **values) == i18n.catalog("zh")[message].format(**values)


def test_an_unknown_language_is_refused():
    with pytest.raises(ConfigError, match="--lang must be one of en, zh"):
        i18n.check_language("fr")


def test_column_labels_stay_names_in_english():
    assert i18n.column_label("customer_id") == "customer_id"
    assert i18n.column_label("customer_id", "zh") == "客户编号"
