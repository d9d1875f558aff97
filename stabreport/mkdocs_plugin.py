"""The MkDocs side of stabreport, in one small plugin.

- on_files: the pages, figures and data generated under docs/generated/ are served from the site
  root (docs/generated/mlp.md → /mlp.html, docs/generated/figures/x.svg → /figures/x.svg), so
  URLs do not carry the name of a build folder.
- on_page_markdown: a site built without the handout drops the home page's link to it.
- on_post_build: the addresses of the first releases, /<page>/ (directory URLs), go on working:
  each is a small page that forwards to /<page>.html with its #fragment, so citations given out
  with those addresses still land on their figure.
- on_config: the provenance line the build wrote (versions, commit, seed, date) becomes the
  footer of every page, the report's title the site's name, and the navigation comes from the
  report's page registry (unless mkdocs.yml sets `nav` itself).
- on_pre_build, under `mkdocs serve` only: re-render from the result cache, so that editing a
  template (watched through `watch: [templates]`) shows up in the preview.
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

from markupsafe import Markup
from mkdocs.config import config_options
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files

from .build import build_report
from .errors import StabreportError
from .paths import FOOTER, GENERATED, NAV
from .site import HANDOUT_ENV

# Where a page of the first releases was (directory URLs, /mlp/) forwards to where it is now.
FORWARD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="canonical" href="../{page}.html">
<script>location.replace("../{page}.html" + location.hash)</script>
<meta http-equiv="refresh" content="0; url=../{page}.html">
</head><body><p>This page is now at <a href="../{page}.html">{page}.html</a>.</p></body></html>
"""


class StabreportConfig(Config):
    render_on_serve = config_options.Type(bool, default=True)


class StabreportPlugin(BasePlugin[StabreportConfig]):
    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.serving = command == "serve"

    def on_config(self, config):
        generated = Path(config.config_file_path).parent / GENERATED
        footer = generated / FOOTER
        if footer.is_file():
            config.copyright = footer.read_text(encoding="utf-8").strip()
        record = generated / NAV
        if record.is_file():
            site = json.loads(record.read_text(encoding="utf-8"))
            # The report's title, in the header and the tab: escaped already (Markup, so that
            # the theme's `| e` in attributes does not escape it twice).
            config.site_name = Markup(site["site_name"])
            if not config.nav:  # the page registry's navigation
                config.nav = [{title: file} for title, file in site["nav"]]
        return config

    def on_pre_build(self, *, config) -> None:
        if getattr(self, "serving", False) and self.config.render_on_serve:
            try:
                build_report(root=Path(config.config_file_path).parent)
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
        generated = Path(config.config_file_path).parent / GENERATED
        if not generated.is_dir():
            raise PluginError(f"{generated} does not exist: run `stabreport build` (or `make docs`) first")
        for file in list(files):
            if file.src_uri.startswith("generated/"):
                files.remove(file)
        self.pages = sorted(p.stem for p in generated.glob("*.md") if p.stem != "index")
        for path in sorted(p for p in generated.rglob("*") if p.is_file() and not p.name.startswith(".")):
            uri = path.relative_to(generated).as_posix()
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"docs/{uri} and {GENERATED}/{uri} would both be published at {uri}")
            files.append(File.generated(config, uri, abs_src_path=str(path)))
        return files

    def on_post_build(self, *, config) -> None:
        site = Path(config.site_dir)
        for page in getattr(self, "pages", ()):
            forward = site / page / "index.html"
            if not forward.exists():  # never over a page of the site's own
                forward.parent.mkdir(parents=True, exist_ok=True)
                forward.write_text(FORWARD.format(title=html.escape(page), page=page), encoding="utf-8")
