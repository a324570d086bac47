"""fleet_ps parsing and classification, driven by tests/unit/data/ps/*.yaml.

classify.yaml: health and drift of one agent from what its unit, session and heartbeat say.
hosts.yaml: whole-host cases through ps.probe with a fake runner that serves the exact commands
expected (so the command count is data too), heartbeat files in a temporary MOSAIC_HOME.
"""

import os

import pytest
import yaml

from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig, metering, ps, ps_probe, tmux

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ps")


def load(name):
    with open(os.path.join(DATA, name), "r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


CLASSIFY = load("classify.yaml")
HOSTS = load("hosts.yaml")

PANE_DEFAULTS = {
    "session_id": "$1", "session_group": "", "session_group_list": "", "session_grouped": "0",
    "session_created": 100, "session_attached": 0, "window_index": 0, "window_active": True,
    "pane_index": 0, "pane_active": True, "pane_id": "%1", "pane_pid": 4242,
    "pane_current_command": "bash", "pane_dead": False, "pane_dead_status": "", "window_activity": 950,
    "pane_dead_signal": "",
}


def pane_line(fields):
    """One list-panes output line (tab-separated, in PANE_FIELDS order), as tmux prints it."""
    values = dict(PANE_DEFAULTS, **fields)
    if values["session_group_list"]:
        values["session_grouped"] = "1"
    cells = []
    for field in ps.PANE_FIELDS:
        value = values[field]
        if isinstance(value, bool):
            value = "1" if value else "0"
        cells.append("" if value is None else str(value))
    return "\t".join(cells)


def show_text(units):
    """`systemctl show -p ...` output for units (blocks separated by blank lines)."""
    blocks = []
    for unit_id, props in units.items():
        lines = ["Id=%s" % unit_id] + ["%s=%s" % (k, v) for k, v in props.items()]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def session_of(fields):
    """A session dict as ps.group_sessions builds it, from pane fields."""
    panes = ps.parse_panes(pane_line(dict({"session_name": "a1"}, **fields)))
    return ps.group_sessions(panes)[panes[0]["session_name"]]


# ---------------------------------------------------------------------------------------------
# classification, one agent


@pytest.mark.parametrize("case", CLASSIFY, ids=[c["id"] for c in CLASSIFY])
def test_classify(case):
    agent = dict({"name": "a1", "class": "worker", "host": "h", "socket": "s", "command": ""}, **case["agent"])
    supervisor = case.get("supervisor", "tmux")
    unit = None
    if supervisor == "systemd":
        unit = dict({"Id": "mosaic-agent@a1.service"}, **case["unit"]) if "unit" in case else \
            {"Id": "mosaic-agent@a1.service", "LoadState": "not-found", "ActiveState": "inactive"}
    session = session_of(case["session"]) if "session" in case else None
    if "heartbeat_text" in case:
        heartbeat = ps.parse_heartbeat(case["heartbeat_text"])
    else:
        heartbeat = tuple(case["heartbeat"]) if case.get("heartbeat") else None
    record = ps.agent_record(agent, "t", supervisor, unit, session, heartbeat,
                             case.get("now", 1000), case.get("stale_after", 120),
                             meter=metering.parse_meter(case.get("meter")), notice=metering.parse_notice(case.get("notice")),
                             screen=case.get("screen"))
    expect = case["expect"]
    assert record["health"] == expect["health"], record["health_reason"]
    assert record["health"] in ps.HEALTH_STATES
    assert record["drift"] is expect["drift"], record["drift_reasons"]
    assert record["drift"] == bool(record["drift_reasons"])
    assert record["drift_reason"] == ("; ".join(record["drift_reasons"]) or None)
    for text in expect.get("drift_has", []):
        assert any(text in reason for reason in record["drift_reasons"]), (text, record["drift_reasons"])
    if "reason_has" in expect:
        assert expect["reason_has"] in record["health_reason"]
    for key, value in (expect.get("fields") or {}).items():
        assert record[key] == value, key
    if "heartbeat_current" in expect:
        assert record["heartbeat_current"] is expect["heartbeat_current"]
    assert record["session_exists"] is (session is not None)


def test_every_health_state_and_both_supervisors_are_covered_by_the_data():
    assert set(c["expect"]["health"] for c in CLASSIFY) == set(ps.HEALTH_STATES)
    assert set(c.get("supervisor", "tmux") for c in CLASSIFY) == set(ps.SUPERVISORS)


# ---------------------------------------------------------------------------------------------
# whole host through ps.probe


class FakeRunner(object):
    """Serves the commands of a case in order; anything else fails the test."""

    def __init__(self, commands):
        self.commands = commands
        self.calls = []

    def __call__(self, argv, env):
        index = len(self.calls)
        self.calls.append((list(argv), env))
        assert index < len(self.commands), "unexpected extra command %r" % (argv,)
        spec = self.commands[index]
        out = spec.get("stdout", "")
        if "capture" in spec:
            # One capture call for the screens (a random marker per call): sessions in order.
            marker = argv[argv.index("display-message") + 2].split(" ")[0]
            assert list(argv) == tmux.capture_screens_argv(spec["socket"], list(spec["capture"]),
                                                           spec.get("lines", ps.WAITING_SCREEN_LINES), marker)
            out = "".join("%s %s\n%s\n" % (marker, name, text) for name, text in spec["capture"].items())
        else:
            assert list(argv) == spec["argv"], "command %d" % index
        assert (env or None) == spec.get("env"), "env of command %d" % index
        if "panes" in spec:
            out = "\n".join(pane_line(p) for p in spec["panes"]) + "\n"
        if "units" in spec:
            out = show_text(spec["units"])
        return spec.get("rc", 0), out, spec.get("stderr", "")


def _expand(commands):
    """Fill {PANE_FORMAT} in argv (the format is long and owned by ps.py)."""
    out = []
    for spec in commands:
        spec = dict(spec)
        spec["argv"] = [a.replace("{PANE_FORMAT}", ps.PANE_FORMAT) for a in spec.get("argv", [])]
        out.append(spec)
    return out


@pytest.mark.parametrize("case", HOSTS, ids=[c["id"] for c in HOSTS])
def test_probe_host(case, tmp_path):
    identity = list(case.get("identity") or ["fleet", 1000, str(tmp_path / "home"), True])
    home = identity[2] if identity[2].startswith(str(tmp_path)) else str(tmp_path / "home")
    mosaic_home = os.path.join(str(tmp_path / "home"), ".config", "mosaic")
    os.makedirs(os.path.join(mosaic_home, "fleet", "run"))
    os.makedirs(os.path.join(mosaic_home, "fleet", "agents"))
    for name, text in (case.get("heartbeats") or {}).items():
        with open(os.path.join(mosaic_home, "fleet", "run", name + ".heartbeat"), "w") as handle:
            handle.write(text)
    for name, text in (case.get("files") or {}).items():
        with open(os.path.join(mosaic_home, "fleet", "run", name), "w") as handle:
            handle.write(text)
    for name in case.get("rendered") or []:
        open(os.path.join(mosaic_home, "fleet", "agents", name + ".env"), "w").close()
    if case.get("units_enabled"):
        wants = os.path.join(home, ps_probe.USER_UNIT_DIR, ps_probe.WANTS_DIR)
        os.makedirs(wants)
        os.symlink("../mosaic-tmux-holder.service", os.path.join(wants, "mosaic-tmux-holder.service"))
    runner = FakeRunner(_expand(case["commands"]))
    options = dict(case.get("options") or {})
    expect = case["expect"]

    def probe():
        return ps_probe.probe(case["roster"], runner, tuple(identity), mosaic_home,
                              rendered_host_name=case.get("rendered_host"), hostname=case.get("hostname", "nohost"),
                              stale_after=case.get("stale_after", 120), now=case["now"],
                              manager_reachable=case.get("bus", False), **options)
    if "raises" in expect:
        with pytest.raises(ps_probe.ProbeError) as info:
            probe()
        assert expect["raises"] in str(info.value)
        return
    report = probe()

    assert len(runner.calls) == len(case["commands"]), "commands not run: %r" % case["commands"][len(runner.calls):]
    assert report["commands"] == [argv for argv, _env in runner.calls]
    by_name = dict((r["name"], r) for r in report["agents"])
    assert sorted(by_name) == sorted(expect["agents"])
    assert [r["name"] for r in report["agents"]] == sorted(by_name)
    for name, fields in expect["agents"].items():
        for key, value in fields.items():
            assert by_name[name][key] == value, "%s.%s: %s" % (name, key, by_name[name]["health_reason"])
    assert [s["session"] for s in report["adhoc_sessions"]] == expect["adhoc"]
    for name, host in (expect.get("adhoc_roster_host") or {}).items():
        assert [s["roster_host"] for s in report["adhoc_sessions"] if s["session"] == name] == [host]
    assert [v["session"] for v in report["viewer_sessions"]] == expect["viewers"]
    for state, count in (expect.get("summary") or {}).items():
        assert report["summary"][state] == count, state
    assert sum(report["summary"].values()) == len(report["agents"]) == report["total"]
    assert set(report["summary"]) == set(ps.HEALTH_STATES)
    if "warnings_has" in expect:
        assert any(expect["warnings_has"] in w for w in report["warnings"]), report["warnings"]
    else:
        assert report["warnings"] == []
    special = ("agents", "adhoc", "adhoc_roster_host", "viewers", "summary", "warnings_has")
    for key, value in expect.items():
        if key not in special:
            assert report[key] == value, key


class CountingHost(object):
    """Serves `systemctl show` and `list-panes` for ``names`` (every agent up), counting commands."""

    def __init__(self, names):
        self.names = names
        self.calls = []

    def __call__(self, argv, env):
        self.calls.append(argv)
        if argv[0] == "systemctl":
            return 0, show_text(dict((ps.fleet_systemd.agent_unit(a), {"ActiveState": "active"})
                                     for a in self.names)), ""
        return 0, "\n".join(pane_line({"session_name": a, "pane_current_command": "python3"})
                            for a in self.names), ""


def test_command_count_does_not_grow_with_agents(tmp_path):
    """1, 10 and 200 agents: the same two commands (one show, one list-panes)."""
    counts = []
    for n in (1, 10, 200):
        names = ["agent%03d" % i for i in range(n)]
        roster = {"tmux": {"socket_name": "f", "holder_session": "mosaic-holder"},
                  "agents": [{"name": a, "runtime": "stub", "host": "h", "socket": "f"} for a in names]}
        run = CountingHost(names)
        report = ps_probe.probe(roster, run, ("u", 1000, str(tmp_path), True), str(tmp_path / "mh"), host="h",
                                supervisor="systemd", now=1000)
        assert report["total"] == n
        assert report["summary"]["unresponsive"] == n
        counts.append(len(run.calls))
    assert counts == [2, 2, 2]


# ---------------------------------------------------------------------------------------------
# parsing details


def test_parse_panes_real_output():
    """A line as tmux 3.3 prints it, including an escaped tab in a session name."""
    text = ("we\\tird\t$4\t\t\t0\t1795316790\t0\t0\t1\t0\t1\t%4\t28064\tbash\t0\t\t1795316790\t\n"
            "a-view\t$1\ta\ta,a-view\t1\t1795316790\t2\t0\t1\t0\t1\t%0\t28036\tsleep\t1\t0\t1795316791\t\n"
            "k\t$2\t\t\t0\t1795316790\t0\t0\t1\t0\t1\t%5\t28070\tsleep\t1\t\t1795316792\t9\n")
    panes = ps.parse_panes(text)
    assert panes[0]["session_name"] == "we\\tird"
    assert panes[0]["pane_pid"] == 28064 and panes[0]["pane_dead"] is False
    assert panes[0]["pane_dead_status"] is None and panes[0]["session_group_list"] == []
    assert panes[1]["session_group"] == "a" and panes[1]["session_group_list"] == ["a", "a-view"]
    assert panes[1]["pane_dead"] is True and panes[1]["pane_dead_status"] == 0
    assert panes[1]["session_attached"] == 2 and panes[1]["window_activity"] == 1795316791
    assert panes[1]["pane_dead_signal"] is None
    # killed by a signal: no exit status, the signal instead
    assert panes[2]["pane_dead"] is True and panes[2]["pane_dead_status"] is None
    assert panes[2]["pane_dead_signal"] == 9


def test_parse_panes_tolerates_an_older_tmux_without_the_last_fields():
    line = "s\t$1\t\t\t0\t1\t0\t0\t1\t0\t1\t%1\t42\tpython3\t0\t\t5"
    pane = ps.parse_panes(line)[0]
    assert pane["pane_pid"] == 42 and pane["pane_dead_signal"] is None


def test_group_sessions_picks_the_active_pane_of_the_active_window():
    lines = [
        pane_line({"session_name": "s", "window_index": 0, "window_active": False, "pane_active": True,
                   "pane_id": "%1", "pane_current_command": "python3"}),
        pane_line({"session_name": "s", "window_index": 1, "window_active": True, "pane_active": False,
                   "pane_id": "%2", "pane_current_command": "top"}),
        pane_line({"session_name": "s", "window_index": 1, "window_active": True, "pane_active": True,
                   "pane_id": "%3", "pane_current_command": "bash"}),
    ]
    session = ps.group_sessions(ps.parse_panes("\n".join(lines)))["s"]
    assert session["pane_count"] == 3
    assert session["pane"]["pane_id"] == "%3"


def test_parse_units_keys_by_id():
    text = "Id=mosaic-agent@a.service\nActiveState=active\n\nId=mosaic-agent@b.service\nActiveState=failed\n"
    units = ps.parse_units(text)
    assert units["mosaic-agent@b.service"]["ActiveState"] == "failed"
    assert ps.parse_units("") == {}


@pytest.mark.parametrize("text, expected", [
    ("1700000000 4242\n", (1700000000.0, 4242)),
    ("1700000000.5\n", (1700000000.5, None)),
    ("1700000000 notapid\n", (1700000000.0, None)),
    ("", None),
    ("garbage 1\n", None),
    (None, None),
])
def test_parse_heartbeat(text, expected):
    assert ps.parse_heartbeat(text) == expected


@pytest.mark.parametrize("rc, stderr, expected", [
    (1, "no server running on /tmp/tmux-0/mosaic-fleet\n", True),
    (1, "error connecting to /tmp/tmux-0/x (No such file or directory)\n", True),
    (1, "error connecting to /tmp/tmux-0/x (Connection refused)\n", True),
    (127, "runuser: failed to execute tmux: No such file or directory\n", False),
    (1, "unknown option -- Z\n", False),
    (0, "no server running on x", False),
])
def test_is_no_server(rc, stderr, expected):
    assert ps.is_no_server(rc, stderr) is expected


@pytest.mark.parametrize("runtime, command, expected", [
    ("pi", "", ("node", "pi")),
    ("stub", "", ("python3", "python", "stub-agent")),
    ("claude", "exec /usr/local/bin/claude-wrapper --x", ("claude", "node", "claude-wrapper")),
    ("codex", "A=1 B='two words' env nohup mycodex", ("node", "codex", "mycodex")),
    ("opencode", "node /srv/oc.js", ("opencode", "node", "bun")),
    ("pi", "unbalanced 'quote", ("node", "pi", "unbalanced")),
])
def test_expected_process_names(runtime, command, expected):
    assert ps.expected_process_names(runtime, command) == expected


def test_runtime_process_names_cover_every_runtime():
    from ansible_collections.mosaic.fleet.plugins.module_utils import roster
    assert set(ps.RUNTIME_PROCESS_NAMES) == set(roster.RUNTIMES)


# ---------------------------------------------------------------------------------------------
# sessions that are not agents


def _session(name, group=None, group_list=()):
    return {"name": name, "group": group, "group_list": list(group_list)}


@pytest.mark.parametrize("session, expected", [
    (_session("coder0-view"), "coder0"),
    (_session("coder0-view2"), "coder0"),
    (_session("coder0-viewer"), "coder0"),
    (_session("coder0-view-4711"), "coder0"),       # tools/fleet/watch's name (contract.viewer_session)
    (_session("peek", "coder0", ["coder0", "peek"]), "coder0"),
    (_session("coder0"), None),
    (_session("coder0view"), None),
    (_session("scratch"), None),
    (_session("g2", "mygroup", ["mygroup", "g2"]), None),
])
def test_viewer_of(session, expected):
    assert ps.viewer_of(session, {"coder0": "h", "coder1": "h"}) == expected


def test_holder_only_excluded_on_its_own_socket():
    pane = ps.parse_panes(pane_line({"session_name": "mosaic-holder"}))
    sessions = {"main": ps.group_sessions(pane), "other": ps.group_sessions(pane)}
    viewers, adhoc = ps.classify_sessions(sessions, {}, {}, "mosaic-holder", "main")
    assert viewers == []
    assert [(s["socket"], s["session"]) for s in adhoc] == [("other", "mosaic-holder")]


def test_connector_session_is_not_ad_hoc_on_the_holders_socket():
    pane = ps.parse_panes(pane_line({"session_name": "mosaic-connector"}))
    sessions = {"main": ps.group_sessions(pane), "other": ps.group_sessions(pane)}
    viewers, adhoc = ps.classify_sessions(sessions, {}, {}, "mosaic-holder", "main")
    assert viewers == []
    assert [(s["socket"], s["session"]) for s in adhoc] == [("other", "mosaic-connector")]


# ---------------------------------------------------------------------------------------------
# selection, supervisor, argv


ROSTER = {"agents": [{"name": "a", "host": "web1"}, {"name": "b", "host": "web2"}, {"name": "c", "host": "box"}]}


@pytest.mark.parametrize("kwargs, names, rule", [
    ({"host": "web1"}, ["a"], "host"),
    ({"host": "web1", "rendered_host": "web2"}, ["a"], "host"),
    ({"rendered_host": "web2"}, ["b"], "rendered roster"),
    ({"local_names": ["box"]}, ["c"], "env files and hostname"),
    ({"rendered": ["a"], "local_names": ["box"]}, ["a", "c"], "env files and hostname"),
    ({"local_names": ["elsewhere"]}, [], "env files and hostname"),
    ({"host": "nowhere"}, [], "host"),
])
def test_select_agents(kwargs, names, rule):
    chosen, used = ps.select_agents(ROSTER, **kwargs)
    assert [a["name"] for a in chosen] == names
    assert used == rule


def test_rendered_host_reads_fleet_host_config_header():
    normalized = {"agents": [], "tmux": {"socket_name": "", "holder_session": "mosaic-holder"}}
    text = hostconfig.render_roster(normalized, "web1.example")
    assert hostconfig.rendered_host(text) == "web1.example"
    assert hostconfig.load_rendered_roster(text) == normalized
    assert hostconfig.rendered_host('{"agents": []}\n') is None
    assert hostconfig.rendered_host("# nothing here\n{}\n# Rendered on host: late\n") is None


def test_load_roster(tmp_path):
    with pytest.raises(ps_probe.ProbeError, match="stand the fleet up first"):
        ps_probe.load_roster(str(tmp_path))
    path = tmp_path / "fleet" / "roster.yaml"
    path.parent.mkdir()
    path.write_text("# header\nnot json\n")
    with pytest.raises(ps_probe.ProbeError, match="not a rendered roster"):
        ps_probe.load_roster(str(tmp_path))
    path.write_text(hostconfig.render_roster({"agents": [{"name": "x", "host": "h"}]}, "h"))
    roster, host = ps_probe.load_roster(str(tmp_path))
    assert host == "h" and roster["agents"][0]["name"] == "x"


@pytest.mark.parametrize("requested, reachable, enabled, expected", [
    ("auto", True, True, "systemd"),
    ("auto", True, False, "tmux"),
    ("auto", False, True, "tmux"),
    ("auto", False, False, "tmux"),
    ("systemd", False, False, "systemd"),
    ("tmux", True, True, "tmux"),
])
def test_choose_supervisor(requested, reachable, enabled, expected):
    assert ps.choose_supervisor(requested, reachable, enabled) == expected


def test_units_enabled_looks_for_wants_links(tmp_path):
    assert ps_probe.units_enabled(str(tmp_path), ["a"]) is False
    wants = tmp_path / ps_probe.USER_UNIT_DIR / ps_probe.WANTS_DIR
    wants.mkdir(parents=True)
    os.symlink("/nonexistent/dangling", str(wants / "mosaic-agent@a.service"))
    assert ps_probe.units_enabled(str(tmp_path), ["a"]) is True
    assert ps_probe.units_enabled(str(tmp_path), ["b"]) is False


def test_list_panes_argv_follows_the_socket_rule():
    assert ps.list_panes_argv("")[:3] == ["tmux", "list-panes", "-a"]
    assert ps.list_panes_argv("mosaic-fleet", binary="/usr/bin/tmux")[:4] == [
        "/usr/bin/tmux", "-L", "mosaic-fleet", "list-panes"]


def test_dead_pane_reason_names_the_signal_or_status():
    def pane(**dead):
        fields = {"pane_dead": True, "pane_dead_status": None, "pane_dead_signal": None}
        fields.update(dead)
        return {"pane": fields}
    health, reason = ps.classify_health("tmux", None, pane(pane_dead_signal=9), None, 100.0, 30)
    assert health == "dead" and "killed by signal 9" in reason
    health, reason = ps.classify_health("tmux", None, pane(pane_dead_status=3), None, 100.0, 30)
    assert health == "dead" and "with status 3" in reason
    # tmux 3.3a sometimes records neither for a SIGKILLed pane: still dead, no invented cause
    health, reason = ps.classify_health("tmux", None, pane(), None, 100.0, 30)
    assert health == "dead" and "signal" not in reason and "status" not in reason


# ---------------------------------------------------------------------------------------------
# screens (fleet_ps lines)

def test_capture_screens_argv_is_one_call_with_a_section_per_session():
    argv = tmux.capture_screens_argv("fleet", ["a", "b"], 5, "MARK")
    assert argv == ["tmux", "-L", "fleet",
                    "display-message", "-p", "MARK a", ";", "capture-pane", "-p", "-J", "-S", "-5", "-t", "=a:", ";",
                    "display-message", "-p", "MARK b", ";", "capture-pane", "-p", "-J", "-S", "-5", "-t", "=b:"]
    assert tmux.capture_screens_argv("", ["a"], 1, "M", binary="/usr/bin/tmux")[:2] == ["/usr/bin/tmux", "display-message"]


def test_parse_screens_keeps_the_last_lines_and_ignores_forged_headers():
    text = "MARK a\none\ntwo  \nthree\n\n\nMARK b\nmosaic-screen-x a\nb1\n"
    assert tmux.parse_screens(text, "MARK", 2) == {"a": "two\nthree", "b": "mosaic-screen-x a\nb1"}
    assert tmux.parse_screens("", "MARK", 2) == {}
    assert tmux.parse_screens("noise\nMARK a\n", "MARK", 3) == {"a": ""}
