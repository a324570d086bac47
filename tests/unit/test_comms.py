"""The Fleet Comms sheet: identity, the exact command per peer, point of contact, reply rule."""

import copy

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils.comms import (
    SEND_TOOL, identity, render_comms_sheet, send_command)

TOOL = "~/.config/mosaic/tools/tmux/agent-send.sh"


def agent(name, host="web1", cls="coder", socket="mosaic-fleet", ssh=""):
    return {"name": name, "runtime": "pi", "class": cls, "persistent_persona": False, "resume": False, "model_hint": "",
            "host": host, "ssh": ssh, "socket": socket, "working_directory": "~", "command": ""}


def roster(*agents, profile="full"):
    return {"version": 1, "tenant": "acme", "profile": profile, "transport": "tmux",
            "tmux": {"socket_name": "mosaic-fleet", "holder_session": "mosaic-holder"},
            "defaults": {"working_directory": "~"}, "connector": {"kind": "tmux"}, "agents": list(agents)}


FLEET = roster(
    agent("orchestrator", cls="orchestrator"),
    agent("enhancer", cls="enhancer"),
    agent("coder0", host="web2", ssh="fleet@web2.example"),
    agent("coder1", host="web3"),
)


def command_lines(sheet):
    return [line.strip() for line in sheet.splitlines() if line.strip().startswith(TOOL)]


def test_the_tool_path_is_the_fleet_users_agent_send():
    assert SEND_TOOL == TOOL


def test_identity_is_host_and_name():
    sheet = render_comms_sheet(FLEET, "enhancer")
    assert sheet.splitlines()[0] == "# Fleet Comms: [web1:enhancer]"
    assert "Identity: `[web1:enhancer]`" in sheet


def test_same_host_peer_gets_the_short_form():
    sheet = render_comms_sheet(FLEET, "enhancer")
    assert TOOL + ' -L mosaic-fleet -s orchestrator -m "..."' in command_lines(sheet)


def test_cross_host_peer_with_ssh_uses_the_ssh_destination():
    sheet = render_comms_sheet(FLEET, "enhancer")
    assert TOOL + ' -L mosaic-fleet -H fleet@web2.example -s coder0 -m "..."' in command_lines(sheet)


def test_cross_host_peer_without_ssh_uses_the_host_name():
    sheet = render_comms_sheet(FLEET, "enhancer")
    assert TOOL + ' -L mosaic-fleet -H web3 -s coder1 -m "..."' in command_lines(sheet)


def test_from_the_other_host_the_first_host_is_remote():
    sheet = render_comms_sheet(FLEET, "coder0")
    assert TOOL + ' -L mosaic-fleet -H web1 -s orchestrator -m "..."' in command_lines(sheet)
    assert "# Fleet Comms: [web2:coder0]" in sheet


def test_every_peer_once_and_never_self():
    sheet = render_comms_sheet(FLEET, "enhancer")
    targets = [line.split(" -s ")[1].split()[0] for line in command_lines(sheet)]
    # The orchestrator appears twice: under "Point of contact" and in the peer list.
    assert sorted(targets) == ["coder0", "coder1", "orchestrator", "orchestrator"]
    assert "-s enhancer" not in sheet


def test_default_socket_means_no_dash_L():
    fleet = roster(agent("orchestrator", cls="orchestrator", socket=""), agent("w", socket=""),
                   agent("r", host="web2", socket=""))
    sheet = render_comms_sheet(fleet, "w")
    lines = command_lines(sheet)
    assert TOOL + ' -s orchestrator -m "..."' in lines
    assert TOOL + ' -H web2 -s r -m "..."' in lines
    assert not [line for line in lines if "-L" in line]
    assert "the default tmux socket (no `-L`)" in sheet


def test_named_socket_per_peer():
    fleet = roster(agent("orchestrator", cls="orchestrator", socket=""), agent("w", socket="team-b"))
    sheet = render_comms_sheet(fleet, "orchestrator")
    assert TOOL + ' -L team-b -s w -m "..."' in command_lines(sheet)
    assert "`tmux -L team-b`" in render_comms_sheet(fleet, "w")


def test_orchestrator_is_the_point_of_contact():
    sheet = render_comms_sheet(FLEET, "coder1")
    contact = sheet.split("## Point of contact")[1].split("## Peers")[0]
    assert "`[web1:orchestrator]` is your point of contact" in contact
    assert TOOL + ' -L mosaic-fleet -H web1 -s orchestrator -m "..."' in contact
    assert "`[web1:orchestrator]`, orchestrator (point of contact, on host `web1`)" in sheet


def test_the_orchestrator_is_told_it_is_the_contact():
    sheet = render_comms_sheet(FLEET, "orchestrator")
    assert "You are the orchestrator: the fleet's point of contact" in sheet
    assert "point of contact, " not in sheet.split("## Peers")[1].split("## Replying")[0]


def test_no_orchestrator():
    fleet = roster(agent("a"), agent("b"), profile="minimal")
    sheet = render_comms_sheet(fleet, "a")
    assert "This fleet has no orchestrator" in sheet
    assert "point of contact" not in sheet.split("## Peers")[1]
    assert command_lines(sheet) == [TOOL + ' -L mosaic-fleet -s b -m "..."']


