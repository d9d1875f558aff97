"""The MkDocs side of stabreport, in one small plugin.

- on_files: the pages, figures and data generated under docs/generated/ are served from the site
  root (docs/generated/mlp.md → /mlp/, docs/generated/figures/x.svg → /figures/x.svg), so URLs do
  not carry the name of a build folder.
- on_config: the provenance line the build wrote (versions, commit, seed, date) becomes the
  footer of every page, the report's title the site's name, and the navigation comes from the
  report's page registry (unless mkdocs.yml sets `nav` itself).
- on_pre_build, under `mkdocs serve` only: re-render from the result cache, so that editing a
  template (watched through `watch: [templates]`) shows up in the preview.
"""
from __future__ import annotations

import json
from pathlib import Path

from mkdocs.config import config_options
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files

from .build import build_report
from .errors import StabreportError
from .paths import FOOTER, GENERATED, NAV


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
            config.site_name = site["site_name"]  # the report's title, in the header and the tab
            if not config.nav:  # the page registry's navigation
                config.nav = [{title: file} for title, file in site["nav"]]
        return config

    def on_pre_build(self, *, config) -> None:
        if getattr(self, "serving", False) and self.config.render_on_serve:
            try:
                build_report(root=Path(config.config_file_path).parent)
            except StabreportError as error:
                raise PluginError(f"stabreport build failed:\n{error}") from None

    def on_files(self, files: Files, *, config) -> Files:
        generated = Path(config.config_file_path).parent / GENERATED
        if not generated.is_dir():
            raise PluginError(f"{generated} does not exist: run `stabreport build` (or `make docs`) first")
        for file in list(files):
            if file.src_uri.startswith("generated/"):
                files.remove(file)
        for path in sorted(p for p in generated.rglob("*") if p.is_file() and not p.name.startswith(".")):
            uri = path.relative_to(generated).as_posix()
            if files.get_file_from_path(uri) is not None:
                raise PluginError(f"docs/{uri} and {GENERATED}/{uri} would both be published at {uri}")
            files.append(File.generated(config, uri, abs_src_path=str(path)))
        return files
