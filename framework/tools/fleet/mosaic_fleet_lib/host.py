# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host layer: who the fleet user is, and how a module runs a command (as that user).

Every module goes through here (stdlib only, Python >= 3.8):

- identity: :func:`user_argument_spec` (the ``user``/``mosaic_home`` options),
  :func:`resolve_fleet_user` (THE rule for those options: passwd entry, home, MOSAIC_HOME),
  :func:`resolve_identity` / :func:`fleet_user` (the same as a :class:`FleetUser`, an error when
  the user does not exist);
- acting as the fleet user: :func:`switch_user_argv` (``runuser -u``, or ``setpriv`` where
  runuser is missing; :func:`switch_user_binary` picks), :func:`as_user_argv` (the same with
  root's tmux variables cleared, for tmux commands);
- running: :func:`spawn` (one argv, no shell, ``(rc, stdout, stderr)``, fast) and
  :class:`Runner` (spawn plus check mode: a command that changes state is recorded, and skipped
  in check mode);
- reading: :func:`read_head` (the start of a small file), :func:`agent_files` /
  :func:`rendered_agents` (the one listing of ``fleet/agents/``).
"""

from __future__ import annotations

import collections
import os
import pwd
import subprocess

from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import DEFAULT_MOSAIC_HOME_RELPATH

MOSAIC_HOME_RELPATH = tuple(DEFAULT_MOSAIC_HOME_RELPATH.split("/"))

# A read-only query (tmux, systemctl show) that takes longer than this is killed (rc -9).
COMMAND_TIMEOUT = 30


class HostError(Exception):
    """A host fact the module cannot do without (the fleet user does not exist)."""


# The fleet user as the modules need it. ``home`` is the passwd home (where the systemd user
# manager and login shells look); ``as_self``: the module already runs as this user.
FleetUser = collections.namedtuple("FleetUser", "name uid home as_self")


# --------------------------------------------------------------------------------------------
# identity


def user_argument_spec(**more):
    """The two options every module shares (docs/DEVELOPING.md, "Modules"), plus ``more``.

    ``mosaic_home`` is a plain string: :func:`resolve_fleet_user` expands ``~`` against the fleet
    user's home (``type: path`` would take the home of whoever runs the module, root's for a
    module that acts for the fleet user)."""
    spec = dict(user=dict(type="str"), mosaic_home=dict(type="str"))
    spec.update(more)
    return spec


def resolve_user(name=None):
    """The passwd entry of ``name``, or of the user the module runs as. KeyError when missing."""
    if name:
        return pwd.getpwnam(name)
    return pwd.getpwuid(os.geteuid())


def user_home(entry, as_self, environ):
    """The fleet user's home: ``$HOME`` when running as that user (as ``~`` would), else its passwd entry."""
    return (environ.get("HOME") or entry.pw_dir) if as_self else entry.pw_dir


def default_mosaic_home(home):
    """``<home>/.config/mosaic``, the default MOSAIC_HOME of every module."""
    return os.path.join(home, *MOSAIC_HOME_RELPATH)


def expand_mosaic_home(value, home):
    """An explicit ``mosaic_home`` as a path: ``~`` and ``~/...`` are the fleet user's ``home``;
    ``~other/...`` and ``$VARS`` expand as for any path option; the result is normalized."""
    if value == "~" or value.startswith("~/"):
        value = home + value[1:]
    else:
        value = os.path.expanduser(os.path.expandvars(value))
    return os.path.normpath(value) if value.startswith("/") else value


def resolve_fleet_user(params, environ=None):
    """``(passwd entry, home, mosaic_home, as_self)`` for a module's ``user``/``mosaic_home`` params.

    ``environ``: pass ``os.environ`` to make the home ``$HOME`` when the module runs as the fleet
    user (fleet_host_config, fleet_supervisor, fleet_reseed, fleet_units: what lets tests and
    benchmarks use a temporary HOME); None takes the passwd home always (fleet_ps and fleet_send,
    which look where the systemd user manager and the user's login shells look).

    An explicit ``mosaic_home`` goes through :func:`expand_mosaic_home` (``~`` is the fleet
    user's home). A fleet user that does not exist gives ``(None, "~user", <mosaic_home or
    ~user/.config/mosaic>, False)``; each module decides whether that is an error.
    """
    name = params.get("user")
    try:
        entry = resolve_user(name)
    except KeyError:
        entry, home, as_self = None, "~%s" % name, False
    else:
        as_self = entry.pw_uid == os.geteuid()
        home = user_home(entry, as_self, environ) if environ is not None else entry.pw_dir
    given = params.get("mosaic_home")
    return entry, home, expand_mosaic_home(given, home) if given else default_mosaic_home(home), as_self


def resolve_identity(params):
    """``(FleetUser, mosaic_home)`` for the ``user``/``mosaic_home`` options; HostError when the
    user does not exist.

    The home is the passwd entry's even when running as the fleet user with another ``$HOME``:
    fleet_ps must look where the systemd user manager looks, and a command run as another user
    gets that home.
    """
    entry, home, mosaic_home, as_self = resolve_fleet_user(params)
    if entry is None:
        raise HostError("fleet user %r does not exist" % params.get("user"))
    return FleetUser(entry.pw_name, entry.pw_uid, home, as_self), mosaic_home


def fleet_user(name=None):
    """The :class:`FleetUser` ``name`` (default: the user running the module)."""
    return resolve_identity({"user": name})[0]


# --------------------------------------------------------------------------------------------
# acting as the fleet user


