"""Compatibility import: the MkDocs plugin lives in stabreport.publish.mkdocs_plugin (the
`mkdocs.plugins` entry point `stabreport` names it there)."""
from .publish.mkdocs_plugin import StabreportPlugin, StabreportConfig  # noqa: F401
