"""Rendering: the views templates receive and the Jinja environment (views), figures, the
explorer's data, notebooks, citations, number formatting and the editions' words (i18n)."""
