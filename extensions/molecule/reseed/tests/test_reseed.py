"""After the side effect (re-seed B + rolling relaunch + a second re-seed): the fleet is up and
healthy (the shared fleet tests) and MOSAIC_HOME holds version B with the user's files intact."""

import json

# The standard fleet-is-up tests and their fixtures; pytest collects them from this module.
from fleet_tests import (  # noqa: F401  pylint: disable=unused-import
    agents, inventory_host, roster_agents, user,
    test_comms_sheets, test_env_files_exact_and_private, test_fleet_ps_all_healthy,
    test_heartbeats_fresh, test_linger_and_user_manager,
    test_one_session_per_agent_running_the_runtime, test_units_enabled_and_active,
)


def _mosaic_home(host):
    home = host.user("fleet").home
    return home + "/.config/mosaic"


def test_manifest_records_version_b(host):
    manifest = json.loads(host.file(_mosaic_home(host) + "/.mosaic-manifest.json").content_string)
    assert manifest["version"] == "B"
    assert "MARKER-B.md" in manifest["files"] and "MARKER-A.md" not in manifest["files"]
    assert manifest["files"]["SOUL.md"]["class"] == "seed"
    assert not any(path.startswith(("credentials/", "fleet/agents/", "fleet/run/")) for path in manifest["files"])


def test_user_files_untouched(host):
    mh = _mosaic_home(host)
    assert host.file(mh + "/SOUL.md").content_string == "my own soul\n"
    assert host.file(mh + "/team.local.md").content_string == "local notes\n"
    cred = host.file(mh + "/credentials/extra.env")
    assert cred.content_string == "TOKEN=do-not-touch\n"
    assert cred.mode == 0o600 and cred.user == "fleet"


def test_framework_files_owned_by_fleet_user_with_modes(host):
    mh = _mosaic_home(host)
    for path in ("AGENTS.md", "AGENTS.md.A.bak", "MARKER-B.md", "tools/fleet/start-agent-session.sh"):
        f = host.file(mh + "/" + path)
        assert f.exists and f.user == "fleet", path
    assert host.file(mh + "/tools/fleet/start-agent-session.sh").mode & 0o111
    assert not host.file(mh + "/MARKER-A.md").exists
