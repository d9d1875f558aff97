import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import EXAMPLE, EXTENSION, PLUGIN_CONFIG, SESSION_EPOCH, copy_project

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True, scope="session")
def user_cache(tmp_path_factory) -> Path:
    """`stabreport run` memoises theory in the user's cache: the tests' own, not ~/.cache."""
    directory = tmp_path_factory.mktemp("user-cache")
    os.environ["STABREPORT_USER_CACHE"] = str(directory)
    return directory


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261129)


@pytest.fixture(scope="session")
def plugin(tmp_path_factory) -> Path:
    """The example packages (examples/near_identity, an experiment; examples/gain_spread, a
    figure kind and a statistic), installed with pip into a folder that this session's process
    and every process it starts import from: plug-ins from outside stabreport, found through
    their entry points like any user's."""
    target = tmp_path_factory.mktemp("plugin")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--disable-pip-version-check", "--target",
                           str(target), str(EXAMPLE), str(EXTENSION)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    sys.path.insert(0, str(target))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    from stabreport.experiments import reset

    reset()
    return target


@pytest.fixture(scope="session")
def site(tmp_path_factory, plugin):
    """One small site, built once per session (`stabreport build --strict`, then `stabreport
    site`: MkDocs and the PDF handout), with a section and a sweep of the example plug-in
    experiment beside the lecture's."""
    from stabreport.publish.build import build_report
    from stabreport.publish.site import build_site

    root = copy_project(tmp_path_factory.mktemp("project"), PLUGIN_CONFIG)
    # A fixed build date, for this session's builds: the byte-identical test builds it again.
    os.environ["SOURCE_DATE_EPOCH"] = SESSION_EPOCH
    build_report(root=root, strict=True, stream=open(os.devnull, "w"))
    assert build_site(root, stream=open(os.devnull, "w"))
    return root
