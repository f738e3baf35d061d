"""The Simplified Chinese catalogue: complete, placeholder-safe, compiled, and used by the API.

``locale/zh_Hans/LC_MESSAGES/django.po`` is the source; ``django.mo`` beside it is committed so that
neither CI nor a deployment needs the gettext tools. After ``makemessages`` adds strings, translate
them, run ``compilemessages -l zh_Hans`` and commit both files; these tests say what is missing.
"""

from __future__ import annotations

import ast
import gettext as gettext_module
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from rest_framework.test import APIClient

from tests.factories import bearer, member

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_FILE = LC_MESSAGES / "django.po"
MO_FILE = LC_MESSAGES / "django.mo"


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # plural index -> text; 0 for a singular entry
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    obsolete: bool = False

    @property
    def where(self) -> str:
        return " ".join(self.references) or repr(self.msgid)


def parse_po(text: str) -> list[Entry]:
    """A small PO parser: enough for what xgettext/msgmerge write (no polib in the test environment)."""
    entries: list[Entry] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        entry = Entry(msgid="")
        keyword = None
        seen_msgid = False
        for raw in block.splitlines():
            line = raw.strip()
            if line.startswith("#~"):
                entry.obsolete = True
                line = line[2:].strip()
                if not line or line.startswith("#"):
                    continue
            elif line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
                continue
            elif line.startswith("#:"):
                entry.references.extend(line[2:].split())
                continue
            elif line.startswith("#") or not line:
                continue
            match = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$", line)
            if match:
                keyword = match.group(1)
                value = ast.literal_eval(match.group(3))
                if keyword.startswith("msgstr"):
                    index = int(match.group(2) or 0)
                    entry.msgstr[index] = value
                    keyword = ("msgstr", index)
                else:
                    setattr(entry, keyword, value)
                    seen_msgid = seen_msgid or keyword == "msgid"
            elif line.startswith('"') and keyword is not None:
                value = ast.literal_eval(line)
                if isinstance(keyword, tuple):
                    entry.msgstr[keyword[1]] += value
                else:
                    setattr(entry, keyword, getattr(entry, keyword) + value)
            else:
                raise ValueError(f"Unparsable line in {PO_FILE.name}: {raw!r}")
        if seen_msgid:
            entries.append(entry)
    return entries


def _load() -> tuple[dict[str, str], list[Entry]]:
    entries = parse_po(PO_FILE.read_text(encoding="utf-8"))
    header_entries = [e for e in entries if e.msgid == "" and e.msgctxt is None]
    assert len(header_entries) == 1, "the .po file has no (or several) header entries"
    header = dict(
        line.split(":", 1) for line in header_entries[0].msgstr.get(0, "").splitlines() if ":" in line
    )
    return {k.strip(): v.strip() for k, v in header.items()}, [
        e for e in entries if e.msgid != "" and not e.obsolete
    ]


HEADER, ENTRIES = _load()

# %(name)s, %s, %d, %.1f, %% ... and str.format fields {}, {name}, {0:.1f}
PLACEHOLDER = re.compile(
    r"%\([^)]+\)[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"
    r"|%[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]"
    r"|\{[^{}\s]*\}"
)


def placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text))


def _translations(entry: Entry) -> list[str]:
    return [entry.msgstr.get(index, "") for index in range(max(len(entry.msgstr), 1))]


def test_the_catalogue_exists_and_has_a_proper_header():
    assert PO_FILE.is_file() and MO_FILE.is_file()
    assert HEADER.get("Language") == "zh_Hans"
    assert HEADER.get("Content-Type") == "text/plain; charset=UTF-8"
    assert HEADER.get("Plural-Forms") == "nplurals=1; plural=0;"
    for name in ("Project-Id-Version", "PO-Revision-Date", "Last-Translator", "Language-Team"):
        value = HEADER.get(name, "")
        assert value and "YEAR" not in value and "FULL NAME" not in value and "PACKAGE" not in value, name
    assert ENTRIES, "the catalogue holds no messages; run makemessages"


def test_every_message_is_translated_and_none_is_fuzzy():
    untranslated = [e.where for e in ENTRIES if not all(s.strip() for s in _translations(e))]
    fuzzy = [e.where for e in ENTRIES if "fuzzy" in e.flags]
    assert not (untranslated or fuzzy), (
        f"{len(untranslated)} messages without a translation: {untranslated}; "
        f"{len(fuzzy)} fuzzy messages (Django ignores them): {fuzzy}"
    )


def test_plural_messages_have_exactly_one_form():
    for entry in ENTRIES:
        if entry.msgid_plural is not None:
            assert sorted(entry.msgstr) == [0], f"{entry.where}: Chinese has one plural form, msgstr[0]"
        else:
            assert sorted(entry.msgstr) == [0], f"{entry.where}: a singular message has msgstr only"


