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
    assert sorted(framework.KINDS) == ["matrix", "tmux"]


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
