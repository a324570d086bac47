"""Supervision (issue 14): the roster's restart policy, the per-agent unit drop-in that states it
for systemd, and what fleet_ps reads back (module_utils/supervision.py)."""

import json
import os

from ansible_collections.mosaic.fleet.plugins.module_utils import roster, supervision
from ansible_collections.mosaic.fleet.plugins.module_utils import systemd as sd

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT_UNIT = open(os.path.join(REPO, "framework", "systemd", "user", "mosaic-agent@.service")).read()


def document(**top):
    agents = top.pop("agents", [])
    doc = {"version": 1, "agents": [{"name": "orchestrator", "class": "orchestrator", "runtime": "stub"},
                                    {"name": "enhancer", "class": "enhancer", "runtime": "stub"}] + agents}
    doc.update(top)
    return doc


def validate(doc):
    return roster.validate(doc)


def policies(doc):
    normalized, violations = validate(doc)
    assert violations == [], roster.format_violations(violations)
    return dict((a["name"], a["supervision"]) for a in normalized["agents"])


def unit_values(text):
    """{(section, key): value} of a unit file or drop-in (last assignment wins)."""
    values, section = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            section = line
        elif line and not line.startswith("#") and "=" in line:
            key, _sep, value = line.partition("=")
            values[(section, key)] = value
    return values


def test_defaults_are_the_unit_files_own():
    """The shipped unit states the default policy, so an agent without a drop-in behaves the same."""
    unit = unit_values(AGENT_UNIT)
    dropin = unit_values(supervision.render_dropin("a", {}))
    for key in (("[Unit]", "StartLimitIntervalSec"), ("[Unit]", "StartLimitBurst"), ("[Service]", "Restart"),
                ("[Service]", "RestartSec")):
        assert unit[key] == dropin[key], key
    assert unit[("[Service]", "Type")] == "forking"
    assert unit[("[Service]", "PIDFile")] == "%h/.config/mosaic/fleet/run/%i.pid"
    assert unit[("[Service]", "NotifyAccess")] == "all"


def test_precedence_agent_over_class_over_fleet_over_defaults():
    doc = document(
        supervision={"restart": "always", "restart_delay": 30, "restart_spacing": 60,
                     "classes": {"worker": {"restart_on_hang": True, "restart_delay": 20}}},
        agents=[{"name": "w0", "class": "worker", "runtime": "stub"},
                {"name": "w1", "class": "worker", "runtime": "stub", "supervision": {"restart": "never"}},
                {"name": "c0", "class": "coder", "runtime": "stub"}])
    got = policies(doc)
    assert got["w0"] == dict(supervision.DEFAULTS, restart="always", restart_delay=20, restart_on_hang=True,
                             restart_spacing=60)
    assert got["w1"]["restart"] == "never" and got["w1"]["restart_on_hang"] is True
    assert got["c0"] == dict(supervision.DEFAULTS, restart="always", restart_delay=30, restart_spacing=60)
    assert got["orchestrator"]["restart_on_hang"] is False


def test_the_drop_in_states_the_policy():
    text = supervision.render_dropin("w0", dict(supervision.DEFAULTS, restart="never", restart_delay=7,
                                                crashloop_burst=3, crashloop_interval=300, restart_on_hang=True,
                                                hang_timeout=240, restart_spacing=0))
    values = unit_values(text)
    assert values == {
        ("[Unit]", "StartLimitIntervalSec"): "300", ("[Unit]", "StartLimitBurst"): "3",
        ("[Service]", "Restart"): "no", ("[Service]", "RestartSec"): "7", ("[Service]", "WatchdogSec"): "240",
        ("[Service]", "Environment"): "MOSAIC_RESTART_SPACING=0 MOSAIC_WATCHDOG_SEC=240",
        ("[Service]", "TimeoutStartSec"): "900",
    }
    assert unit_values(supervision.render_dropin("w0", {}))[("[Service]", "WatchdogSec")] == "0"
    assert supervision.dropin_path("w0") == "mosaic-agent@w0.service.d/mosaic-supervision.conf"