def test_single_agent_has_no_peers():
    fleet = roster(agent("solo", cls="orchestrator"), profile="canary")
    sheet = render_comms_sheet(fleet, "solo")
    assert "You are the only agent in this fleet" in sheet
    assert command_lines(sheet) == []


def test_reply_rule_and_send_outcomes():
    sheet = render_comms_sheet(FLEET, "coder0")
    assert "flip it" in sheet
    assert "[src_host:src_session -> dst_host:dst_session]" in sheet
    assert "-> web2:coder0]" in sheet
    for outcome in ("`delivered`", "`unconfirmed`", "`not_delivered`"):
        assert outcome in sheet


def test_ssh_destinations_are_shell_quoted():
    fleet = roster(agent("orchestrator", cls="orchestrator"), agent("x", host="h2", ssh="me@h2 -p 2222"))
    assert send_command(fleet["agents"][0], fleet["agents"][1]) == \
        TOOL + " -L mosaic-fleet -H 'me@h2 -p 2222' -s x -m \"...\""


def test_custom_tool_path():
    sheet = render_comms_sheet(FLEET, "enhancer", send_tool="/srv/my mosaic/tools/tmux/agent-send.sh")
    assert "'/srv/my mosaic/tools/tmux/agent-send.sh' -L mosaic-fleet -s orchestrator" in sheet


def test_rendering_is_pure_and_deterministic():
    before = copy.deepcopy(FLEET)
    assert render_comms_sheet(FLEET, "coder1") == render_comms_sheet(FLEET, "coder1")
    assert FLEET == before
    assert identity(FLEET["agents"][2]) == "[web2:coder0]"


def test_unknown_agent_is_an_error():
    with pytest.raises(KeyError):
        render_comms_sheet(FLEET, "nobody")


def mandate_of(sheet):
    lines = [line for line in sheet.splitlines() if line.startswith("- Mandate: ")]
    assert len(lines) == 1, sheet
    return lines[0]


def test_a_shipped_class_is_pointed_at_the_framework_mandate_then_its_overlay():
    assert mandate_of(render_comms_sheet(FLEET, "coder1")) == (
        "- Mandate: `~/.config/mosaic/fleet/roles/coder.md`, then your operator's overlay "
        "`~/.config/mosaic/fleet/roles/coder.local.md` when it exists (an overlay may only tighten the "
        "mandate).")
    assert "fleet/roles/orchestrator.md`" in mandate_of(render_comms_sheet(FLEET, "orchestrator"))


def test_implementer_is_pointed_at_the_coders_mandate():
    fleet = roster(agent("orchestrator", cls="orchestrator"), agent("coder0", cls="implementer"))
    line = mandate_of(render_comms_sheet(fleet, "coder0"))
    assert line.startswith("- Mandate: class `implementer` is the framework's `coder` role: "
                           "`~/.config/mosaic/fleet/roles/coder.md`, then your operator's overlay "
                           "`~/.config/mosaic/fleet/roles/coder.local.md`")
    # Peers see the class as written.
    assert "`[web1:coder0]`, implementer (same host)" in render_comms_sheet(fleet, "orchestrator")


def test_a_custom_class_is_pointed_at_the_operators_file():
    fleet = roster(agent("orchestrator", cls="orchestrator"), agent("audit0", cls="auditor"))
    assert mandate_of(render_comms_sheet(fleet, "audit0")) == (
        "- Mandate: `~/.config/mosaic/fleet/roles/auditor.local.md`, written by your operator (the "
        "framework ships no `auditor` role). If it is missing, ask the orchestrator for your mandate "
        "before you take on work.")


def test_mandate_paths_follow_the_mosaic_home_shown():
    sheet = render_comms_sheet(FLEET, "coder1", home="/srv/mosaic")
    assert "`/srv/mosaic/fleet/roles/coder.md`" in mandate_of(sheet)
    assert "`/srv/mosaic/fleet/roles/coder.local.md`" in mandate_of(sheet)


# ---------------------------------------------------------------------------------------------
# observing the fleet (orchestrator and enhancer sheets)

@pytest.mark.parametrize("name, observes", [("orchestrator", True), ("enhancer", True), ("coder0", False),
                                            ("coder1", False)])
def test_the_observer_sheets_say_how_to_watch_the_fleet(name, observes):
    sheet = render_comms_sheet(FLEET, name)
    assert ("## Observing the fleet" in sheet) is observes
    assert ("~/.config/mosaic/tools/fleet/fleet-ps --json" in sheet) is observes
    assert ("~/.config/mosaic/fleet/log/transcripts/<name>.log" in sheet) is observes
    assert ("~/.config/mosaic/tools/fleet/watch <name>" in sheet) is observes


def test_the_observing_section_names_the_fleets_mosaic_home():
    sheet = render_comms_sheet(FLEET, "enhancer", home="/srv/fleet")
    assert "    /srv/fleet/tools/fleet/fleet-ps           #" in sheet
    assert "`tail -c 4000 /srv/fleet/fleet/log/transcripts/<name>.log`" in sheet
    assert "(`web1`)" in sheet
