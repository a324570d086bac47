import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))

import pytest  # noqa: E402


@pytest.fixture
def peer_host(request):
    """A testinfra host for another inventory host: peer_host("mf-tenants-host2")."""
    import testinfra

    inventory = request.config.option.ansible_inventory

    def get(name):
        return testinfra.get_host("ansible://%s" % name, ansible_inventory=inventory)
    return get
