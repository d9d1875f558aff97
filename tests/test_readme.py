"""The README is the first screen (the two commands, what the site is, starting a report, a map of
the reference); the reference is docs/reference/*.md, read in the repository. Every relative link
of either resolves, to a file that exists and, with a fragment, to a heading it has (GitHub's
anchors); every reference file is reachable from the README. No site is built."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
REFERENCE = ROOT / "docs" / "reference"
PAGES = sorted(REFERENCE.glob("*.md"))

FENCE = re.compile(r"^ *(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose(text: str) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fence = [], None
    for line in text.splitlines():
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)[0]
        elif fence is not None and opened and opened.group(1)[0] == fence:
            fence = None
        elif fence is None:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (links by their words, code by its content),
    lowercased, punctuation but `-` and `_` dropped, each space a `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, duplicates numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    for line in _prose(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    """Every link target of a Markdown file (inline links, images, reference definitions),
    leaving out code blocks and code spans."""
    targets = []
    for line in _prose(path.read_text(encoding="utf-8")):
        line = INLINE_CODE.sub("", line)
        targets += LINK.findall(line)
        definition = DEFINITION.match(line)
        if definition:
            targets.append(definition.group(1))
    return targets


def _relative(path: Path) -> list[tuple[str, Path, str]]:
    """(link as written, the file or folder it names, its fragment) for every relative link."""
    out = []
    for target in links(path):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        where, _, fragment = target.partition("#")
        out.append((target, (path.parent / where).resolve() if where else path, fragment))
    return out


def test_the_readme_is_one_screenful_of_commands_and_pointers():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines; the reference goes to docs/reference/"
    first = "\n".join(lines[:30])
    assert "make docs" in first and "make test" in first, "the two commands open the README"


def test_there_is_a_reference():
    assert len(PAGES) >= 5, PAGES


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_names_a_file_and_heading_that_exist(path):
    broken = []
    for written, target, fragment in _relative(path):
        if not target.exists():
            broken.append(f"{written}: no such file")
        elif fragment and target.suffix == ".md" and fragment not in anchors(target):
            broken.append(f"{written}: no heading #{fragment} in {target.relative_to(ROOT)}")
    assert not broken, f"{path.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_every_reference_page_is_linked_from_the_readme():
    linked = {target for _, target, _ in _relative(README)}
    missing = [p.name for p in PAGES if p.resolve() not in linked]
    assert not missing, f"README.md links to no {missing}"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_reference_page_has_a_title_and_a_way_back(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and re.match(r"# \S", lines[0]), f"{path.name}: line 1 is its one-line H1"
    assert sum(1 for line in lines if line.startswith("# ")) == 1, f"{path.name}: one H1"
    back = [t for _, t, _ in _relative(path) if t == README]
    assert back and any("README.md" in line for line in lines[1:4]), \
        f"{path.name}: a link back to the README under its title"


def test_the_reference_is_left_out_of_the_site_and_the_generated_pages_still_are():
    """The project's exclude_docs is a string, so it replaces the base's: it names both."""
    from stabreport.project import Project

    patterns = Project(ROOT).mkdocs_settings()["exclude_docs"].split()
    assert {"/generated/", "/reference/"} <= set(patterns), patterns
    assert all(p.startswith("/") for p in patterns), "anchored, so the theme's assets stay"


def test_slugs_are_githubs():
    assert slug("JSON schema (`--json`)") == "json-schema---json"
    assert slug("Reliability: what is guaranteed, and the test that checks it") == \
        "reliability-what-is-guaranteed-and-the-test-that-checks-it"
    assert slug("After `make docs`: viewing the site and running `stabreport`") == \
        "after-make-docs-viewing-the-site-and-running-stabreport"
