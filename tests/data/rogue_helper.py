"""A helper module of the rogue plug-in's distribution: a top-level module of its own, whose
value changes the plug-in's numbers (tests/test_rogue.py edits it)."""
SHIFT = 0.0