def test_every_translation_keeps_the_placeholders():
    wrong = []
    for entry in ENTRIES:
        expected = placeholders(entry.msgid)
        if entry.msgid_plural is not None:
            # The one Chinese form serves every count, so it shows the plural's placeholders.
            expected = placeholders(entry.msgid_plural)
        for text in _translations(entry):
            if placeholders(text) != expected:
                wrong.append(f"{entry.where}: {entry.msgid!r} -> {text!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_the_translations_are_chinese_and_carry_no_stray_whitespace():
    han = re.compile(r"[\u4e00-\u9fff]")
    # Names that stay as they are in Chinese text.
    untranslatable = {"English"}
    for entry in ENTRIES:
        for text in _translations(entry):
            assert text == text.strip() or entry.msgid != entry.msgid.strip(), f"{entry.where}: {text!r}"
            if entry.msgid not in untranslatable:
                assert han.search(text), f"{entry.where}: {entry.msgid!r} is not translated into Chinese: {text!r}"


def test_the_committed_mo_file_is_compiled_from_the_current_po_file():
    """The .mo holds exactly the .po's translations: after editing the .po, run compilemessages."""
    with MO_FILE.open("rb") as handle:
        compiled = gettext_module.GNUTranslations(handle)
    catalog = dict(compiled._catalog)  # noqa: SLF001 - the parsed .mo, keyed like the .po
    catalog.pop("", None)  # the header
    expected = {}
    for entry in ENTRIES:
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            expected[key] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                expected[(key, index)] = text
    stale = sorted(str(k) for k in expected.keys() ^ catalog.keys())
    stale += sorted(str(k) for k in expected.keys() & catalog.keys() if expected[k] != catalog[k])
    assert not stale, f"django.mo is out of date; run compilemessages -l zh_Hans. Differences: {stale[:20]}"


def test_django_serves_every_translation_in_chinese_and_the_source_in_english():
    with translation.override("zh-hans"):
        wrong = [
            e.where
            for e in ENTRIES
            if e.msgid_plural is None and e.msgctxt is None and translation.gettext(e.msgid) != e.msgstr[0]
        ]
        for entry in (e for e in ENTRIES if e.msgid_plural is not None and e.msgctxt is None):
            for count in (1, 2, 5):
                if translation.ngettext(entry.msgid, entry.msgid_plural, count) != entry.msgstr[0]:
                    wrong.append(entry.where)
    assert not wrong, f"Django does not serve these translations from locale/: {wrong}"
    with translation.override("en"):
        assert translation.gettext("Must be between 1 and %(max)s.") == "Must be between 1 and %(max)s."


def _client(user=None, **headers) -> APIClient:
    """A client that sends exactly the headers given (and a bearer token for ``user``), nothing else."""
    client = APIClient()
    if user is not None:
        headers["HTTP_AUTHORIZATION"] = bearer(user)
    client.credentials(**headers)
    return client


def _msgstr(msgid: str) -> str:
    return next(e.msgstr[0] for e in ENTRIES if e.msgid == msgid and e.msgctxt is None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "accept_language, chinese",
    [
        (None, True),  # no preference: LANGUAGE_CODE, Simplified Chinese
        ("zh-CN,zh;q=0.9", True),
        ("zh-Hans", True),
        ("en", False),
        ("en-US,en;q=0.9,zh-CN;q=0.8", False),
    ],
)
def test_an_api_error_speaks_the_language_of_the_request(accept_language, chinese):
    headers = {} if accept_language is None else {"HTTP_ACCEPT_LANGUAGE": accept_language}
    response = _client(member("viewer"), **headers).get("/api/v1/pilots/?page_size=0")

    assert response.status_code == 400
    body = response.json()
    (error,) = body["errors"]
    assert (error["field"], error["code"]) == ("page_size", "out_of_range")
    detail, message = "The request has invalid fields.", "Must be between 1 and %(max)s."
    if chinese:
        detail, message = _msgstr(detail), _msgstr(message)
        assert re.search(r"[\u4e00-\u9fff]", body["detail"])
    assert body["detail"] == detail
    assert error["message"] == message % {"max": settings.API_MAX_PAGE_SIZE}
    assert response["Content-Language"] == ("zh-hans" if chinese else "en")


@pytest.mark.django_db
def test_drf_and_django_messages_are_chinese_too():
    """Messages from DRF itself (no token given) come from DRF's own zh_Hans catalogue."""
    response = _client().get("/api/v1/pilots/")
    english = _client(HTTP_ACCEPT_LANGUAGE="en").get("/api/v1/pilots/")

    assert response.status_code == english.status_code == 401
    assert re.search(r"[\u4e00-\u9fff]", response.json()["detail"])
    assert not re.search(r"[\u4e00-\u9fff]", english.json()["detail"])
