# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which agent runtimes a host installs for its fleet user, and how (fleet_runtimes).

Pure and stdlib-only. Each runtime of the runtime table with a ``package`` (npm name and the
version the collection pins) is installed, when an agent placed on the host uses it, with
``npm install --global --prefix <home>/.npm-global`` as the fleet user: ``<prefix>/bin`` is one
of the directories start-agent-session.sh puts at the front of the pane's PATH, so launch-agent
finds it with nothing else configured. A version given per runtime overrides the pin.
"""

from __future__ import annotations

import json
import re

PREFIX = ".npm-global"  # under the fleet user's home; start-agent-session.sh's ~/.npm-global/bin
# An exact npm version (never a range, a dist-tag, an option, a path or a URL): what is installed
# can then be compared with what is wanted, so a second run installs nothing.
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+[0-9A-Za-z.+-]*$")


class InstallError(ValueError):
    """A version or runtime that cannot be installed as asked."""


def runtimes_used(agents):
    """The runtimes of ``agents`` (those placed on the host), in roster order, once each."""
    seen = []
    for agent in agents:
        if agent.get("runtime") and agent["runtime"] not in seen:
            seen.append(agent["runtime"])
    return seen


def plan(table, agents, versions=None):
    """``[(runtime, npm package, version)]`` to have installed: each runtime of ``agents`` that has
    a ``package`` in the table, at ``versions[runtime]`` when given, else the pinned version.
    Runtimes without a package (``stub``) are skipped; a version for a runtime the table does not
    know, or that no npm version could be, is an error."""
    versions = dict(versions or {})
    runtimes = table["runtimes"]
    for runtime, version in versions.items():
        if runtime not in runtimes or "package" not in runtimes[runtime]:
            raise InstallError("no npm package for runtime %r (runtimes with one: %s)"
                               % (runtime, ", ".join(r for r in runtimes if "package" in runtimes[r])))
        if not isinstance(version, str) or not _VERSION.match(version):
            raise InstallError("runtime %s: %r is not an exact npm version (such as 1.2.3)" % (runtime, version))
    wanted = []
    for runtime in runtimes_used(agents):
        package = runtimes.get(runtime, {}).get("package")
        if package:
            wanted.append((runtime, package["npm"], versions.get(runtime, package["version"])))
    return wanted


def package_json_path(prefix, package):
    """Where npm leaves an installed global package's package.json under ``prefix``."""
    return "%s/lib/node_modules/%s/package.json" % (prefix.rstrip("/"), package)


def installed_version(package_json_text):
    """The version in an installed package.json (None: not installed or unreadable)."""
    if not package_json_text:
        return None
    try:
        version = json.loads(package_json_text).get("version")
    except (ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def changes(wanted, installed):
    """``[(runtime, package, version, installed version or None)]`` of ``wanted`` that differ from
    ``installed`` (``{package: version or None}``)."""
    return [(runtime, package, version, installed.get(package)) for runtime, package, version in wanted
            if installed.get(package) != version]


def npm_argv(npm, prefix, todo):
    """One ``npm install`` for every package of ``todo`` (from :func:`changes`)."""
    return [npm, "install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error"] + [
        "%s@%s" % (package, version) for _runtime, package, version, _have in todo]


def agents_to_relaunch(agents, todo):
    """The agents (names, roster order) whose runtime moves from one installed version to
    another: they run the old one until relaunched. A first install relaunches nothing."""
    upgraded = set(runtime for runtime, _package, _version, have in todo if have is not None)
    return [agent["name"] for agent in agents if agent.get("runtime") in upgraded]
