"""multihost: an existing fleet stood up before tenant isolation (what 0.1.0 left: the fleet user's
home, MOSAIC_HOME, fleet/ and its logs open to every user, peer keys trusted without restriction)
is upgraded by the same playbook: `--check --diff` shows exactly the permission and key changes
and changes nothing, then a real run makes them without restarting any agent.

Runs last (file order), from host1, on every host through the scenario's inventory."""
import re

import pytest

from fleetcheck import FleetUser
from fleetcheck import run_playbook as playbook

HOSTS = ["mf-multihost-host1", "mf-multihost-host2", "mf-multihost-host3"]
SEND = "~/.config/mosaic/tools/tmux/agent-send.sh"


def changed_tasks(output):
    """{task name: hosts} of the tasks that reported changed."""
    found, task = {}, None
    for line in output.splitlines():
        match = re.match(r"^TASK \[(?:[\w.]+ : )?(.*?)\] \*", line)
        if match:
            task = match.group(1)
        match = re.match(r"^changed: \[([\w.-]+)\]", line)
        if match and task:
            found.setdefault(task, set()).add(match.group(1))
    return found


def open_like_0_1_0(user):
    """Leave the host as a fleet stood up before isolation and restricted mesh keys would."""
    paths = " ".join([user.home, user.mosaic_home] + ["%s/fleet%s" % (user.mosaic_home, sub)
                                                      for sub in ("", "/run", "/log")])
    log = user.sh("touch %s/fleet/log/send.log" % user.mosaic_home)     # the user's own log, as agent-send.sh writes it
    assert log.rc == 0, log.stderr
    script = ("chmod 0755 %s && chmod 0644 %s/fleet/log/send.log && "
              "sed -i -E 's/^restrict,command=\"[^\"]*\" //' %s/.ssh/authorized_keys"
              % (paths, user.mosaic_home, user.home))
    result = user.host.run(script)
    assert result.rc == 0, result.stderr


def state(user):
    paths = (user.home, user.mosaic_home, user.mosaic_home + "/fleet", user.mosaic_home + "/fleet/log/send.log")
    keys = user.host.file(user.home + "/.ssh/authorized_keys").content_string
    return {
        "modes": {path: user.host.file(path).mode for path in paths},
        "keys": [line.split(" ")[0] for line in keys.splitlines() if line.strip()],
        "panes": sorted(user.tmux("mosaic-fleet", "list-panes", "-a", "-F", "#{session_name} #{pane_pid}")
                        .stdout.split("\n")),
    }


def test_check_diff_then_a_real_run_upgrade_an_open_fleet_without_restarts(host, peer_host):
    if host.backend.get_hostname() != HOSTS[0]:
        pytest.skip("run from host1 for every host")
    users = [FleetUser(peer_host(name)) for name in HOSTS]
    for user in users:
        open_like_0_1_0(user)
    before = [state(user) for user in users]
    for user, seen in zip(users, before):
        assert set(seen["modes"].values()) == {0o755, 0o644}, seen
        assert all(kind.startswith("ssh-") for kind in seen["keys"]), seen["keys"]   # unrestricted

    check = playbook("fleet", "--check", "--diff")
    assert check.returncode == 0, check.stdout[-3000:]
    expected = {"Render the host configuration": set(HOSTS),
                "Trust every mesh peer's user key to deliver messages only": set(HOSTS)}
    assert changed_tasks(check.stdout) == expected, changed_tasks(check.stdout)
    for user in users:
        assert "%s (mode)" % user.home in check.stdout and "%s/fleet/log/send.log (mode)" % user.mosaic_home in check.stdout
    assert "-0755\n+0700" in check.stdout and "-0644\n+0600" in check.stdout
    assert re.search(r'^\+restrict,command=".*/tools/fleet/mesh-receive --from mf-multihost-host2 ', check.stdout, re.M)
    assert [state(user) for user in users] == before            # --check changed nothing

    real = playbook("fleet")
    assert real.returncode == 0, real.stdout[-3000:]
    made = changed_tasks(real.stdout)
    # The earlier tests' ssh calls let ssh rewrite known_hosts itself (UpdateHostKeys); the role
    # hands the file back to the user with its mode. Not an upgrade change, and no restart.
    made.pop("Hand known_hosts to the mesh user", None)
    assert made == expected, made
    for user, seen in zip(users, before):
        now = state(user)
        assert now["panes"] == seen["panes"], "an agent was restarted on %s" % user.hostname   # same sessions, same pids
        assert set(now["modes"].values()) == {0o700, 0o600}, now["modes"]
        assert all(kind.startswith("restrict,command=") for kind in now["keys"]), now["keys"]
    sent = users[0].sh("%s -H fleet@%s -s enhancer -m upgraded --json" % (SEND, HOSTS[1]))
    assert sent.rc == 0 and '"outcome": "delivered"' in sent.stdout, sent.stdout + sent.stderr
