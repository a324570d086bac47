import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import fleetcheck  # noqa: E402


@pytest.fixture(scope="session")
def roster():
    return fleetcheck.load_roster(fleetcheck.PRESETS / "local-canary.yaml")


@pytest.fixture
def default_host(host):
    return host.backend.get_hostname()
