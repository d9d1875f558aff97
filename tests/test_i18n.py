"""The editions' words: every message of the templates, the code and the configs has a Chinese
translation that is neither missing nor fuzzy, keeps its placeholders and markup, and uses the
glossary's terms; both editions show the same numbers; a language is a catalogue and a line of
config, and a bad one is one clear line."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from helpers import PROJECT
from stabreport.render import i18n
from stabreport.report.config import load_report
from stabreport.errors import ConfigError

LOCALES = PROJECT / "stabreport" / "locales"
CATALOGUE = LOCALES / "zh_CN" / "LC_MESSAGES" / "messages.po"
GLOSSARY = LOCALES / "glossary.md"
# Two gettext domains: the words of stabreport's code and templates, and the words of the
# lecture's report config and MkDocs configuration (a project's config has a domain of its own).
DOMAINS = {"messages": "babel.cfg", "report": "babel-report.cfg"}


@pytest.fixture(scope="module", params=sorted(DOMAINS))
def domain(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def extracted(domain, tmp_path_factory) -> dict[str, list[str]]:
    """Every message pybabel extracts now from the domain's sources, with where it comes from."""
    out = tmp_path_factory.mktemp("pot") / f"{domain}.pot"
    done = subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                           DOMAINS[domain], "-o", str(out), "."], cwd=PROJECT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    with out.open("rb") as handle:
        return {m.id: [f"{f}:{n}" for f, n in m.locations] for m in read_po(handle) if m.id}


@pytest.fixture(scope="module")
def catalogue(domain):
    with (LOCALES / "zh_CN" / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
        return read_po(handle)


def test_every_message_has_a_chinese_translation_that_is_not_fuzzy(extracted, catalogue):
    untranslated = [f"{where[0]}: {msgid!r}" for msgid, where in extracted.items()
                    if msgid not in catalogue or not catalogue[msgid].string]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert untranslated == [], f"{len(untranslated)} messages without a translation " \
        "(pybabel extract, then pybabel update; see the README):\n" + "\n".join(untranslated[:20])
    assert fuzzy == [], f"fuzzy translations: {fuzzy[:10]}"


def test_the_committed_template_is_what_the_sources_hold(domain, extracted):
    with (LOCALES / f"{domain}.pot").open("rb") as handle:
        committed = {m.id for m in read_po(handle) if m.id}
    assert committed == set(extracted), (
        f"locales/{domain}.pot is out of date: run pybabel extract -F {DOMAINS[domain]} (README, "
        f"'Translating the site'); new: {sorted(set(extracted) - committed)[:5]}, "
        f"gone: {sorted(committed - set(extracted))[:5]}")


def test_the_domains_are_apart(tmp_path_factory):
    """The config's words are not in the code's catalogue and the reverse: a config label is
    translated by the report's catalogue or not at all."""
    held = {}
    for name in DOMAINS:
        with (LOCALES / f"{name}.pot").open("rb") as handle:
            held[name] = {m.id for m in read_po(handle) if m.id}
    assert held["report"] and held["messages"]
    assert all(where.endswith((".py", ".j2")) for message in read_po((LOCALES / "messages.pot").open("rb"))
               for where, _ in message.locations), "the code's domain extracts only code and templates"


PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%%")
# Markup that must survive translation: Markdown emphasis and links, HTML tags, math, code.
MARKUP = re.compile(r"\*\*|`|\$|\]\(|</?[a-z]+[^>]*>|&[a-z]+;", re.IGNORECASE)  # <IMG …> too


@pytest.mark.parametrize("kind", ["placeholders", "markup"])
def test_translations_keep_placeholders_and_markup(catalogue, kind):
    pattern = PLACEHOLDER if kind == "placeholders" else MARKUP
    wrong = []
    for message in catalogue:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:  # each plural form has the singular's or the plural's
            if all(Counter(pattern.findall(i)) != Counter(pattern.findall(string)) for i in ids):
                wrong.append(f"{message.id!r} → {string!r}")
    assert wrong == [], f"{len(wrong)} translations change their {kind}:\n" + "\n".join(wrong[:10])


def _glossary() -> list[tuple[str, str, list[str]]]:
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] not in ("English", "") \
                and not set(cells[0]) <= set("-"):
            rows.append((cells[0], cells[1], [w.strip() for w in cells[2].split(",") if w.strip()]))
    return rows


def test_the_glossary_has_the_course_terms():
    terms = {english: chinese for english, chinese, _ in _glossary()}
    assert len(terms) >= 20
    for english, chinese in [("vanishing", "消失"), ("exploding", "爆炸"), ("initialisation", "初始化"),
                             ("activation function", "激活函数"), ("gradient", "梯度")]:
        assert terms[english] == chinese


