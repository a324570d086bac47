import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import fleetcheck  # noqa: E402


@pytest.fixture(scope="session")
def roster():
    return fleetcheck.stub_preset("local-canary")


@pytest.fixture
def default_host(host):
    # One host: agents without `host:` are placed on it.
    return host.backend.get_hostname()
