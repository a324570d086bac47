"""send.py's check-mode side (agent-send.sh --dry-run) and the outcomes stated once, in contract.py."""

import json
import os
import subprocess

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import contract, send

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "framework", "tools", "tmux", "agent-send.sh")
TOOL = "/home/fleet/.config/mosaic/tools/tmux/agent-send.sh"


def test_dry_run_argv_reads_the_message_from_stdin_too():
    argv = send.agent_send_argv(TOOL, "coder0", socket="s", source="lead", host="u@h", dry_run=True)
    assert argv == [TOOL, "-L", "s", "-H", "u@h", "-S", "lead", "-s", "coder0", "--verify", "--timeout", "10",
                    "--json", "--dry-run", "-m", "-"]
    assert "--dry-run" not in send.agent_send_argv(TOOL, "coder0")


PLANNED = {"outcome": "would_send", "preamble": "[a:b -> c:d] ", "bytes": 20, "target": "d", "host": "c",
           "socket": None, "src_host": "a", "source": "b", "remote": "u@c", "env_file": "", "relay": ["ssh"]}


def test_parse_report_takes_the_dry_run_report_only_in_a_dry_run():
    stdout = json.dumps(PLANNED) + "\n"
    assert send.parse_report(stdout, dry_run=True) == PLANNED
    assert send.parse_report(stdout) is None
    delivered = json.dumps(dict(PLANNED, outcome="delivered"))
    assert send.parse_report(delivered, dry_run=True) is None


def test_a_planned_send_is_a_change_that_does_not_fail():
    assert send.classify(PLANNED) == (True, False, None)


def test_outcomes_and_exit_codes_come_from_the_contract():
    assert send.EXIT_CODES == dict(contract.SEND_EXIT_CODES)
    assert send.OUTCOMES == contract.SEND_OUTCOMES and send.FAILED_OUTCOMES == contract.SEND_FAILED_OUTCOMES
    assert set(send.OUTCOMES) | {"usage"} == set(send.EXIT_CODES)
    assert send.DRY_RUN_OUTCOME == contract.SEND_DRY_RUN_OUTCOME
    assert send.DRY_RUN_OUTCOME not in send.EXIT_CODES


def test_the_script_help_lists_the_contract_codes():
    helptext = subprocess.run(["bash", SCRIPT, "--help"], capture_output=True, text=True, check=True).stdout
    for outcome, code in contract.SEND_EXIT_CODES:
        assert "  %d  %s" % (code, outcome) in helptext, outcome
    assert '"%s"' % contract.SEND_DRY_RUN_OUTCOME in helptext


@pytest.mark.parametrize("args, outcome", [
    (["-s", "bad.name", "-m", "x"], "usage"),
    (["-s", "coder0", "-m", "x", "--dry-run"], None),
])
def test_the_script_exits_with_the_contract_codes(tmp_path, args, outcome):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "MOSAIC_HOME": str(tmp_path / "mosaic")}
    result = subprocess.run(["bash", SCRIPT] + args, env=env, capture_output=True, text=True, check=False)
    if outcome:
        assert result.returncode == send.EXIT_CODES[outcome], result.stderr
    else:
        assert result.returncode == 0 and json.loads(result.stdout)["outcome"] == contract.SEND_DRY_RUN_OUTCOME