def test_translations_use_the_glossary(catalogue):
    wrong = []
    for english, chinese, avoided in _glossary():
        term = re.compile(rf"\b{re.escape(english)}(s|es)?\b", re.IGNORECASE)
        for message in catalogue:
            if not message.id or not message.string:
                continue
            text = message.id if isinstance(message.id, str) else message.id[0]
            text = PLACEHOLDER.sub(" ", text)  # a placeholder's name is not a word of the text
            translation = message.string if isinstance(message.string, str) else message.string[0]
            if term.search(text) and chinese not in translation:
                wrong.append(f"{english!r} is {chinese!r}: {text!r} → {translation!r}")
            wrong += [f"{word!r} for {english!r}: {translation!r}" for word in avoided
                      if word in translation]
    assert wrong == [], f"{len(wrong)} translations off the glossary:\n" + "\n".join(wrong[:15])


def test_a_language_is_a_catalogue_and_a_line_of_config(tmp_path):
    assert i18n.catalogue_path(PROJECT, "zh") == CATALOGUE
    with i18n.speaking(PROJECT, "zh"):
        assert i18n._("holds") == "成立"
        assert i18n.current() == "zh"
    assert i18n._("holds") == "holds" and i18n.current() == "en"
    with pytest.raises(ConfigError) as error:
        i18n.catalogue_path(PROJECT, "fr")
    message = str(error.value)
    assert "\n" not in message and "'fr'" in message and "allowed: en, zh" in message
    assert load_report(text="languages: [en]\n").languages == ("en",)
    assert load_report(None).languages == ("en", "zh")
    for bad, said in [("[zh, en]", "allowed: 'en' first"), ("[en, en]", "each language once"),
                      ("[en, Chinese]", "got 'Chinese'; allowed: a language code"), ("[]", "at least 1")]:
        with pytest.raises(ConfigError) as error:
            load_report(text=f"languages: {bad}\n")
        message = str(error.value)
        assert said in message and "languages" in message and "\n" not in message, message


# --- the editions, built -------------------------------------------------------------------------

NUMBER = re.compile(r"[−+-]?\d+(?:[.,]\d+)*(?:\s*×\s*10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?")


def _numbered_lines(markdown: str) -> dict[str, list[list[str]]]:
    """The numbers of a page's tables (row by row), claims and figure captions."""
    out: dict[str, list[list[str]]] = {"tables": [], "claims": [], "captions": []}
    lines = html.unescape(markdown.replace("\\", "")).splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and not set(line) <= set("|-: "):
            out["tables"].append(sorted(NUMBER.findall(line)))
        elif line.startswith("!!! success") or line.startswith("!!! failure"):
            body = [line]
            for following in lines[i + 1:]:
                if following and not following.startswith("    "):
                    break
                body.append(following)
            out["claims"].append(sorted(NUMBER.findall(" ".join(body))))
        elif "<figcaption>" in line:
            out["captions"].append(sorted(NUMBER.findall(line)))
    return out


@pytest.mark.site
def test_both_editions_show_the_same_numbers(site):
    english = site / "docs" / "generated"
    chinese = english / "zh"
    pages = sorted(p.name for p in english.glob("*.md") if p.name != "timings.md")
    assert pages and sorted(p.name for p in chinese.glob("*.md") if p.name != "timings.md") == pages
    compared = Counter()
    for name in pages:
        a = _numbered_lines((english / name).read_text(encoding="utf-8"))
        b = _numbered_lines((chinese / name).read_text(encoding="utf-8"))
        for kind in a:
            assert a[kind] == b[kind], f"{name}: the {kind} differ in their numbers"
            compared[kind] += sum(map(len, a[kind]))
    assert compared["tables"] > 200 and compared["claims"] > 20 and compared["captions"] > 20, compared


@pytest.mark.site
def test_the_chinese_edition_is_in_chinese(site):
    """Its pages' prose, captions, alt text and figures are Chinese: no English sentence left."""
    chinese = site / "docs" / "generated" / "zh"
    han = re.compile(r"[\u4e00-\u9fff]")
    for page in chinese.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert len(han.findall(text)) > 30, page.name
        # Prose outside code, math, tables of ids and the lecture's quotes: no run of six
        # English words (the plug-in section of the test config is not in the catalogue).
        prose = re.sub(r"```.*?```|\$\$.*?\$\$|\$[^$\n]*\$|`[^`\n]*`|<[^>]+>|\([^)\n]*\)|“[^”]*”", " ",
                       text, flags=re.S)
        prose = "\n".join(line for line in prose.splitlines()
                          if not line.lstrip().startswith((">", "|", "    ")) and "near" not in line.lower()
                          and "Near" not in line and "kicks" not in line)
        english = re.findall(r"(?:\b[A-Za-z]{2,}\b[ ,;:]+){6,}", prose)
        assert english == [], f"{page.name}: English left in the Chinese edition: {english[:3]}"
    svg = (chinese / "figures" / "relu-normal-trajectory.svg").read_text(encoding="utf-8")
    assert "<text" not in svg  # glyphs drawn as outlines: the figure reads without the font
    english_svg = (chinese.parent / "figures" / "relu-normal-trajectory.svg").read_bytes()
    assert svg.encode() != english_svg
    pdf = (chinese / "figures" / "relu-normal-trajectory.pdf").read_bytes()
    assert b"/Type3" in pdf and b"/CharProcs" in pdf  # the glyphs embedded, as outlines


