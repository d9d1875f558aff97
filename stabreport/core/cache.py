"""One content-addressed store for everything stabreport caches: results of both paths, sweep
cells, theory values and drawn figures.

A key is the SHA-256 of a canonical JSON of exactly what an entry depends on: the digest of the
source code that computes it (see `code_digest`), the parameters, runs and seed, and the versions
of the libraries whose numbers it carries. No version string has to be bumped by hand: editing the
code changes the key.

An entry is one file: a JSON header line (part names and sizes, and the SHA-256 of the parts),
then the parts' bytes. The checksum is verified on every read; an entry that is unreadable or
fails it is reported as a warning and recomputed. Entries are written under a temporary name and
renamed into place, so a reader never sees half an entry.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..paths import fault_error, write_file

FORMAT = "stabreport-cache-2"  # the layout of an entry file, not of what it holds
# Entries of an older layout are not faults: a newer stabreport recomputes them without a word.
OLD_FORMATS = ("stabreport-cache-1",)


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_key(kind: str, code: Sequence[str], inputs: Mapping[str, Any]) -> str:
    """The one recipe of every cache key: the kind of entry ("result", "figure", ...), the code
    that computes it (`code_digest` of these modules and of everything they import) and its
    inputs, as canonical JSON."""
    return hashlib.sha256(canonical_json({"kind": kind, "code": code_digest(*code),
                                          "inputs": dict(inputs)}).encode()).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees a partial file."""
    path = Path(path)
    fault_error(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.close(fd)
        write_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _checksum(key: str, parts: Mapping[str, bytes]) -> str:
    """A hash of the entry's key and of its parts: an entry copied or moved to another key's
    file (a swap of two figures, of two results) fails it."""
    digest = hashlib.sha256(key.encode() + b"\0")
    for name in sorted(parts):
        digest.update(name.encode() + b"\0" + len(parts[name]).to_bytes(8, "little"))
        digest.update(parts[name])
    return digest.hexdigest()


class Store:
    """Checksummed entries under `directory`, one file per key."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.unwritable = False  # said once: a full disk would otherwise warn once per entry

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / key

    def get(self, key: str) -> dict[str, bytes] | None:
        """The entry's parts, or None when it is missing, unreadable or fails its checksum."""
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            warnings.warn(f"cache entry {path} cannot be read ({error.strerror}); recomputing",
                          stacklevel=2)
            return None
        try:
            newline = raw.index(b"\n")
            header = json.loads(raw[:newline])
            if header.get("format") in OLD_FORMATS:
                return None
            if header.get("format") != FORMAT:
                raise ValueError("unknown format")
            parts, offset = {}, newline + 1
            for name, size in header["parts"]:
                parts[name] = raw[offset:offset + size]
                offset += size
            if offset != len(raw):
                raise ValueError("wrong length")
        except (ValueError, KeyError, TypeError):
            warnings.warn(f"cache entry {path} is unreadable; recomputing", stacklevel=2)
            return None
        if header.get("key") != key:
            warnings.warn(f"cache entry {path} holds the entry of another key; recomputing",
                          stacklevel=2)
            return None
        if header.get("checksum") != _checksum(key, parts):
            warnings.warn(f"cache entry {path} fails its checksum; recomputing", stacklevel=2)
            return None
        return parts

    def put(self, key: str, parts: Mapping[str, bytes]) -> None:
        header = {"format": FORMAT, "key": key, "checksum": _checksum(key, parts),
                  "parts": [[name, len(parts[name])] for name in sorted(parts)]}
        body = b"".join(parts[name] for name in sorted(parts))
        path = self.path(key)
        try:
            if path.is_dir() and not path.is_symlink():  # an entry's name taken by a folder
                import shutil

                shutil.rmtree(path)
            atomic_write(path, json.dumps(header).encode() + b"\n" + body)
        except OSError as error:  # a cache is an optimisation: the value is used uncached
            if not self.unwritable:
                self.unwritable = True
                warnings.warn(f"cache entry {path} cannot be written ({error.strerror or error});"
                              " going on without caching what cannot be written", stacklevel=2)

    def json(self, key: str, compute: Callable[[], Any]) -> Any:
        """A JSON-able value from the store, or computed and stored."""
        parts = self.get(key)
        if parts is not None and "value.json" in parts:
            return json.loads(parts["value.json"])
        value = compute()
        self.put(key, {"value.json": json.dumps(value, allow_nan=True).encode()})
        return value


_PROCESS_MEMO: dict[str, str] = {}  # content key -> JSON: what this process computed already


def memo_json(store: Store | None, kind: str, code: Sequence[str], inputs: Mapping[str, Any],
              compute: Callable[[], Any]) -> Any:
    """`compute()`, read from `store` when it holds the value for exactly this payload (and,
    with or without a store, computed at most once per process: a build asks some values of
    several steps)."""
    key = content_key(kind, code, inputs)
    if key not in _PROCESS_MEMO:
        value = compute() if store is None else store.json(key, compute)
        _PROCESS_MEMO[key] = json.dumps(value, allow_nan=True)
    return json.loads(_PROCESS_MEMO[key])


# --- what a cached value was computed from: the source of its code --------------------------------

def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    """Absolute names of the modules `module` imports, anywhere in its body (lazy imports too)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) \
                if node.level else (node.module or "")
            yield base
            for alias in node.names:  # `from pkg import submodule`
                yield f"{base}.{alias.name}"


def _source(module: str) -> tuple[Path, bool] | None:
    """The source file of a module (and whether it is a package), without importing it."""
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    is_package = hasattr(loaded, "__path__") if loaded is not None else False
    if origin is None:
        # find_spec("a.b.c") would import a.b (and whatever it imports, scipy say): look in
        # the parent package's directory instead; a name under a plain module is an attribute.
        parent, _, last = module.rpartition(".")
        try:
            if parent:
                found = _source(parent)
                if found is None or not found[1]:
                    return None
                spec = importlib.machinery.PathFinder.find_spec(last, [str(found[0].parent)])
            else:
                spec = importlib.util.find_spec(module)
        except (ImportError, ValueError, AttributeError):
            return None
        if spec is None or not spec.origin or not spec.has_location:
            return None
        origin, is_package = spec.origin, spec.submodule_search_locations is not None
    path = Path(origin)
    return (path, is_package) if path.suffix == ".py" and path.is_file() else None


# Words only: how the site says things (translations, number formats), which no simulation or
# theory computes with. An experiment imports them for its descriptions; editing them must not
# invalidate every result.
WORDS_ONLY = frozenset({"stabreport.render.i18n", "stabreport.render.formatting"})


@lru_cache(maxsize=1)
def _distributions_of() -> Mapping[str, tuple[str, ...]]:
    """Top-level module name -> the distributions that install it (importlib.metadata's map)."""
    import importlib.metadata

    return {top: tuple(dists) for top, dists in importlib.metadata.packages_distributions().items()}


@lru_cache(maxsize=None)
def _same_code(top: str, home: str) -> bool:
    """Whether the top-level module `top` belongs with `home` (an experiment's top-level package)
    in what decides its numbers: stabreport, the same one, another top-level module of the same
    distribution (a plug-in's helper module), or a module no distribution owns beside it (a
    plug-in run from a folder on the path)."""
    if top in ("stabreport", home):
        return True
    owners = _distributions_of()
    if owners.get(home) and set(owners.get(home, ())) & set(owners.get(top, ())):
        return True
    if top in owners or top in sys.stdlib_module_names:
        return False
    here, there = _source(home), _source(top)
    return here is not None and there is not None and \
        _folder(here) == _folder(there)


def _folder(found: tuple[Path, bool]) -> Path:
    """The folder on sys.path a top-level module or package was found in."""
    path, is_package = found
    return path.parent.parent if is_package else path.parent


@lru_cache(maxsize=None)
def module_closure(module: str) -> tuple[tuple[str, str], ...]:
    """(name, SHA-256 of source) of `module` and of every module it imports, transitively, from
    stabreport itself, from the module's own top-level package (a plug-in's) and from the other
    top-level modules of its distribution, sorted (see _same_code); not the modules of words
    (WORDS_ONLY), unless asked for one of them."""
    home = module.partition(".")[0]
    seen: dict[str, str] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen or not _same_code(name.partition(".")[0], home) or \
                (name in WORDS_ONLY and name != module):
            continue
        found = _source(name)
        if found is None:
            continue
        path, is_package = found
        source = path.read_bytes()
        seen[name] = hashlib.sha256(source).hexdigest()
        parent = name.rpartition(".")[0]
        if parent:
            pending.append(parent)  # importing a.b runs a/__init__.py first
        pending.extend(_imports(ast.parse(source), name, is_package))
    return tuple(sorted(seen.items()))


@lru_cache(maxsize=None)
def code_digest(*modules: str) -> str:
    """One hash of the source of `modules` and of everything they import (see module_closure)."""
    digest = hashlib.sha256()
    for name, source in sorted({entry for module in modules for entry in module_closure(module)}):
        digest.update(f"{name}={source}\n".encode())
    return digest.hexdigest()
