import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import copy_project

from stabreport.build import build_report

BIN = Path(sys.executable).parent


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261129)


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """One small site, built once per session: `stabreport build --strict`, then MkDocs."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    build_report(root=root, strict=True)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([str(BIN / "mkdocs"), "build", "--strict"], cwd=root, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return root


