"""Helpers for the framework integration tests (test_framework_*.py): env files, tmux, polling."""

import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_DEV = os.path.join(REPO, ".cache", "collections")
if _DEV not in sys.path:
    sys.path.insert(0, _DEV)

from ansible_collections.mosaic.fleet.plugins.module_utils.envfile import (  # noqa: E402
    render_env_file,
)
from ansible_collections.mosaic.fleet.plugins.module_utils.shipped import (  # noqa: E402
    install_framework as _install_framework,
)

FRAMEWORK = os.path.join(REPO, "framework")


def install_framework(dest, framework_dir=FRAMEWORK, **copytree_args):
    """Install the framework at ``dest`` as fleet_reseed ships it: ``framework_dir`` plus the
    module_utils its host tools run (plugins/module_utils/shipped.py). Returns ``dest``."""
    return _install_framework(str(dest), framework_dir=framework_dir, **copytree_args)


def write_agent_env(env, name, runtime="stub", model="", workdir="~", socket="", command="",
                    agent_class="worker", extra=(), persona="false", resume="false"):
    """Write fleet/agents/NAME.env in the contract's key order; return its path."""
    pairs = [
        ("MOSAIC_AGENT_NAME", name),
        ("MOSAIC_AGENT_RUNTIME", runtime),
        ("MOSAIC_AGENT_MODEL", model),
        ("MOSAIC_AGENT_WORKDIR", workdir),
        ("MOSAIC_TMUX_SOCKET", socket),
        ("MOSAIC_AGENT_CLASS", agent_class),
        ("MOSAIC_AGENT_HOST", "localhost"),
        ("MOSAIC_TENANT", "default"),
        ("MOSAIC_HOLDER_SESSION", "mosaic-holder"),
        ("MOSAIC_AGENT_PERSONA", persona),
        ("MOSAIC_AGENT_RESUME", resume),
        ("MOSAIC_AGENT_COMMAND", command),
    ] + list(extra)
    path = os.path.join(env["MOSAIC_HOME"], "fleet", "agents", name + ".env")
    with open(path, "w") as handle:
        handle.write(render_env_file(pairs))
    os.chmod(path, 0o600)
    return path


def tool(env, name):
    return os.path.join(env["MOSAIC_HOME"], "tools", "fleet", name)


def run_tool(env, name, *args, **kwargs):
    """Run tools/fleet/NAME with env; return the CompletedProcess (text, captured)."""
    return subprocess.run(
        [tool(env, name)] + list(args), env=kwargs.get("run_env", env), capture_output=True,
        text=True, timeout=kwargs.get("timeout", 30), check=False,
    )


def tmux(env, socket, *args):
    argv = ["tmux"] + (["-L", socket] if socket else []) + list(args)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10, check=False)


def sessions(env, socket):
    result = tmux(env, socket, "list-sessions", "-F", "#{session_name}")
    return result.stdout.split() if result.returncode == 0 else []


def pane(env, socket, session, fmt):
    result = tmux(env, socket, "display-message", "-p", "-t", "=%s:" % session, fmt)
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n")


def capture(env, socket, session):
    return tmux(env, socket, "capture-pane", "-p", "-J", "-S", "-", "-t", "=%s:" % session).stdout


def screen_with(env, socket, session, text):
    """The pane's contents when they contain text, else '' (for wait_for)."""
    screen = capture(env, socket, session)
    return screen if text in screen else ""


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll predicate() until it returns something truthy; return it, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def read_file(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def fake_runtime(directory, name="pi"):
    """An executable NAME in directory that records its argv, pid and cwd, then sleeps as NAME.

    It writes <directory>/<name>.argv (NUL-separated argv), <name>.pid and <name>.cwd, then
    `exec -a NAME sleep`, so the process keeps the pid and shows NAME as its command."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write(
            "#!/bin/bash\n"
            'out="$(dirname "$0")/%s"\n'
            "printf '%%s\\0' \"$@\" > \"$out.argv.tmp\"\n"
            'pwd > "$out.cwd"\n'
            'echo $$ > "$out.pid"\n'
            'mv "$out.argv.tmp" "$out.argv"\n'
            "exec -a %s sleep 300\n" % (name, name)
        )
    os.chmod(path, 0o755)
    return path


def fake_argv(directory, name="pi"):
    data = read_file(os.path.join(directory, name + ".argv"))
    if data is None:
        return None
    return data.decode("utf-8").split("\0")[:-1]
