import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import fleetcheck  # noqa: E402

ROSTERS = Path(__file__).resolve().parents[1] / "rosters"
# Which roster the host should match, by test directory.
ROSTER_OF = {"full": "full.yml", "supervision": "full.yml", "removed": "without-worker1.yml", "no_orchestrator": "without-worker1.yml"}


@pytest.fixture
def roster(request):
    return fleetcheck.load_roster(ROSTERS / ROSTER_OF[request.node.path.parent.name])


@pytest.fixture
def default_host(host):
    return host.backend.get_hostname()
