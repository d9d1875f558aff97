"""The site's languages, the GNU gettext way (through Babel).

Every word of the site is written in English, in the templates (`{% trans %}`, `_()`), in
stabreport's code (`_()` where a sentence is made, `N_()` where a word is declared) and in the
report config (titles, labels, statements). `pybabel extract` (see babel.cfg, and
`extract_report` below for the config) collects them into locales/messages.pot; a language is a
catalogue, locales/<language>[_<TERRITORY>]/LC_MESSAGES/messages.po, compiled here at build
time (no .mo file to forget to rebuild). English is the source language: it needs no catalogue.

What is being rendered speaks one language at a time: `speaking(code)` sets it for the code that
runs inside (templates, figures, filters), through a context variable.
"""
from __future__ import annotations

import contextvars
import functools
import gettext as _gettext
import hashlib
import io
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import ConfigError

SOURCE = "en"  # the language the templates and the code are written in
LOCALES = Path("locales")
DOMAIN = "messages"  # stabreport's code and templates
# The report config's words (titles, labels, statements) and mkdocs.yml's: a domain of their
# own, so that a label is translated only by a translation of that label, never by a message of
# the code that happens to read the same ("scale 0.5" in a table is not a template's "scale").
REPORT_DOMAIN = "report"


def N_(message: str) -> str:
    """Mark a word where it is declared; it is translated where it is shown (`_`)."""
    return message


# The name of a language, in that language: the catalogue translates this message to it.
LANGUAGE_NAME = N_("English")


_active: contextvars.ContextVar[_gettext.NullTranslations] = contextvars.ContextVar(
    "stabreport_translations", default=_gettext.NullTranslations())
_code: contextvars.ContextVar[str] = contextvars.ContextVar("stabreport_language", default=SOURCE)
_report: contextvars.ContextVar[_gettext.NullTranslations] = contextvars.ContextVar(
    "stabreport_report_translations", default=_gettext.NullTranslations())


def _(message: str) -> str:
    """`message` in the language being rendered (itself where the catalogue has no translation)."""
    return _active.get().gettext(message) if message else message


def config_text(text: str) -> str | None:
    """Config text (a title, a label, a statement) in the language being rendered, from the
    report catalogues only (the project's report.po, then the lecture's); None where they have
    no translation of it (the text is then shown as written). The source language needs none."""
    if current() == SOURCE or not text:
        return text
    translated = _report.get().gettext(text)
    return None if translated == text else translated


def config_words(text: str) -> str:
    """A figure's label from the config (a setting's, a series'), in the language being drawn:
    its report-catalogue translation, else as written (never a code message that reads the same)."""
    found = config_text(text)
    return text if found is None else found


def report_catalogues(root: Path, code: str) -> list[Path]:
    """locales/<code>[_XX]/LC_MESSAGES/report.po of the project, then of stabreport: the config
    words' translations (the project's own labels first, then the lecture's)."""
    from ..project import Project

    found = []
    for base in Project(Path(root)).folders("locales"):
        found += sorted(p for p in base.glob(f"{code}*/LC_MESSAGES/{REPORT_DOMAIN}.po")
                        if p.parts[-3] == code or p.parts[-3].startswith(code + "_"))[:1]
    return found


def report_translations(root: Path, code: str) -> _gettext.NullTranslations:
    if code == SOURCE:
        return _gettext.NullTranslations()
    paths = report_catalogues(root, code)
    if not paths:
        return _gettext.NullTranslations()
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()
    return _chain(str(paths[0]), tuple(map(str, paths[1:])), digest)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active.get().ngettext(singular, plural, n)


def current() -> str:
    """The code of the language being rendered ("en", "zh", ...)."""
    return _code.get()


