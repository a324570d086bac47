"""The per-host file plan: which files a host gets and what is in them."""

import json

import yaml

from ansible_collections.mosaic.fleet.plugins.module_utils import hostconfig
from ansible_collections.mosaic.fleet.plugins.module_utils.comms import render_comms_sheet

from test_comms import agent, roster

FLEET = roster(
    agent("orchestrator", cls="orchestrator"),
    agent("enhancer", cls="enhancer", socket=""),
    agent("coder0", host="web2", ssh="fleet@web2"),
)
FLEET["agents"][0].update(persistent_persona=True, resume=True, model_hint="opus", working_directory="~/work dir",
                          command="my-agent --flag 'x y'")


def test_plan_covers_exactly_the_agents_on_the_host():
    plan = hostconfig.plan_files(FLEET, "web1")
    assert sorted(plan) == sorted([
        "fleet/roster.yaml", "fleet/holder.env",
        "fleet/agents/orchestrator.env", "fleet/agents/orchestrator.comms.md",
        "fleet/agents/enhancer.env", "fleet/agents/enhancer.comms.md",
    ])
    assert sorted(hostconfig.plan_files(FLEET, "web2")) == sorted([
        "fleet/roster.yaml", "fleet/holder.env", "fleet/agents/coder0.env", "fleet/agents/coder0.comms.md"])


def test_host_without_agents_still_gets_the_roster():
    assert sorted(hostconfig.plan_files(FLEET, "web9")) == ["fleet/holder.env", "fleet/roster.yaml"]


def test_env_file_keys_in_contract_order():
    text = hostconfig.plan_files(FLEET, "web1")["fleet/agents/orchestrator.env"]
    assert text.splitlines() == [
        "MOSAIC_AGENT_NAME=orchestrator",
        "MOSAIC_AGENT_RUNTIME=pi",
        "MOSAIC_AGENT_MODEL=opus",
        'MOSAIC_AGENT_WORKDIR="~/work dir"',
        "MOSAIC_TMUX_SOCKET=mosaic-fleet",
        "MOSAIC_AGENT_CLASS=orchestrator",
        "MOSAIC_AGENT_HOST=web1",
        "MOSAIC_TENANT=acme",
        "MOSAIC_HOLDER_SESSION=mosaic-holder",
        "MOSAIC_AGENT_PERSONA=true",
        "MOSAIC_AGENT_RESUME=true",
        "MOSAIC_AGENT_COMMAND=\"my-agent --flag 'x y'\"",
    ]
    assert text.endswith("\n")


def test_empty_socket_is_written_bare():
    text = hostconfig.plan_files(FLEET, "web1")["fleet/agents/enhancer.env"]
    assert "MOSAIC_TMUX_SOCKET=\n" in text
    assert "MOSAIC_AGENT_PERSONA=false\n" in text


def test_holder_env():
    assert hostconfig.plan_files(FLEET, "web1")["fleet/holder.env"] == \
        "MOSAIC_TMUX_SOCKET=mosaic-fleet\nMOSAIC_HOLDER_SESSION=mosaic-holder\n"


def test_rendered_roster_round_trips_and_is_yaml():
    text = hostconfig.plan_files(FLEET, "web2")["fleet/roster.yaml"]
    assert text.startswith("#")
    assert hostconfig.load_rendered_roster(text) == FLEET
    assert yaml.safe_load(text) == FLEET
    body = text[text.index("{"):]
    assert json.loads(body) == FLEET


def test_comms_sheets_are_the_comms_renderer_output():
    plan = hostconfig.plan_files(FLEET, "web1")
    assert plan["fleet/agents/enhancer.comms.md"] == render_comms_sheet(FLEET, "enhancer")


def test_custom_mosaic_home_changes_the_tool_path_in_sheets():
    plan = hostconfig.plan_files(FLEET, "web1", "/opt/mosaic")
    assert "/opt/mosaic/tools/tmux/agent-send.sh -L mosaic-fleet -H fleet@web2 -s coder0" in \
        plan["fleet/agents/orchestrator.comms.md"]
    assert hostconfig.send_tool_path("~/.config/mosaic") == "~/.config/mosaic/tools/tmux/agent-send.sh"
    assert "`/opt/mosaic/fleet/roles/orchestrator.md`" in plan["fleet/agents/orchestrator.comms.md"]
    assert "`~/.config/mosaic/fleet/roles/orchestrator.md`" in \
        hostconfig.plan_files(FLEET, "web1")["fleet/agents/orchestrator.comms.md"]


def test_file_modes():
    assert hostconfig.file_mode("fleet/agents/x.env") == 0o600
    assert hostconfig.file_mode(hostconfig.SECRETS_FILE) == 0o600
    assert hostconfig.file_mode("fleet/agents/x.comms.md") == 0o644
    assert hostconfig.file_mode("fleet/roster.yaml") == 0o644
    assert hostconfig.file_mode("fleet/holder.env") == 0o644


def test_agent_of_file_recognizes_only_rendered_files():
    assert hostconfig.agent_of_file("coder-1.env") == "coder-1"
    assert hostconfig.agent_of_file("coder_1.comms.md") == "coder_1"
    for foreign in ("notes.txt", ".coder.env.tmp", "-x.env", "a.b.env", "x.comms.md.bak", "x.env~"):
        assert hostconfig.agent_of_file(foreign) is None, foreign


def test_secrets_sorted_and_quoted():
    assert hostconfig.render_secrets({"B": "two words", "A": "x"}) == 'A=x\nB="two words"\n'


def test_closed_mode_clears_group_and_other_bits_only():
    assert hostconfig.closed_mode(0o755) == 0o700
    assert hostconfig.closed_mode(0o644) == 0o600
    assert hostconfig.closed_mode(0o2775) == 0o2700       # set-id bits stay: not ours to change
    assert hostconfig.closed_mode(0o40700) == 0o700      # st_mode's type bits are dropped


def test_plan_closing_changes_only_what_the_user_owns_and_is_open():
    entries = [("/home/t", 0o40755, 1001), ("/srv", 0o40755, 0), ("/home/t/m", 0o40700, 1001),
               ("/home/t/m/fleet/log/send.log", 0o100644, 1001)]
    assert hostconfig.plan_closing(entries, 1001) == [
        ("/home/t", 0o755, 0o700), ("/home/t/m/fleet/log/send.log", 0o644, 0o600)]


def test_a_shared_directory_is_never_closed_even_when_the_user_owns_it():
    # root with HOME=/tmp (or a MOSAIC_HOME there): /tmp stays 1777 for everyone else.
    entries = [("/tmp", 0o41777, 0), ("/srv/drop", 0o40777, 0), ("/root", 0o40755, 0)]
    assert hostconfig.plan_closing(entries, 0) == [("/root", 0o755, 0o700)]


def test_private_dirs_are_created_closed():
    assert hostconfig.private_dir_mode(".") == 0o700
    assert hostconfig.private_dir_mode("fleet") == 0o700
    assert hostconfig.private_dir_mode("fleet", private=False) == 0o755
    assert hostconfig.private_dir_mode("tools/fleet") == 0o755
