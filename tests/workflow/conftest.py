"""Session fixtures: the workflow copied into a temporary directory, and the tiny experiment run once."""

from __future__ import annotations

import pytest
from workflow_helpers import Project, copy_workflow


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The workflow copied once per session (results accumulate: tests are ordered by file)."""
    return Project(copy_workflow(tmp_path_factory.mktemp("workflow")))


@pytest.fixture(scope="session")
def completed(project: Project) -> Project:
    """The tiny experiment run to completion (once per session)."""
    project.run("--cores", "2")
    return project