def catalogue_path(root: Path, code: str) -> Path:
    """locales/<code>/LC_MESSAGES/messages.po, or locales/<code>_<TERRITORY>/... (zh → zh_CN):
    the project's own catalogue if it has one, else the one stabreport ships."""
    from ..project import Project

    folders = Project(Path(root)).folders("locales")
    offered: set[str] = set()
    for base in folders:
        found = sorted(p for p in base.glob(f"{code}*/LC_MESSAGES/{DOMAIN}.po")
                       if p.parts[-3] == code or p.parts[-3].startswith(code + "_"))
        if len(found) > 1:
            raise ConfigError(f"languages got {code!r}: {len(found)} catalogues at {base}/{code}[_XX]/"
                              f"LC_MESSAGES/{DOMAIN}.po; allowed: one")
        if found:
            return found[0]
        offered |= {p.parts[-3].split("_")[0] for p in base.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    raise ConfigError(f"languages got {code!r}: no catalogue at {LOCALES}/{code}[_XX]/LC_MESSAGES/"
                      f"{DOMAIN}.po; allowed: " + ", ".join([SOURCE, *sorted(offered)]))


@functools.lru_cache(maxsize=1)
def plugin_packages() -> tuple[str, ...]:
    """The top-level packages, other than stabreport, that register anything under a
    `stabreport.*` entry-point group (read from the installed metadata, nothing imported)."""
    from importlib import metadata

    return tuple(sorted({entry.module.partition(".")[0] for dist in metadata.distributions()
                         for entry in dist.entry_points if entry.group.startswith("stabreport.")}
                        - {"stabreport"}))


def plugin_catalogues(code: str) -> list[Path]:
    """The catalogues plug-in packages ship for `code`: a package that registers anything under a
    `stabreport.*` entry-point group may ship locales/<code>[_XX]/LC_MESSAGES/<package>.po, its
    own gettext domain (its words cannot collide with stabreport's or another plug-in's)."""
    from importlib import resources

    found = []
    for package in plugin_packages():
        try:
            base = Path(str(resources.files(package) / "locales"))
        except (ModuleNotFoundError, TypeError):
            continue
        if base.is_dir():
            found += sorted(p for p in base.glob(f"{code}*/LC_MESSAGES/{package}.po")
                            if p.parts[-3] == code or p.parts[-3].startswith(code + "_"))[:1]
    return found


def catalogue_digest(root: Path, code: str) -> str:
    """What the words of `code` are made of: its catalogues' bytes, the plug-ins' included ('' for
    the source language)."""
    if code == SOURCE:
        return ""
    digest = hashlib.sha256(catalogue_path(root, code).read_bytes())
    for path in [*plugin_catalogues(code), *report_catalogues(root, code)]:
        digest.update(f"\0{path.name}\0".encode() + path.read_bytes())
    return digest.hexdigest()


# What a translation must keep exactly as its message has it: the placeholders (and "%%"), and
# the markup (Markdown emphasis, code and links, HTML tags and entities in any case, maths).
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%%")
MARKUP = re.compile(r"\*\*|`|\$|\]\(|</?[A-Za-z][^>]*>|&[A-Za-z0-9#]+;")
# Characters that mean something where a translation lands (HTML, Markdown's tables, headings'
# attributes and escapes, Jinja, KaTeX, a Python string or comment): never more of them than
# the message has. A lone '%' is counted apart from the placeholders.
GUARDED = "<>{}|\\\"`$%\n\r"


def translation_problem(message: str, translation: str) -> str | None:
    """What is wrong with `translation` of `message`, or None: a placeholder, a piece of markup or
    a guarded character added, dropped or changed."""
    for name, pattern in (("placeholders", PLACEHOLDER), ("markup", MARKUP)):
        found, wanted = ([m.group(0) for m in pattern.finditer(text)] for text in (translation, message))
        if sorted(found) != sorted(wanted):
            return f"its {name} {' '.join(found) or 'none'} are not the message's {' '.join(wanted) or 'none'}"
    bare_message, bare_translation = PLACEHOLDER.sub("", message), PLACEHOLDER.sub("", translation)
    for char in GUARDED:
        if bare_translation.count(char) > bare_message.count(char):
            return f"it adds {char!r}, which the message does not have"
    if any(ord(c) < 32 for c in translation if c not in "\n"):
        return "it holds a control character"
    return None


def check_catalogue(catalog: Any, path: str) -> None:
    """Refuse, in one line naming the file, the entry's line and its message, a catalogue with a
    translation that `translation_problem` finds fault with: it would become markup, script or
    code where it lands, or fail to format."""
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            if not string:
                continue
            problems = [translation_problem(i, string) for i in ids]
            if all(problems):
                shown = string if len(string) <= 80 else string[:77] + "..."
                raise ConfigError(
                    f"{path}:{message.lineno}: the translation {shown!r} of {ids[0]!r}: "
                    f"{problems[0]}; allowed: the message's placeholders and markup, nothing added")


@functools.lru_cache(maxsize=None)
def _compile(path: str, digest: str) -> _gettext.NullTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with open(path, "rb") as handle:
        catalog = read_po(handle)
    check_catalogue(catalog, path)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)  # a fuzzy translation is not a translation
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def translations(root: Path, code: str) -> _gettext.NullTranslations:
    """The compiled catalogues of `code`: the project's or stabreport's, then the plug-ins' as
    fallbacks (nothing to translate for the source language)."""
    if code == SOURCE:
        return _gettext.NullTranslations()
    path = catalogue_path(root, code)
    return _chain(str(path), tuple(map(str, plugin_catalogues(code))), catalogue_digest(root, code))


