import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import fleetcheck  # noqa: E402

ROSTER = Path(__file__).resolve().parents[1] / "rosters" / "three-hosts.yml"


@pytest.fixture(scope="session")
def roster():
    return fleetcheck.load_roster(ROSTER)


@pytest.fixture(scope="session")
def default_host():
    return None  # every agent names its host


@pytest.fixture
def peer_host(request):
    """A testinfra host for another inventory host: peer_host("mf-multihost-host2")."""
    import testinfra

    inventory = request.config.option.ansible_inventory

    def get(name):
        return testinfra.get_host("ansible://%s" % name, ansible_inventory=inventory)
    return get
