"""An isolated fleet for the playbook tests (test_standup.py, test_reseed_playbook.py): its own
HOME, TMUX_TMPDIR, named socket and inventory; the role runs in tmux mode for the current user."""

import json
import os
import re
import subprocess

from ansible_util import ansible_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def whoami():
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


class Fleet(object):
    """One isolated fleet: its HOME, TMUX_TMPDIR, socket and inventory."""

    def __init__(self, tmp_path, socket, collections_path=None):
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.tmux_tmpdir = tmp_path / "tmux"
        self.tmux_tmpdir.mkdir()
        self.socket = socket
        self.mosaic_home = self.home / ".config" / "mosaic"
        self.inventory = tmp_path / "inventory.yml"
        self.inventory.write_text(
            "fleet:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
            "      ansible_python_interpreter: %s\n" % os.path.join(REPO, ".venv", "bin", "python"))
        self.env = ansible_env(os.environ, self.tmp / "ansible-tmp", collections_path,
                               HOME=str(self.home), TMUX_TMPDIR=str(self.tmux_tmpdir),
                               MOSAIC_HEARTBEAT_INTERVAL="1")
        self.env.pop("TMUX", None)

    def roster(self, *agents):
        return {"version": 1, "profile": "canary", "tmux": {"socket_name": self.socket}, "agents": list(agents)}

    def variables(self, roster, **more):
        """The role's variables for a stand-up of ``roster`` in tmux mode as the current user."""
        variables = {"mosaic_fleet_roster": roster, "mosaic_fleet_user": os.environ.get("USER") or whoami(),
                     "mosaic_fleet_install_packages": False, "mosaic_fleet_supervisor": "tmux"}
        variables.update(more)
        return variables

    def run_playbook(self, name, variables, extra=(), timeout=None):
        """``ansible-playbook mosaic.fleet.<name>`` with ``variables`` (as an extra-vars file)."""
        varfile = self.tmp / "vars.json"
        varfile.write_text(json.dumps(variables))
        return subprocess.run(
            [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", str(self.inventory),
             "mosaic.fleet.%s" % name, "-e", "@%s" % varfile] + list(extra),
            capture_output=True, text=True, env=self.env, cwd=str(self.tmp), timeout=timeout, check=False)

    def recap(self, proc):
        match = re.search(r"^localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                          proc.stdout, re.M)
        assert match, proc.stdout + proc.stderr
        return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))

    def list_panes(self, fmt):
        """One tuple of fields per pane on the fleet's socket, for the tab-separated ``fmt``."""
        proc = subprocess.run(["tmux", "-L", self.socket, "list-panes", "-a", "-F", fmt],
                              capture_output=True, text=True, env=self.env, check=False)
        return [tuple(line.split("\t")) for line in proc.stdout.splitlines()]

    def kill_server(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, env=self.env, check=False)
