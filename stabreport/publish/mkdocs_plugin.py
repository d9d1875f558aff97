"""The MkDocs side of stabreport, in one small plugin.

- on_files: the pages, figures and data generated under docs/generated/ are served from the site
  root (docs/generated/mlp.md → /mlp.html, docs/generated/figures/x.svg → /figures/x.svg), so
  URLs do not carry the name of a build folder; the assets stabreport ships (KaTeX, Vega, the
  site's scripts and stylesheets) are published under /assets/, each unless the project's docs/
  has a file of the same path.
- on_page_markdown: a site built without the handout drops the home page's link to it.
- on_post_build: the addresses of the first releases, /<page>/ (directory URLs), go on working:
  each is a small page that forwards to /<page>.html with its #fragment, so citations given out
  with those addresses still land on their figure.
- on_config: the provenance line the build wrote (versions, commit, seed, date) becomes the
  footer of every page, the report's title the site's name, and the navigation comes from the
  report's page registry (unless mkdocs.yml sets `nav` itself).
- Editions: `stabreport site` builds the English site, then each other language of the report
  (`languages:`) into <site>/<language>/, with STABREPORT_LANGUAGE set: the plugin then publishes
  docs/generated/<language>/ over the shared downloads, sets the theme's language (the pages'
  `lang`, the theme's own words), Chinese search (jieba, with locales/<dir>/jieba.txt as its
  dictionary of course terms) and the site's address; on every page the language switcher
  (Material's `extra.alternate`) links the same page in each edition.
- on_pre_build, under `mkdocs serve` only: re-render from the result cache, so that editing a
  template (watched through `watch: [templates]`) shows up in the preview.
"""
from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

from markupsafe import Markup
from mkdocs.config import config_options
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files

from ..report.model import HOME
from ..render import i18n
from .build import build_report
from ..errors import StabreportError
from ..paths import FOOTER, GENERATED, NAV
from ..project import Project
from .site import HANDOUT_ENV, LANGUAGE_ENV

# What every edition shares: the downloads (CSV, JSON) and the site's citation and provenance.
# An edition's own file of the same name (its explorer script) takes precedence.
SHARED = ("data/", "CITATION.cff", "provenance.json")

