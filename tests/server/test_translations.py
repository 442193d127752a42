"""The Simplified Chinese catalog is complete, compiled and faithful to its placeholders.

Every text marked for translation in the server's templates and Python code is found the way
Django's ``makemessages`` finds it (``templatize`` for templates), and must have a translation in
``locale/zh_Hans/LC_MESSAGES/django.po``; the compiled ``django.mo`` must hold the same entries.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import polib
import pytest
from django.utils import translation
from django.utils.translation.template import templatize

import rfatrial.server

SERVER = Path(rfatrial.server.__file__).parent
CATALOG = SERVER / "locale" / "zh_Hans" / "LC_MESSAGES"
GETTEXT_CALLS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "gettext_noop"}
TEMPLATE_CALL = re.compile(r"\b(?:n?gettext)\((u?'(?:[^'\\]|\\.)*')")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\w+\}|<[^>]+>")


def template_messages() -> dict[str, str]:
    found = {}
    for path in SERVER.rglob("*.html"):
        code = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        for literal in TEMPLATE_CALL.findall(code):
            found[ast.literal_eval(literal)] = str(path.relative_to(SERVER))
    return found


def python_messages() -> dict[str, str]:
    found = {}
    for path in SERVER.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name in GETTEXT_CALLS and isinstance(first, ast.Constant):
                found[str(first.value)] = str(path.relative_to(SERVER))
    return found


@pytest.fixture(scope="module")
def catalog() -> polib.POFile:
    return polib.pofile(str(CATALOG / "django.po"))


def translated(entry: polib.POEntry) -> str:
    return entry.msgstr_plural.get(0, "") if entry.msgid_plural else entry.msgstr


def test_the_code_marks_its_texts_for_translation() -> None:
    # A guard on the extraction itself: if it found nothing, the next test would prove nothing.
    assert "Sign in" in template_messages()
    assert "The user name or the password is wrong." in python_messages()


def test_every_marked_text_has_a_chinese_translation(catalog: polib.POFile) -> None:
    entries = {e.msgid: e for e in catalog}
    marked = {**template_messages(), **python_messages()}
    missing = sorted(
        f"{where}: {msgid!r}" for msgid, where in marked.items() if msgid not in entries
    )
    assert not missing, "not in the catalog (run makemessages):\n" + "\n".join(missing)
    empty = sorted(
        f"{marked[m]}: {m!r}" for m in marked if not translated(entries[m]) or entries[m].fuzzy
    )
    assert not empty, "untranslated or fuzzy:\n" + "\n".join(empty)


def test_translations_keep_every_placeholder_and_tag(catalog: polib.POFile) -> None:
    for entry in catalog:
        text = translated(entry)
        if text:
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(entry.msgid)), (
                entry.msgid
            )


def test_the_compiled_catalog_is_the_source_catalog(catalog: polib.POFile) -> None:
    compiled = {e.msgid: translated(e) for e in polib.mofile(str(CATALOG / "django.mo")) if e.msgid}
    source = {e.msgid: translated(e) for e in catalog if translated(e) and not e.fuzzy}
    assert compiled == source, "django.mo is stale: compile django.po again"


def test_the_running_server_reads_the_catalog() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("Sign in") == "登录"
        assert translation.gettext("Adverse event") == "不良事件"
    with translation.override("en"):
        assert translation.gettext("Adverse event") == "Adverse event"
