from __future__ import annotations

import os

import pytest

from tests.lab import Lab, start
from tests.lab.servers import LabError


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    """The real-server lab, started once per test session and stopped at its end."""
    root = tmp_path_factory.mktemp("lab")
    os.chmod(root, 0o755)  # Dovecot's and Postfix's unprivileged processes read from it
    try:
        running = start(root)
    except LabError as exc:
        pytest.fail(f"the test lab could not start: {exc}", pytrace=False)
    yield running
    running.stop()
