import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import fleetcheck  # noqa: E402


@pytest.fixture
def peer_host(request):
    """A testinfra host for another inventory host: peer_host("mf-tenants-host2")."""
    return fleetcheck.peer_host_getter(request)