def test_plan_dropins_removes_those_of_agents_gone():
    files, unwanted = supervision.plan_dropins(
        {"a": {}}, ["mosaic-agent@a.service.d/mosaic-supervision.conf",
                    "mosaic-agent@gone.service.d/mosaic-supervision.conf"])
    assert list(files) == ["mosaic-agent@a.service.d/mosaic-supervision.conf"]
    assert unwanted == ["mosaic-agent@gone.service.d/mosaic-supervision.conf"]
    assert supervision.is_dropin("mosaic-agent@gone.service.d/mosaic-supervision.conf")
    assert not supervision.is_dropin("mosaic-agent@.service.d/mosaic-supervision.conf")
    assert not supervision.is_dropin("mosaic-agent@a.service.d/" + sd.HOME_DROPIN)


def test_a_hang_timeout_shorter_than_grace_is_refused_at_its_path():
    doc = document(supervision={"grace": 300},
                   agents=[{"name": "w0", "class": "worker", "runtime": "stub",
                            "supervision": {"restart_on_hang": True, "hang_timeout": 60}}])
    normalized, violations = validate(doc)
    assert normalized is None
    assert [v.path for v in violations] == ["agents[2].supervision.hang_timeout"]
    assert "shorter than grace (300s)" in violations[0].message
    # Off, the numbers do not matter.
    doc["agents"][2]["supervision"]["restart_on_hang"] = False
    assert validate(doc)[1] == []


def test_the_schema_refuses_unknown_values_and_fields():
    for bad in ({"restart": "sometimes"}, {"restart_delay": 0}, {"crashloop_burst": 0}, {"hang_timeout": 5},
                {"bogus": 1}):
        doc = document(agents=[{"name": "w0", "runtime": "stub", "supervision": bad}])
        assert validate(doc)[0] is None, bad
    # restart_spacing is fleet-wide only.
    assert validate(document(agents=[{"name": "w0", "runtime": "stub",
                                      "supervision": {"restart_spacing": 5}}]))[0] is None
    assert validate(document(supervision={"restart_spacing": 5}))[1] == []


def test_parse_exit():
    assert supervision.parse_exit('{"time": 1700000000, "status": null, "signal": 9}\n') == {
        "time": 1700000000, "status": None, "signal": 9}
    assert supervision.parse_exit('{"time": 5, "status": 3, "signal": null}') == {"time": 5, "status": 3,
                                                                                  "signal": None}
    for junk in (None, "", "garbage", "[1]", '{"status": true}'):
        parsed = supervision.parse_exit(junk)
        assert parsed is None or parsed["status"] is None


def test_record_fields_and_crashloop():
    unit = {"Id": "mosaic-agent@a.service", "ActiveState": "active", "Restart": "on-failure", "NRestarts": "1"}
    fields = supervision.record_fields(unit, {"time": 90, "status": None, "signal": 9}, 100)
    assert fields == {"restarts": 1, "restart_policy": "on-failure", "last_exit_at": 90, "last_exit_status": None,
                      "last_exit_signal": 9, "last_restart_at": 100}
    assert supervision.record_fields(dict(unit, NRestarts="0"), None, 100)["last_restart_at"] is None
    assert supervision.record_fields(None, None, 100)["restarts"] is None
    assert supervision.crashloop_reason(unit) is None
    failed = dict(unit, ActiveState="failed", Result="exit-code", NRestarts="4", StartLimitBurst="5",
                  StartLimitIntervalUSec="15min")
    reason = supervision.crashloop_reason(failed)
    assert "after 4 restarts (at most 5 starts in 15min), last result exit-code" in reason
    assert "systemctl --user reset-failed mosaic-agent@a.service" in reason
    assert supervision.crashloop_reason(dict(failed, Restart="no")) is None


