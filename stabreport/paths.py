"""Where stabreport reads and writes, relative to the project root (standard library only)."""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import ConfigError, StabreportError

GENERATED = Path("docs") / "generated"  # generated pages, figures and data; git ignores it
CACHE = Path(".stabreport-cache")  # results and drawn figures, keyed by content hashes
SITE = Path("site")  # the built website
FOOTER = ".footer.html"  # provenance line for every page's footer; a dot file, so not published
NAV = ".site.json"  # the site's name and navigation (page registry), for the MkDocs plugin
TIMINGS = "timings.md"  # the one generated page that varies between builds of the same inputs
VOLATILE = ".volatile.json"  # the hash of what varies (the timings), so that it is verified too
LOCK = ".stabreport.lock"  # held while a build writes, so that two builds never interleave

CONFIG = "stabreport.yml"  # the report config's overrides, next to mkdocs.yml
MAX_CONFIG_BYTES = 1 << 20  # a report config is a page of YAML, not a data file


def user_cache() -> Path | None:
    """Where `stabreport run` memoises the theory's predictions (small JSON values keyed by the
    theory's source): $STABREPORT_USER_CACHE, else $XDG_CACHE_HOME/stabreport, else
    ~/.cache/stabreport; None (no memo) when that is set empty or cannot be written."""
    chosen = os.environ.get("STABREPORT_USER_CACHE")
    if chosen is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        chosen = os.path.join(base, "stabreport")
    if not chosen:
        return None
    try:
        os.makedirs(chosen, exist_ok=True)
    except OSError:
        return None
    return Path(chosen) if os.access(chosen, os.W_OK | os.X_OK) else None


def find_config(root: str | Path, explicit: str | None) -> Path | None:
    """The config to read: the one named on the command line, else ./stabreport.yml if present.

    ./stabreport.yml may be a symbolic link only to a file inside the project (a link elsewhere
    could make the build read, and echo in an error, a file that is not a config); a dangling
    link is reported, not ignored. Either must be a regular file of at most 1 MiB."""
    if explicit is not None:
        path = Path(explicit)
        _check_regular_file(path, f"--config got {explicit!r}")
        return path
    candidate = Path(root) / CONFIG
    if candidate.is_symlink():
        target = Path(os.path.realpath(candidate))
        if not target.exists():
            raise ConfigError(f"{candidate}: a symbolic link to {os.readlink(candidate)!r}, which "
                              f"does not exist; allowed: a config file, or no {CONFIG}")
        if not target.is_relative_to(Path(os.path.realpath(root))):
            raise ConfigError(f"{candidate}: a symbolic link to {target}, outside the project; "
                              "allowed: a config file inside the project")
    elif not candidate.exists():
        return None
    _check_regular_file(candidate, str(candidate))
    return candidate


def _check_regular_file(path: Path, what: str) -> None:
    try:
        mode = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{what}: no such file; allowed: an existing YAML file") from None
    except OSError as error:
        raise ConfigError(f"{what}: {error.strerror}; allowed: a readable YAML file") from None
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    for test, kind in kinds:
        if test(mode.st_mode):
            raise ConfigError(f"{what}: {kind}; allowed: a regular YAML file")
    if mode.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what}: a file of {mode.st_size:,} bytes; allowed: a config of at "
                          f"most {MAX_CONFIG_BYTES:,} bytes")


PROJECT_FILES = (CONFIG, "mkdocs.yml")  # a folder with either is a report project


def project_root(root: str | Path, needs: tuple[str, ...] | None = None) -> Path:
    """`root` checked before anything is written to it: an existing folder holding one of
    `needs` (a project's stabreport.yml or mkdocs.yml), so that no lock or output lands elsewhere."""
    path = Path(root)
    if not path.is_dir():
        raise StabreportError(f"--root got {str(root)!r}: "
                              + ("not a directory" if path.exists() else "no such directory"))
    if needs is not None and not any((path / name).exists() for name in needs):
        raise ConfigError(f"--root got {str(root)!r}: no {' or '.join(needs)} there; allowed: a "
                          "stabreport project's root (`stabreport new DIR` starts one)")
    return path


def fault_point(name: str) -> None:
    """Test hook: die here, as SIGKILL would, when STABREPORT_FAULT names this point. The fault
    tests use it to stop a build at the moments a random kill would rarely hit."""
    import signal

    if os.environ.get("STABREPORT_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


FAULT_ERRORS = {"disk-full": errno.ENOSPC, "read-only": errno.EROFS}


def fault_error(path: str | Path) -> None:
    """Test hook: fail as a full disk or a read-only file system would, writing `path`, when
    STABREPORT_FAULT is "disk-full" or "read-only" (as root, a test cannot make either)."""
    code = FAULT_ERRORS.get(os.environ.get("STABREPORT_FAULT", ""))
    if code is not None:
        raise OSError(code, os.strerror(code), str(path))


def write_file(path: str | Path, data: bytes | str) -> None:
    """Write `data` to `path`; a failure names the path (a write that fails for a full disk says
    only "No space left on device" otherwise: the file is named on opening, not on writing)."""
    path = Path(path)
    try:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as error:
        if error.filename is None:
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise


def published_error(error: OSError, staging: Path, directory: Path) -> OSError:
    """`error`, naming the file by where it was to be published (the staging tree it was
    written in is gone by the time the user reads the message), as an absolute path."""
    if isinstance(error.filename, str):
        written, staging = Path(error.filename).absolute(), Path(staging).absolute()
        if written.is_relative_to(staging):
            return OSError(error.errno, error.strerror,
                           str(Path(directory).absolute() / written.relative_to(staging)))
    return error


def recover(directory: Path) -> None:
    """Undo what a writer killed mid-swap left beside `directory`: the old tree, renamed to
    .<name>-old-*, goes back if nothing replaced it; half-written .<name>-new-* trees go."""
    import shutil

    for old in sorted(directory.parent.glob(f".{directory.name}-old-*")):
        if not directory.exists():
            old.rename(directory)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for new in directory.parent.glob(f".{directory.name}-new-*"):
        shutil.rmtree(new, ignore_errors=True)


def recover_project(root: Path) -> None:
    """`recover` both published trees of a project (docs/generated/ and site/), whichever command
    runs next: a build killed between its two renames is undone by the next build, site or clean.
    Call it under the project's lock."""
    for tree in (GENERATED, SITE):
        recover(Path(root) / tree)


def swap_in(staging: Path, directory: Path, fault: str) -> None:
    """Replace `directory` by the complete tree `staging` with two renames; the old tree waits
    beside it as .<name>-old-* in between (see `recover`)."""
    import os
    import shutil
    import tempfile

    # The published tree gets a folder's usual mode (mkdtemp's is private: 0700 would keep a
    # web server running as another user out of site/).
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    if not directory.exists():
        staging.rename(directory)
        return
    old = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-old-"))
    old.rmdir()
    directory.rename(old)
    fault_point(fault)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
