"""`mkdocs build --strict` into site/, with the printable handout (site/handout.pdf, see
handout.py), so that a failed or killed build never costs the last good site: MkDocs writes into
a temporary folder beside site/, the handout is printed from it, and it replaces site/ only when
both succeeded. Skipped only when nothing under docs/, nor mkdocs.yml, nor the handout's
template and code changed since site/ was built and site/ still holds exactly what that build wrote (a manifest of every file's hash
is checked: a deleted figure or an edited page is rebuilt). Standard library only, but for the
handout and the lines that say how the build goes (they load numpy: only once it builds); MkDocs
and Chromium run in their own processes, which die with this one.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import BuildError
from .fingerprint import (changed_since_built, files_digest, manifest_text, mkdocs_digest,
                          project_files, software_digest)
from .lock import project_lock
from ..render import i18n
from ..paths import (CONFIG, GENERATED, NAV, PROJECT_FILES, SITE, fault_error, project_root,
                     published_error, recover_project, swap_in, write_file)
from ..core.processes import die_with_parent
from ..project import Project

RECORD = ".stabreport-site.json"  # in site/: the inputs' digest and every file's hash
HANDOUT_ENV = "STABREPORT_HANDOUT"  # "0": this site is built without the handout
LANGUAGE_ENV = "STABREPORT_LANGUAGE"  # the edition MkDocs builds (unset: English)
PRINT_TEMPLATE = "handout.html.j2"  # the handout's words, a template (see handout.py)


def editions(root: Path) -> list[str]:
    """The languages the last `stabreport build` rendered, English first."""
    record = root / GENERATED / NAV
    try:
        return [code for code, _, _ in json.loads(record.read_text(encoding="utf-8"))["languages"]]
    except (OSError, ValueError, KeyError):
        raise BuildError(f"{GENERATED}/{NAV} is missing or damaged: run `stabreport build` first") from None


def site_inputs_digest(root: Path, handout: bool = True) -> str:
    """What the site is made of: the project's docs/ (the generated pages among them), its
    config and mkdocs.yml, the templates, assets and catalogues it uses (its own or the
    package's), stabreport's own code and data (the plugin, the base configuration, the
    handout's printer) and the plug-ins' packages."""
    files = {f"docs/{p.relative_to(root / 'docs').as_posix()}": p
             for p in (root / "docs").rglob("*") if p.is_file()} if (root / "docs").is_dir() else {}
    # The assets, the catalogues (jieba's dictionary among them) and the templates: an edit to
    # any of them is a new site even where docs/generated came out the same.
    files |= project_files(root, "assets", "locales", "templates")
    config = root / CONFIG
    if config.is_file():
        files[CONFIG] = config
    return hashlib.sha256(json.dumps({
        "inputs": files_digest(files),
        "mkdocs": mkdocs_digest(root),
        "code": software_digest(),
        "epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "handout": handout,
    }).encode()).hexdigest()


OS_FAILURE = re.compile(r"^(?:\w+\.)*(?:\w*Error): \[Errno (\d+)\] ([^:]+)(?:: '(.*)')?$")


def _mkdocs_failure(output: str, language: str) -> Exception:
    """What a failed `mkdocs build` said, as one error: a file it could not write (a full disk,
    a read-only folder) as the OSError naming the file, not MkDocs' traceback; its warnings
    under --strict as they are."""
    lines = output.splitlines()
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        last = next((line for line in reversed(lines) if line and not line[0].isspace()), "")
        written = OS_FAILURE.match(last)
        if written:
            # a copy names both files ('source' -> 'target'): the target is the one not written
            target = (written[3] or "").rpartition("' -> '")[2] or None
            return OSError(int(written[1]), written[2], target)
        return BuildError(f"mkdocs build failed ({language} edition); {SITE}/ was left as it "
                          f"was: {last}")
    problems = [line for line in lines if not line.startswith("INFO")]
    return BuildError(f"mkdocs build --strict failed ({language} edition); {SITE}/ was left as "
                      "it was:\n" + "\n".join(problems).strip())


def build_site(root: Path, stream=sys.stderr, handout: bool = True) -> bool:
    """Build site/, with the PDF handout unless `handout` is false, unless it holds exactly what
    a build of the same inputs wrote; return whether it was built."""
    root = project_root(root, PROJECT_FILES)
    with project_lock(root, stream):
        return _build_site(root, stream, handout)


def _build_site(root: Path, stream, handout: bool = True) -> bool:
    recover_project(root)  # under the lock: a running build's staging tree is never touched
    site = root / SITE
    digest = site_inputs_digest(root, handout)
    reason = changed_since_built(site, digest, RECORD) if site.is_dir() else "it does not exist"
    if reason is None:
        print(f"{SITE}/ is up to date", file=stream)
        return False
    if reason not in ("its inputs changed", "it does not exist"):
        print(f"{SITE}/ was changed since it was built ({reason}); rebuilding", file=stream)
    if handout:
        from .handout import build_handout, find_chromium

        find_chromium()  # before anything is built: without a browser, one line saying so
    from ..core.executors import Phase, counted  # here: an up-to-date site is said without numpy

    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{SITE.name}-new-"))
    parent = os.getpid()
    try:
        languages = editions(root)
        config = Project(root).write_mkdocs_config()  # the base with the project's mkdocs.yml over it
        named = f"{counted(len(languages), 'edition')} ({', '.join(languages)})"
        with Phase(stream, f"building {SITE}/ with MkDocs: {named}", len(languages), "edition",
                   "mkdocs") as phase:
            for language in languages:  # English first: MkDocs empties the folder it builds into
                phase.describe(language)
                target = staging if language == i18n.SOURCE else staging / language
                # HANDOUT_ENV: the plugin drops links to a missing handout
                env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", LANGUAGE_ENV: language,
                       HANDOUT_ENV: "1" if handout else "0"}
                # Not --quiet: it would hide the warnings that --strict counts.
                done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                                       "--config-file", config.name, "--site-dir", str(target)],
                                      cwd=root, env=env, capture_output=True, text=True,
                                      preexec_fn=lambda: die_with_parent(parent))
                if done.returncode != 0:
                    raise _mkdocs_failure(done.stderr + done.stdout, language)
                phase.advance()
        if handout:
            with Phase(stream, f"printing the handout of {named} with Chromium", len(languages),
                       "edition", "handout") as phase:
                for language in languages:
                    phase.describe(language)
                    started = time.perf_counter()
                    target = staging if language == i18n.SOURCE else staging / language
                    printed = build_handout(root, target, language)
                    phase.say(f"printed {SITE}/{printed.relative_to(staging).as_posix()} in "
                              f"{time.perf_counter() - started:.1f} s")
                    phase.advance()
        files = {p.relative_to(staging).as_posix(): p.read_bytes()
                 for p in staging.rglob("*") if p.is_file()}
        fault_error(staging / RECORD)
        write_file(staging / RECORD, manifest_text(digest, files))
        swap_in(staging, site, "site-between-renames")
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise published_error(error, staging, site) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(f"built {SITE}/", file=stream)
    return True
