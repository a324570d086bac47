import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fleetcheck  # noqa: E402

ROSTER = Path(__file__).resolve().parents[1] / "rosters" / "pi.yml"


@pytest.fixture
def roster():
    return fleetcheck.load_roster(ROSTER)


@pytest.fixture
def default_host(host):
    return host.backend.get_hostname()