@pytest.mark.site
def test_the_chinese_search_index_is_cut_into_words_with_the_course_terms_whole(site):
    """Material's search, with jieba: Chinese text indexed as words marked by \\u200b, which the
    Chinese edition's separator splits on, and the course's terms (locales/zh_CN/jieba.txt) kept
    whole rather than cut into characters or halves."""
    index = (site / "site" / "zh" / "search" / "search_index.js").read_text(encoding="utf-8")
    data = json.loads(index[index.index("{"):index.rindex("}") + 1])
    assert "\\u200b" in data["config"]["separator"]
    text = " ".join(doc["text"] for doc in data["docs"])
    words = (PROJECT / "stabreport" / "locales" / "zh_CN" / "jieba.txt").read_text(encoding="utf-8").split()[::3]
    found = [w for w in words if f"\u200b{w}\u200b" in text]
    assert {"激活函数", "初始化", "残差网络"} <= set(found), found
    english = (site / "site" / "search" / "search_index.js").read_text(encoding="utf-8")
    assert "激活函数" not in english and "Xavier" in english  # each edition its own index


# --- the config's words: the project's catalogue, warnings, --strict, `stabreport translations` ---

# "holds" is a message of the code with a translation (成立): a config text reading the same is
# still the project's own words, translated only by a report catalogue.
OWN_WORDS = 'languages: [en, zh]\ntitle: "holds"\nsections:\n  - id: products\n    runs: 20\n' \
    '    norm_runs: 20\n    title: "Products of our own"\n'


def _project(tmp_path: Path, words: dict[str, str] | None) -> Path:
    from helpers import copy_project, _po

    root = copy_project(tmp_path / "project", OWN_WORDS)
    po = root / "locales" / "zh_CN" / "LC_MESSAGES" / "report.po"
    if words is None:
        po.unlink()
    else:
        po.write_text(_po(words), encoding="utf-8")
    return root


def test_a_config_text_is_translated_by_the_report_catalogues_only(tmp_path):
    from stabreport.render.views import localized

    root = _project(tmp_path, {"Products of our own": "我们自己的乘积"})
    report = load_report(root / "stabreport.yml")
    missing: set[str] = set()
    with i18n.speaking(root, "zh"):
        assert i18n._("holds") == "成立"  # the code's message is translated ...
        words = localized(report, missing)
    assert str(words.title) == "holds" and "holds" in missing  # ... the config's text is not
    section = next(s for s in words.sections if s.id == "products")
    assert str(section.title) == "我们自己的乘积" and "Products of our own" not in missing
    # The lecture's own words come from the report catalogue stabreport ships.
    lecture = next(s for s in report.sections if s.id == "relu-normal")
    assert str(next(s for s in words.sections if s.id == "relu-normal").title) != str(lecture.title)


def test_untranslated_config_text_warns_once_and_fails_under_strict(tmp_path):
    import io

    from helpers import synthetic_results
    from stabreport.errors import BuildError
    from stabreport.publish.build import render_site

    root = _project(tmp_path, {"Products of our own": "我们自己的乘积"})
    report = load_report(root / "stabreport.yml")
    runs = synthetic_results(report, runs=12)
    said = io.StringIO()
    render_site(root, report, runs, with_figures=False, stream=said)
    warnings = [line for line in said.getvalue().splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: zh: no translation of 'holds'; allowed: an entry in "
                        "locales/zh[_XX]/LC_MESSAGES/report.po (pybabel extract -F babel.cfg, see "
                        "the README's 'Translating the site'); shown as written"], said.getvalue()
    with pytest.raises(BuildError) as error:
        render_site(root, report, runs, strict=True, with_figures=False, stream=io.StringIO())
    assert "'holds'" in str(error.value) and "Products of our own" not in str(error.value)


def test_the_translations_command_lists_what_lacks_a_translation(tmp_path, capsys):
    from stabreport.cli import main

    root = _project(tmp_path, None)
    with pytest.raises(SystemExit) as stopped:
        main(["translations", "--root", str(root)])
    assert stopped.value.code == 1
    out, err = capsys.readouterr()
    listed = out.splitlines()
    assert "zh: no translation of 'holds'; allowed:" in listed[0] or any(
        line.startswith("zh: no translation of 'holds'") for line in listed)
    assert any("'Products of our own'" in line for line in listed)
    assert all("'Vanishing" not in line for line in listed)  # the lecture's words: shipped
    assert "zh: 2 config texts without a translation" in err
    # Translated, the project's words are no longer listed, and the command succeeds.
    _project(tmp_path, {"holds": "成立", "Products of our own": "我们自己的乘积"})
    assert main(["translations", "--root", str(root)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "zh: 0 config texts without a translation" in err