# Where a page of the first releases was (directory URLs, /mlp/) forwards to where it is now.
FORWARD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="canonical" href="../{page}.html">
<script>location.replace("../{page}.html" + location.hash)</script>
<meta http-equiv="refresh" content="0; url=../{page}.html">
</head><body><p>This page is now at <a href="../{page}.html">{page}.html</a>.</p></body></html>
"""


_ALTERNATE_LINK = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')


class StabreportConfig(Config):
    render_on_serve = config_options.Type(bool, default=True)


class StabreportPlugin(BasePlugin[StabreportConfig]):
    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.serving = command == "serve"

    @event_priority(100)  # before the search plugin reads its settings
    def on_config(self, config):
        self.language = os.environ.get(LANGUAGE_ENV) or i18n.SOURCE
        root = Path(config.config_file_path).parent
        self.generated = root / GENERATED
        self.edition = self.generated if self.language == i18n.SOURCE else self.generated / self.language
        footer = self.edition / FOOTER
        if footer.is_file():
            config.copyright = footer.read_text(encoding="utf-8").strip()
        record = self.edition / NAV
        site = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
        if site:
            # The report's title, in the header and the tab: escaped already (Markup, so that
            # the theme's `| e` in attributes does not escape it twice).
            config.site_name = Markup(site["site_name"])
            if not config.nav:  # the page registry's navigation
                config.nav = [{title: file} for title, file in site["nav"]]
        self.languages = site.get("languages") or []
        if self.language != i18n.SOURCE:
            config.theme["language"] = self.language
            # mkdocs.yml's words (pybabel extracts them, see babel.cfg): the description, and
            # the names of the palette's toggles.
            with i18n.speaking(root, self.language):
                if config.site_description:
                    config.site_description = i18n.config_text(config.site_description) \
                        or config.site_description
                for scheme in config.theme.get("palette") or []:
                    toggle = scheme.get("toggle") if isinstance(scheme, dict) else None
                    if toggle and toggle.get("name"):
                        toggle["name"] = i18n.config_text(toggle["name"]) or toggle["name"]
            if config.site_url:
                config.site_url = config.site_url.rstrip("/") + f"/{self.language}/"
            search = config.plugins.get("material/search") or config.plugins.get("search")
            if search is not None:
                # The theme's separator for the language (for Chinese it includes \u200b, which
                # is how jieba's words are marked), and jieba's dictionary of the course's terms.
                folder = i18n.catalogue_path(root, self.language).parent.parent.name
                words = Project(root).find("locales", f"{folder}/jieba.txt")  # the project's, else shipped
                if words is not None and hasattr(search.config, "jieba_dict_user"):
                    search.config.jieba_dict_user = str(words)
        return config

    def on_pre_build(self, *, config) -> None:
        if getattr(self, "serving", False) and self.config.render_on_serve:
            root = Path(config.config_file_path).parent
            try:
                # An edited mkdocs.yml: the effective configuration is written again, and MkDocs,
                # which watches it, rebuilds with it.
                Project(root).write_mkdocs_config()
                build_report(root=root)
            except StabreportError as error:
                raise PluginError(f"stabreport build failed:\n{error}") from None

    def on_page_markdown(self, markdown: str, *, page, config, files) -> str:
        """A site built without the handout (`stabreport site --no-handout`) links to none: the
        lines that offer it are left out."""
        if os.environ.get(HANDOUT_ENV) == "0" and 'href="handout.pdf"' in markdown:
            markdown = "\n".join(line for line in markdown.split("\n")
                                  if 'href="handout.pdf"' not in line)
        return markdown

    def on_files(self, files: Files, *, config) -> Files:
        generated = self.edition
        if not generated.is_dir():
            raise PluginError(f"{generated} does not exist: run `stabreport build` (or `make docs`) first")
        for file in list(files):
            if file.src_uri.startswith("generated/"):
                files.remove(file)
        others = {code for code, _, _ in self.languages if code != self.language}
        published = {}
        if self.language != i18n.SOURCE:  # the shared downloads, under this edition's own files
            for path in sorted(p for p in self.generated.rglob("*") if p.is_file()):
                uri = path.relative_to(self.generated).as_posix()
                if uri.startswith(SHARED):
                    published[uri] = path
        for path in sorted(p for p in generated.rglob("*") if p.is_file() and not p.name.startswith(".")):
            uri = path.relative_to(generated).as_posix()
            if uri.split("/")[0] not in others:
                published[uri] = path
        self.pages = sorted(uri[:-3] for uri in published if uri.endswith(".md") and "/" not in uri
                            and uri != f"{HOME}.md")
        # The package's assets (KaTeX, Vega, scripts, stylesheets), but where the project's docs/
        # has a file of the same path: that one overrides the shipped one.
        project = Project(self.generated.parent.parent)
        for name, path in project.files("assets").items():
            uri = f"assets/{name}"
            if project.origin(path) == "stabreport" and files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(path)))
        for uri, path in sorted(published.items()):
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"docs/{uri} and {path.relative_to(self.generated.parent.parent)} "
                                  f"would both be published at {uri}")
            files.append(File.generated(config, uri, abs_src_path=str(path)))
        return files

    def on_page_context(self, context, *, page, config, nav):
        """The language switcher: the same page in every edition (relative links, so that the
        site works from disk and under any address)."""
        if len(self.languages) > 1:
            up = "" if self.language == i18n.SOURCE else "../"
            config.extra["alternate"] = [
                {"name": name, "lang": code,
                 "link": page.url if code == self.language else up + prefix + page.url}
                for code, name, prefix in self.languages]
        return context

    def on_post_page(self, output: str, *, page, config) -> str:
        """Without the head's <link rel="alternate" hreflang> tags: for each, Material's script
        fetches that edition's sitemap.xml to map pages between editions (which the switcher's
        links already do), and from disk that request fails on every page."""
        if len(self.languages) > 1:
            output = _ALTERNATE_LINK.sub("", output)
        return output

    def on_post_build(self, *, config) -> None:
        site = Path(config.site_dir)
        for page in getattr(self, "pages", ()):
            forward = site / page / "index.html"
            if not forward.exists():  # never over a page of the site's own
                forward.parent.mkdir(parents=True, exist_ok=True)
                forward.write_text(FORWARD.format(title=html.escape(page), page=page), encoding="utf-8")
