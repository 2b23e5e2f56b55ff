"""Session fixtures: the workflow copied into a temporary directory, and the tiny experiment run once."""

from __future__ import annotations

import shutil

import pytest
from workflow_helpers import COPIED, ROOT, Project


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The workflow copied once per session (results accumulate: tests are ordered by file)."""
    root = tmp_path_factory.mktemp("workflow")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name)
        else:
            shutil.copy2(src, root / name)
    return Project(root)


@pytest.fixture(scope="session")
def completed(project: Project) -> Project:
    """The tiny experiment run to completion (once per session)."""
    project.run("--cores", "2")
    return project
