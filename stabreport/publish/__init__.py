"""Publishing: the build's named steps (build), freshness records, the MkDocs site and its plugin,
the printable handout."""