@functools.lru_cache(maxsize=None)
def _chain(path: str, plugins: tuple[str, ...], digest: str) -> _gettext.NullTranslations:
    import copy

    # Fallbacks are chained on copies: the compiled catalogues stay as they were.
    first, *rest = (copy.copy(_compile(p, digest)) for p in (path, *plugins))
    for fallback in rest:
        first.add_fallback(fallback)
    return first


@contextmanager
def speaking(root: Path, code: str) -> Iterator[None]:
    """Render in `code` inside the block."""
    tokens = (_active.set(translations(root, code)), _code.set(code),
              _report.set(report_translations(root, code)))
    try:
        yield
    finally:
        _active.reset(tokens[0])
        _code.reset(tokens[1])
        _report.reset(tokens[2])


def install(env: Any) -> None:
    """Give a Jinja environment (created with extensions=["jinja2.ext.i18n"]) `{% trans %}` and
    `_()` in the language being rendered; a block's lines are joined into one message, so that
    the catalogue holds sentences, not layout (babel.cfg extracts them the same way)."""
    env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)
    env.policies["ext.i18n.trimmed"] = True
    env.globals["language"] = current


# --- extraction -------------------------------------------------------------------------------

# The report config's words: what a reader sees of it (ids, parameters and quotes of the
# lecture stay as written).
TRANSLATED_KEYS = frozenset({"title", "summary", "label", "statement"})


def extract_report(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """A Babel extractor for report configs (babel.cfg's `[extractors]`): every title, summary,
    label and statement, with its line; `keys = a b.c` in babel.cfg names other keys (`b.c`: key c
    of a mapping under key b), for mkdocs.yml's description and palette toggles."""
    import yaml

    keys = set(options.get("keys", "").split()) or TRANSLATED_KEYS

    node = yaml.compose(fileobj.read().decode("utf-8"), Loader=yaml.SafeLoader)
    found: list[tuple[int, str]] = []

    def walk(n: Any, parent: str) -> None:
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                wanted = key.value in keys or f"{parent}.{key.value}" in keys
                if isinstance(value, yaml.ScalarNode) and wanted and value.value.strip():
                    found.append((value.start_mark.line + 1, value.value))
                else:
                    walk(value, str(key.value))
        elif isinstance(n, yaml.SequenceNode):
            for item in n.value:
                walk(item, parent)

    walk(node, "")
    for line, text in found:
        yield line, None, text, []
