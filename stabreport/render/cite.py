"""What a citation needs: the site's identity (URL, version, date, authors), BibTeX escaping, and
the site-wide CITATION.cff."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import yaml

from .. import __version__
from . import i18n
from ..report.model import HOME, Report

DEFAULT_SITE_URL = "https://stabreport.github.io/stabreport/"


@dataclass(frozen=True)
class SiteInfo:
    url: str  # absolute, ending in "/"
    name: str  # the site's name: the report's title
    title: str
    version: str
    date: str  # YYYY-MM-DD, from SOURCE_DATE_EPOCH when set
    authors: tuple[str, ...]
    original_title: str | None = None  # the English title, in an edition of another language
    language: str = "en"

    @property
    def year(self) -> str:
        return self.date[:4]

    @property
    def language_name(self) -> str:
        """The edition's language as BibTeX (biblatex's `language` field) names it: "chinese"."""
        from babel import Locale

        return Locale.parse(self.language).english_name.lower()

    def page_url(self, page: str) -> str:
        """A page's address. Pages are files (`mlp.html`, as the offline plugin builds them), so
        that the same site works from a server and opened from disk."""
        return self.url if page == HOME else f"{self.url}{page}.html"


def site_url(root: Path) -> str:
    """`site_url` of the site's MkDocs configuration (the project's mkdocs.yml over the base: the
    one place it is set; `!ENV` tags are honoured)."""
    from ..project import Project

    url = Project(root).mkdocs_settings().get("site_url") or DEFAULT_SITE_URL
    return url if url.endswith("/") else url + "/"


def site_info(root: Path, report: Report, date: str) -> SiteInfo:
    """The identity of the edition being rendered: another language's is at <site>/<language>/,
    under its translated title (with the English one beside it, for citations)."""
    url, language = site_url(root), i18n.current()
    original = getattr(report.title, "original", None)
    if language != i18n.SOURCE:
        url = f"{url}{language}/"
    return SiteInfo(url, str(report.title), report.title, __version__, date, report.authors,
                    str(original) if original is not None and original != report.title else None,
                    language)


_BIBTEX_SPECIAL = re.compile(r"([\\{}&%$#_^~])")
_BIBTEX_REPLACEMENT = {"\\": r"\textbackslash{}", "^": r"\^{}", "~": r"\~{}"}


def bibtex_escape(text: str) -> str:
    """Text for a BibTeX field: LaTeX's special characters escaped, braces balanced."""
    return _BIBTEX_SPECIAL.sub(lambda m: _BIBTEX_REPLACEMENT.get(m.group(1), "\\" + m.group(1)),
                               str(text))


def bibtex_author(name: str) -> str:
    """One author for BibTeX's `author` field: a person as "Family, Given"; anything else (an
    organisation, "The stabreport authors") in braces, so BibTeX keeps it whole instead of
    splitting it into first, von and last names."""
    text = bibtex_escape(name)
    return text if "," in str(name) else "{" + text + "}"


def bibtex_authors(names: Sequence[str]) -> str:
    return " and ".join(bibtex_author(str(n)) for n in names)


def citation_cff(site: SiteInfo) -> str:
    """CITATION.cff (Citation File Format 1.2.0) for the whole site."""
    authors = []
    for author in map(str, site.authors):  # plain strings: YAML has no tag for config text
        family, comma, given = author.partition(",")
        authors.append({"family-names": family.strip(), "given-names": given.strip()}
                       if comma else {"name": author})
    data = {
        "cff-version": "1.2.0",
        "message": "If you use figures or numbers from this site, please cite it as below.",
        "type": "software",
        "title": str(site.title),
        "authors": authors,
        "version": site.version,
        "date-released": site.date,
        "url": site.url,
        "abstract": ("Vanishing and exploding gradients in deep networks, measured over many "
                     "seeded runs, with theory beside every number."),
        "keywords": ["numerical stability", "vanishing gradients", "exploding gradients",
                     "random matrices", "deep learning"],
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