def test_tmux_mode_state_and_crashloop(tmp_path):
    """tmux mode: the restart count is the history's lines; a dead agent with the guard's record
    is crashloop, and the summary follows."""
    run = tmp_path / "fleet" / "run"
    run.mkdir(parents=True)
    (run / "a.restarts").write_text("100\n200\n")
    (run / "a.crashloop").write_text('{"time": 300, "restarts": 4, "burst": 5, "interval": 900}\n')
    (run / "a.exit").write_text('{"time": 300, "status": 3, "signal": null}\n')

    def read(path):
        try:
            with open(path) as handle:
                return handle.read()
        except OSError:
            return None
    states = {"a": supervision.read_state(read, str(tmp_path), "a"),
              "b": supervision.read_state(read, str(tmp_path), "b")}
    assert states["b"] == {"exit": None, "restarts": 0, "crashloop": None}
    report = {"summary": {"dead": 1, "healthy": 1, "crashloop": 0}, "agents": [
        {"name": "a", "supervisor": "tmux", "health": "dead", "health_reason": "x", "pane_dead": True,
         "session_created": 250},
        {"name": "b", "supervisor": "tmux", "health": "healthy", "health_reason": "y", "pane_dead": False,
         "session_created": 10}]}
    supervision.annotate(report, {}, states)
    a, b = report["agents"]
    assert a["health"] == "crashloop" and "after 4 restarts (at most 5 starts in 900s)" in a["health_reason"]
    assert (a["restarts"], a["last_exit_status"], a["last_restart_at"]) == (2, 3, 250)
    assert (b["health"], b["restarts"], b["last_restart_at"]) == ("healthy", 0, None)
    assert report["summary"] == {"dead": 0, "healthy": 1, "crashloop": 1}


def test_hang_restarts_only_for_runtimes_whose_beat_reaches_the_watchdog():
    """codex beats only at turn ends: a hang restart would kill it while idle and answering, so the
    roster refuses it; pi and opencode feed the watchdog from their plugins' timers."""
    doc = document(supervision={"classes": {"worker": {"restart_on_hang": True}}},
                   agents=[{"name": "w0", "class": "worker", "runtime": "claude"},
                           {"name": "w1", "class": "worker", "runtime": "codex"},
                           {"name": "w2", "class": "worker", "runtime": "pi"},
                           {"name": "w3", "class": "worker", "runtime": "opencode"}])
    normalized, violations = validate(doc)
    assert normalized is None
    assert [v.path for v in violations] == ["agents[3].supervision.restart_on_hang"]
    assert "not available for runtime codex" in violations[0].message
    del doc["agents"][3]
    assert validate(doc)[1] == []


def test_the_watchdog_runtimes_beat_through_the_heartbeat_tool_while_idle():
    """Each runtime allowed hang restarts feeds the watchdog: the stub itself, the others through
    tools/fleet/heartbeat run periodically (claude's status line), per the runtime table."""
    import json
    table = json.load(open(os.path.join(REPO, "framework", "fleet", "runtimes.json")))["runtimes"]
    for runtime in supervision.WATCHDOG_RUNTIMES:
        if runtime == "stub":
            assert "MOSAIC_NOTIFY_SOCKET" in open(os.path.join(REPO, "framework", "tools", "fleet", "stub-agent")).read()
            continue
        heartbeat = json.dumps(table[runtime]["heartbeat"])
        if runtime in ("pi", "opencode"):
            # The plugin the table loads runs tools/fleet/heartbeat from its timer when the unit
            # has a watchdog (tests/integration/test_supervision_scripts.py runs it).
            plugin = "%s-heartbeat.%s" % (runtime, "ts" if runtime == "pi" else "js")
            assert plugin in heartbeat, runtime
            source = open(os.path.join(REPO, "framework", "tools", "fleet", plugin)).read()
            assert 'from "./watchdog-feed.mjs"' in source and "feed()" in source, runtime
            feed = open(os.path.join(REPO, "framework", "tools", "fleet", "watchdog-feed.mjs")).read()
            assert "MOSAIC_WATCHDOG_SEC" in feed and '"heartbeat"' in feed
            continue
        assert "statusLine" in heartbeat and "heartbeat" in heartbeat, runtime
    assert "systemd-notify WATCHDOG=1" in open(os.path.join(REPO, "framework", "tools", "fleet", "heartbeat")).read()


