"""The roster's connector on hosts (plugins/module_utils/connector.py): the file the framework's
connector reads, rendered only for the orchestrator's host and a kind other than tmux; the
orchestrator's sheet lines."""

import importlib.util
import json
import os

from ansible_collections.mosaic.fleet.plugins.module_utils import connector, hostconfig
from ansible_collections.mosaic.fleet.plugins.module_utils.comms import render_comms_sheet

from test_comms import agent, roster

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MATRIX = {"homeserver_url": "http://127.0.0.1:8008", "user_id": "@fleet:example.org", "room_id": "!ops",
          "allowed_senders": ["@alice:example.org"]}


def fleet(kind="matrix"):
    doc = roster(agent("orch", cls="orchestrator"), agent("coder0", host="web2", ssh="fleet@web2"))
    doc["connector"] = {"kind": kind, kind: MATRIX} if kind == "matrix" else {"kind": kind}
    return doc


def framework_connector():
    path = os.path.join(REPO, "framework", "tools", "fleet", "mosaic_connector.py")
    spec = importlib.util.spec_from_file_location("mosaic_connector", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_framework_connector_reads_the_file_this_module_renders():
    framework = framework_connector()
    assert framework.CONFIG_FILE == connector.CONNECTOR_FILE
    assert framework.TOKEN_KEY == connector.TOKEN_KEYS["matrix"]
    assert framework.DISCORD_TOKEN_KEY == connector.TOKEN_KEYS["discord"]
    # The same kinds, registered by name on both sides, agreeing on which runs `connector run`.
    assert sorted(framework.KINDS) == sorted(connector.KINDS) == ["discord", "matrix", "tmux"]
    assert dict((n, k.service) for n, k in framework.KINDS.items()) == dict(
        (n, k["service"]) for n, k in connector.KINDS.items())


def test_the_wrapper_names_the_desk_and_interpreter_files_the_connector_writes():
    framework = framework_connector()
    with open(os.path.join(REPO, "framework", "tools", "fleet", "connector"), encoding="utf-8") as handle:
        wrapper = handle.read()
    assert '"$home/%s"' % framework.DESK_FILE in wrapper
    assert '"$home/%s"' % framework.INTERPRETER_FILE in wrapper
    assert "printf '%s\\0%%s" % framework.DESK_MAGIC.decode() in wrapper


def test_the_orchestrators_host_gets_the_connector_file_with_no_secret():
    plan = hostconfig.plan_files(fleet(), "web1")
    config = json.loads(plan[connector.CONNECTOR_FILE])
    assert config == {"kind": "matrix", "orchestrator": "orch", "matrix": MATRIX}
    assert hostconfig.file_mode(connector.CONNECTOR_FILE) == 0o644
    assert connector.CONNECTOR_FILE not in hostconfig.plan_files(fleet(), "web2")


def test_kind_tmux_renders_nothing_and_changes_no_sheet():
    assert connector.CONNECTOR_FILE not in hostconfig.plan_files(fleet("tmux"), "web1")
    assert connector.render_connector_config(fleet("tmux"), "web1") is None
    assert "connector reply" not in render_comms_sheet(fleet("tmux"), "orch")


def test_the_framework_connector_takes_the_rendered_file(tmp_path):
    framework = framework_connector()
    (tmp_path / "fleet").mkdir()
    (tmp_path / connector.CONNECTOR_FILE).write_text(connector.render_connector_config(fleet(), "web1"))
    built = framework.connector_for(framework.load_config(str(tmp_path)), str(tmp_path))
    assert (built.kind, built.room_id, built.user_id, built.allowed) == (
        "matrix", "!ops", "@fleet:example.org", {"@alice:example.org"})


def test_only_the_orchestrators_sheet_gets_the_reply_command():
    sheet = render_comms_sheet(fleet(), "orch")
    assert "## The operator (Matrix)" in sheet and "`!ops`" in sheet
    assert "    ~/.config/mosaic/tools/fleet/connector reply -m - <<'EOF'" in sheet
    assert "--thread $root" in sheet
    assert "connector reply" not in render_comms_sheet(fleet(), "coder0")


class _Spooled:
    """The part of a Matrix connector the service's spool reads."""

    def __init__(self, spool):
        self.spool = spool


def test_an_event_delivered_once_is_never_spooled_again(tmp_path):
    # Whatever the homeserver sends again (a replayed /sync after a crash), the ledger of
    # delivered events keeps the orchestrator from getting a message twice.
    framework = framework_connector()
    service = framework.Service(_Spooled(str(tmp_path / "spool")), str(tmp_path), "orch")
    message = framework.Inbound("$ev1", "@alice:example.org", "!ops", "hello")
    service.spool(message, 1)
    [(record, path)] = service.pending_in()
    assert record["event_id"] == "$ev1"
    with open(path + ".out", "w", encoding="utf-8") as handle:
        handle.write('{"outcome": "delivered"}\n')
    service.mark_delivered("$ev1", path)
    assert service.pending_in() == [] and not os.path.exists(path + ".out")
    service.spool(message, 2)
    assert service.pending_in() == []
    assert service.was_delivered("$ev1") and not service.was_delivered("$ev2")
    assert oct(os.stat(service.delivered_path()).st_mode & 0o777) == "0o600"


def test_the_ledger_keeps_the_newest_ids(tmp_path):
    framework = framework_connector()
    service = framework.Service(_Spooled(str(tmp_path / "spool")), str(tmp_path), "orch")
    for i in range(framework.DELIVERED_KEEP + 5):
        service.mark_delivered("$ev%d" % i, str(tmp_path / "gone.json"))
    assert not service.was_delivered("$ev0") and service.was_delivered("$ev%d" % (framework.DELIVERED_KEEP + 4))


def test_the_outcome_is_read_from_the_senders_report(tmp_path):
    framework = framework_connector()
    report = tmp_path / "r.out"
    assert framework.report_outcome(str(report)) == "not_delivered"
    report.write_text('noise\n{"outcome": "unconfirmed"}\n')
    assert framework.report_outcome(str(report)) == "unconfirmed"
    report.write_text("not json\n")
    assert framework.report_outcome(str(report)) == "not_delivered"


def test_discord_renders_its_block_runs_no_service_and_tells_the_orchestrator_how_to_answer():
    doc = roster(agent("orch", cls="orchestrator"), agent("coder0", host="web2", ssh="fleet@web2"))
    doc["connector"] = {"kind": "discord", "discord": {"channel_id": "846209781206941736",
                                                       "allowed_senders": ["184695080709324800"]}}
    config = json.loads(hostconfig.plan_files(doc, "web1")[connector.CONNECTOR_FILE])
    assert config == {"kind": "discord", "orchestrator": "orch", "discord": doc["connector"]["discord"]}
    assert not connector.runs_service(doc, "web1") and connector.runs_service(fleet(), "web1")
    assert not connector.runs_service(fleet(), "web2")
    sheet = render_comms_sheet(doc, "orch")
    assert "## The operator (Discord)" in sheet and "`reply` tool" in sheet and "connector reply" not in sheet
    assert "Discord" not in render_comms_sheet(doc, "coder0")
    assert connector.runtime_problem("discord", "pi", "orch") == (
        "connector kind discord needs an orchestrator on runtime claude (the orchestrator orch runs pi)")
    assert connector.runtime_problem("discord", "claude", "orch") is None
    assert connector.runtime_problem("matrix", "pi", "orch") is None