def switch_user_binary(get_bin_path):
    """The program that switches user: ``runuser``, else ``setpriv`` (hosts without runuser).

    ``get_bin_path``: ``AnsibleModule.get_bin_path``."""
    return get_bin_path("runuser") or get_bin_path("setpriv") or "runuser"


def switch_user_argv(user, argv, binary="runuser"):
    """``argv`` run as ``user`` from root: ``runuser -u USER --`` or ``setpriv`` with the user's
    ids and groups. Neither runs a shell or a login; the environment passes through."""
    if os.path.basename(binary) == "setpriv":
        prefix = [binary, "--reuid=%s" % user, "--regid=%s" % user, "--init-groups", "--"]
    else:
        prefix = [binary, "-u", user, "--"]
    return prefix + list(argv)


def as_user_argv(user, home, tmux_tmpdir, argv, runuser="runuser"):
    """Run a tmux ``argv`` as ``user`` from root, so tmux finds that user's server.

    tmux looks for its socket in ``$TMUX_TMPDIR/tmux-<uid>/`` (``/tmp`` by default) and obeys
    ``$TMUX``; root's values of those must not leak into the user's command.
    """
    # env's options (-u) must come before its assignments.
    env = ["env", "-u", "TMUX"] + ([] if tmux_tmpdir else ["-u", "TMUX_TMPDIR"]) + ["HOME=%s" % home]
    env += ["TMUX_TMPDIR=%s" % tmux_tmpdir] if tmux_tmpdir else []
    return switch_user_argv(user, env + list(argv), runuser)


# --------------------------------------------------------------------------------------------
# running


def spawn(argv, env_update=None, timeout=COMMAND_TIMEOUT, data=None):
    """Run ``argv``: ``(rc, stdout, stderr)`` as text; rc 127 when it cannot start.

    Modules use this rather than ``AnsibleModule.run_command``, which always installs a
    ``preexec_fn``: that makes CPython fork() the whole module process instead of vfork(), which
    costs about as much as a tmux query itself (benchmarks/fleet_ps.py measures it). No shell, no
    ``~``/``$VAR`` expansion of the arguments (they are data); ``data`` (text) is the command's
    stdin, else it reads nothing. Past ``timeout`` seconds (None: no limit) the command is killed
    and reported with rc -9, so a wedged tmux server or manager cannot hang the module.
    """
    env = None
    if env_update:
        env = dict(os.environ)
        env.update(env_update)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, close_fds=True)
    except OSError as exc:
        return 127, "", "cannot run %s: %s" % (argv[0], exc)
    stdin = None if data is None else data.encode("utf-8", "surrogateescape")
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err = (err or b"") + (b"\n%s: timed out after %ds" % (argv[0].encode(), timeout))
        return -9, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    return proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


class Runner(object):
    """How a module runs commands: as the fleet user when asked, honouring check mode.

    ``run(argv, changes=True)`` records the argv in :attr:`commands` (what the module reports)
    and, in check mode, skips it and returns ``(0, "", "")``; queries (``changes=False``) always
    run. Commands go through ``spawn`` (:func:`spawn` unless a test or benchmark injects one).
    """

    def __init__(self, user=None, as_self=True, check_mode=False, switch_binary="runuser", spawn_fn=None):
        self.user = user
        self.as_self = as_self
        self.check_mode = check_mode
        self.switch_binary = switch_binary
        self.spawn = spawn_fn or spawn
        self.commands = []

    @classmethod
    def for_module(cls, module, user=None, as_self=True, **kwargs):
        """A runner for ``module`` (its check mode; runuser or setpriv, looked up only when needed)."""
        binary = "runuser" if as_self else switch_user_binary(module.get_bin_path)
        return cls(user, as_self, module.check_mode, binary, **kwargs)

    def as_user(self, argv):
        """``argv`` as the fleet user (unchanged when the module already runs as that user)."""
        return list(argv) if self.as_self else switch_user_argv(self.user, argv, self.switch_binary)

    def as_user_tmux(self, argv, home, tmux_tmpdir=None):
        """A tmux ``argv`` as the fleet user (:func:`as_user_argv`; unchanged when as self)."""
        return list(argv) if self.as_self else as_user_argv(self.user, home, tmux_tmpdir, argv, self.switch_binary)

    def run(self, argv, env=None, data=None, changes=False, timeout=None):
        """``(rc, stdout, stderr)`` of ``argv`` (``env``: variables to add); see the class."""
        if changes:
            self.commands.append(list(argv))
            if self.check_mode:
                return 0, "", ""
        return self.spawn(argv, env, timeout=timeout, data=data)

    def query(self, argv, env=None):
        """Run a read-only query, killed past :data:`COMMAND_TIMEOUT` (the probe's ``run``)."""
        return self.spawn(argv, env, timeout=COMMAND_TIMEOUT)


# --------------------------------------------------------------------------------------------
# reading


def read_head(path, limit=256):
    """The first ``limit`` bytes of a small file as text, or None (raw os calls: cheap per agent)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, limit).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(fd)


def agent_files(mosaic_home):
    """{filename: agent name} of the rendered files in ``fleet/agents/`` ({} when none)."""
    try:
        names = os.listdir(os.path.join(mosaic_home, hostconfig.AGENTS_DIR))
    except OSError:
        return {}
    owners = ((n, hostconfig.agent_of_file(n)) for n in names)
    return dict((n, agent) for n, agent in owners if agent)


def rendered_agents(mosaic_home):
    """Names of the agents whose env file fleet_host_config rendered on this host."""
    return set(agent for name, agent in agent_files(mosaic_home).items() if name.endswith(hostconfig.ENV_SUFFIX))