def test_restart_backoff_doubles_after_short_runs_to_its_cap_and_resets_after_a_stable_run():
    policy = dict(supervision.DEFAULTS)          # 10 s doubling to 600 s; stable after 300 s
    backoff = supervision.restart_backoff
    # The first restart since a deliberate start: restart_delay, whatever the run's length.
    assert backoff(policy, 100, 101, 101, None) == {"step": 0, "delay": 10, "wait": 10}
    steps, delays, previous = [], [], None
    for _run in range(9):                           # runs of 1 s in a row
        got = backoff(policy, 100, 101, 101, previous)
        previous = got["step"]
        steps.append(got["step"])
        delays.append(got["delay"])
    assert steps == list(range(9))
    assert delays == [10, 20, 40, 80, 160, 320, 600, 600, 600]
    # A run of stable_after seconds or more starts again at restart_delay; one just shorter does not.
    assert backoff(policy, 0, 300, 300, 5)["step"] == 0
    assert backoff(policy, 0, 299, 299, 5) == {"step": 6, "delay": 600, "wait": 600}
    # An unknown run length counts as short; an unknown end is now.
    assert backoff(policy, None, 50, 50, 1)["step"] == 2
    assert backoff(policy, 990, None, 1000, 1)["wait"] == 40
    # wait: what remains at now of the delay counted from the end (systemd already waited
    # RestartSec=), rounded up, never negative.
    assert backoff(policy, 100, 101, 111, 1)["wait"] == 30
    assert backoff(policy, 100, 101, 111.5, 0)["wait"] == 10
    assert backoff(policy, 100, 101, 500, 3)["wait"] == 0
    # restart_delay_max == restart_delay: no backoff; the step stays bounded.
    flat = dict(policy, restart_delay=5, restart_delay_max=5)
    assert backoff(flat, 0, 1, 1, 7)["delay"] == 5
    assert backoff(policy, 0, 1, 1, 10 ** 6)["step"] == 32


def test_backoff_record_round_trip():
    result = supervision.restart_backoff(supervision.DEFAULTS, 0, 1, 1, 2)
    text = supervision.backoff_record(result, 12.5)
    assert json.loads(text) == {"time": 12, "step": 3, "delay": 80}
    assert supervision.parse_backoff(text) == 3
    for bad in ("", "x", "[]", '{"step": -1}', '{"step": true}', '{"step": "2"}'):
        assert supervision.parse_backoff(bad) is None, bad
    assert supervision.backoff_path("/m", "w0") == "/m/fleet/run/w0.backoff"


def test_backoff_cap_not_below_the_first_delay_and_the_start_timeout_covers_it():
    doc = document(supervision={"restart_delay": 30, "classes": {"worker": {"restart_delay_max": 20}}},
                   agents=[{"name": "w0", "class": "worker", "runtime": "stub"}])
    violations = validate(doc)[1]
    assert [v.path for v in violations] == ["agents[2].supervision.restart_delay_max"]
    assert "shorter than restart_delay (30s)" in violations[0].message
    unit = unit_values(supervision.render_dropin("w0", dict(supervision.DEFAULTS, restart_delay_max=900,
                                                            restart_spacing=20)))
    # A restart's start waits up to the cap beyond RestartSec=, then the spacing, then launches.
    assert unit[("[Service]", "TimeoutStartSec")] == str(supervision.LAUNCH_TIMEOUT + 900 + 20)
    assert unit_values(AGENT_UNIT)[("[Service]", "TimeoutStartSec")] == str(
        supervision.LAUNCH_TIMEOUT + supervision.DEFAULTS["restart_delay_max"] + supervision.DEFAULTS["restart_spacing"])
