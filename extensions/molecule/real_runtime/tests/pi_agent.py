# -*- coding: utf-8 -*-
# Copyright: (c) 2026, mosaic.fleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the real_runtime scenario's tests share: the one pi agent, its unit and the mock model's
record of the requests it received (prepare.yml)."""

from __future__ import annotations

import json
import shlex
import time

from fleetcheck import fleet_ps, wait_until

NAME = "pi0"
UNIT = "mosaic-agent@%s.service" % NAME
SOCKET = "mosaic-fleet"
# The mock's recording pass-through writes one JSON line per request, whole bodies (prepare.yml).
REQUESTS = "/var/lib/mosaic-test-mock/requests.jsonl"
# Small, so that idling across several periods is quick; pi beats every 5 s while idle (the slack
# is for a loaded machine).
STALE_AFTER = 15
FIRST, SECOND = "FIRST-MOLECULE remember the word heron", "SECOND-MOLECULE which word was it"


def requests(host):
    """Every model request the mock received so far (bodies as text), oldest first."""
    f = host.file(REQUESTS)
    if not f.exists:
        return []
    return [json.loads(line)["body"] for line in f.content_string.splitlines() if line.strip()]


def wait_request(host, predicate, after=0, timeout=90, what="a request"):
    found = wait_until(lambda: next((r for r in requests(host)[after:] if predicate(r)), None),
                       timeout=timeout, interval=1)
    assert found, "the mock model saw no %s in %ds; it saw %d request(s): %s" % (
        what, timeout, len(requests(host)[after:]), [r[:300] for r in requests(host)[after:]])
    return found


def screen(user):
    return user.tmux(SOCKET, "capture-pane", "-p", "-J", "-t", "=%s:" % NAME).stdout


def main_pid(user):
    return user.systemctl("show", "-p", "MainPID", "--value", UNIT).stdout.strip()


def pane_pid(user):
    return user.tmux(SOCKET, "display-message", "-p", "-t", "=%s:" % NAME, "#{pane_pid}").stdout.strip()


def assert_under_its_unit(user):
    """The unit is active and its main process IS pi in the pane (adopted into the unit)."""
    ok = wait_until(lambda: main_pid(user) not in ("", "0") and main_pid(user) == pane_pid(user))
    assert ok, "%s's MainPID %r is not its pane's pid %r\n%s" % (
        UNIT, main_pid(user), pane_pid(user), user.unit_diagnostics(UNIT))
    comm = user.host.file("/proc/%s/comm" % main_pid(user)).content_string.strip()
    assert comm in ("node", "pi"), "%s's main process is %r, not pi" % (UNIT, comm)


def record(host, user, inventory_host):
    return next(r for r in fleet_ps(host, user, inventory_host) if r["name"] == NAME)


def assert_healthy_while_idle(host, user, inventory_host, periods=2):
    """fleet_ps (stale_after STALE_AFTER) says healthy at every look for ``periods`` x
    STALE_AFTER seconds while nothing is sent."""
    args = "user=%s host=%s stale_after=%d" % (user.name, inventory_host, STALE_AFTER)

    def look():
        result = host.ansible("mosaic.fleet.fleet_ps", args, check=False)
        assert not result.get("failed"), json.dumps(result, default=str)[:2000]
        return next(r for r in result["agents"] if r["name"] == NAME)

    first = wait_until(lambda: look()["health"] == "healthy", timeout=60, interval=3)
    assert first, "%s is not healthy: %s\n%s" % (
        NAME, json.dumps(look(), default=str)[:1500], user.unit_diagnostics(UNIT))
    deadline = time.monotonic() + periods * STALE_AFTER
    looks = 0
    while time.monotonic() < deadline:
        rec = look()
        looks += 1
        assert rec["health"] == "healthy", "%s went %s while idle (%s) after %d looks" % (
            NAME, rec["health"], rec.get("health_reason"), looks)
        time.sleep(3)
    assert looks >= periods, "only %d looks in %d s" % (looks, periods * STALE_AFTER)


def send(host, user, message):
    """fleet_send as an operator's play runs it; returns the module's result."""
    args = "agent=%s user=%s timeout=60 msg=%s" % (NAME, user.name, shlex.quote(message))
    result = host.ansible("mosaic.fleet.fleet_send", args, check=False)
    assert not result.get("failed") and result.get("outcome") == "delivered", \
        "fleet_send: %s" % json.dumps(result, default=str)[:2000]
    return result
