"""Every registry dependency that the tests and CI install is pinned to an exact version in a
committed lock (docs/DEVELOPING.md, "Dependencies"); a release upstream cannot change a run."""

import json
import os
import re

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXACT_NPM = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


def read(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as handle:
        return handle.read()


def python_lock():
    pins = {}
    for line in read("requirements-dev.lock").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.match(r"^[0-9][0-9A-Za-z.+!-]*$", version), "not an exact pin: %r" % line
        pins[canonicalize_name(name)] = version
    return pins


def test_the_python_lock_pins_every_requirement_and_pip_exactly():
    pins = python_lock()
    assert "pip" in pins  # make venv installs pip from it too
    for line in read("requirements-dev.txt").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, "%s is in requirements-dev.txt but not in requirements-dev.lock" % name
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            "requirements-dev.lock has %s==%s, outside %s" % (name, pins[name], requirement.specifier)


def test_the_npm_lock_pins_every_test_runtime_exactly_and_matches_package_json():
    manifest = json.loads(read("tests", "runtimes", "package.json"))
    lock = json.loads(read("tests", "runtimes", "package-lock.json"))
    wanted = manifest["dependencies"]
    assert "@mariozechner/pi-coding-agent" in wanted
    for name, version in wanted.items():
        assert EXACT_NPM.match(version), "%s: %r is not an exact version" % (name, version)
    packages = lock["packages"]
    assert lock["lockfileVersion"] >= 2
    assert packages[""]["dependencies"] == wanted, "package-lock.json is out of sync with package.json"
    for name, version in wanted.items():
        assert packages["node_modules/" + name]["version"] == version, name
    for path, entry in packages.items():
        # npm ci checks every package it fetches against the lock's hash; no registry URLs.
        assert "resolved" not in entry or entry.get("link"), "%s names where it comes from" % path
        if path and not entry.get("optional") and not entry.get("link"):
            assert entry.get("integrity", "").startswith("sha512-"), "%s has no integrity hash" % path


def test_the_ansible_wheel_of_the_test_collections_is_pinned_and_matches_ansible_core():
    script = read("scripts", "test-collections.sh")
    match = re.search(r"^ANSIBLE_WHEEL_VERSION=(\d+)\.(\d+)\.(\d+)$", script, re.M)
    assert match, "scripts/test-collections.sh does not pin an exact ansible release"
    core = re.search(r"^ansible-core==2\.(\d+)\.", read("requirements-dev.txt"), re.M)
    # ansible N ships with ansible-core 2.(N+7): 12 with 2.19.
    assert int(match.group(1)) == int(core.group(1)) - 7


def test_the_test_homeserver_lock_pins_synapse_and_everything_it_installs_exactly():
    pins = {}
    for line in read("tests", "matrix", "requirements.lock").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.match(r"^[0-9][0-9A-Za-z.+!-]*$", version), "not an exact pin: %r" % line
        pins[canonicalize_name(name)] = version
    assert "pip" in pins
    for line in read("tests", "matrix", "requirements.txt").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        spec = str(requirement.specifier)
        assert spec.startswith("=="), "requirements.txt pins %s exactly: %r" % (requirement.name, line)
        assert pins.get(canonicalize_name(requirement.name)) == spec[2:], requirement.name
