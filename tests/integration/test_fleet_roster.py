"""mosaic.fleet.fleet_roster through the real ``ansible`` CLI, as an operator runs it."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from ansible_util import ansible_env

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROSTERS = os.path.join(REPO, "tests", "rosters")
RESULT = re.compile(r"^localhost \| (SUCCESS|FAILED!) => (\{.*?^\})$", re.M | re.S)


def ansible_bin():
    beside = os.path.join(os.path.dirname(sys.executable), "ansible")
    return beside if os.path.exists(beside) else shutil.which("ansible")


@pytest.fixture
def run(tmp_path):
    """Run ``ansible localhost -m mosaic.fleet.fleet_roster`` with the collection from this checkout."""
    if not ansible_bin():
        pytest.fail("the ansible CLI is not installed (make venv)")
    env = ansible_env({
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }, tmp_path / "tmp")

    def run_module(args, inventory=None):
        argv = [ansible_bin(), "localhost", "-m", "mosaic.fleet.fleet_roster", "-a", args]
        if inventory:
            argv += ["-i", inventory]
        proc = subprocess.run(argv, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120,
                              check=False)
        output = proc.stdout + proc.stderr
        match = RESULT.search(proc.stdout)
        assert match, "no result in the output of %s:\n%s" % (argv, output)
        assert "Traceback" not in output
        return proc.returncode, match.group(1), json.loads(match.group(2)), output

    return run_module


def test_coding_preset_has_five_agents(run):
    rc, status, result, _output = run("profile=coding")
    assert (rc, status) == (0, "SUCCESS")
    agents = result["roster"]["agents"]
    assert result["agent_count"] == 5 and len(agents) == 5
    assert [a["class"] for a in agents].count("orchestrator") == 1
    assert [a["class"] for a in agents].count("enhancer") == 1
    assert result["placement"] == {"localhost": ["orchestrator", "enhancer", "coder0", "coder1", "reviewer"]}
    assert result["changed"] is False


def test_bad_yaml_file_fails_with_line_and_column(run, tmp_path):
    path = tmp_path / "roster.yaml"
    path.write_text("version: 1\nagents:\n  - name: orchestrator\n     runtime: claude\n", encoding="utf-8")
    rc, status, result, output = run("src=%s" % path)
    assert rc != 0 and status == "FAILED!"
    assert re.search(r"not valid YAML at line 4, column 13", result["msg"]), result["msg"]
    assert result["violations"][0]["path"] == "(root)"
    assert "line 4, column 13" in output


def test_corpus_file_fails_with_every_violation(run):
    rc, status, result, _output = run("src=%s" % os.path.join(ROSTERS, "bad", "unknown-key-agent-token.yaml"))
    assert rc != 0 and status == "FAILED!"
    assert [v["path"] for v in result["violations"]] == ["agents[1].token"]
    assert "agents[1].token: unknown key" in result["msg"]


def test_hosts_check(run):
    roster = os.path.join(ROSTERS, "good", "multi-host-ssh.yaml")
    args = '{"src": "%s", "hosts": "{{ groups[\'all\'] }}"}' % roster
    rc, status, result, _output = run(args, inventory="web1,web2,")
    assert rc != 0 and status == "FAILED!"
    assert result["violations"] == [{"path": "agents[3].host",
                                     "message": "host 'web3' is not in the inventory (hosts: web1, web2)"}]
    rc, status, result, _output = run(args, inventory="web1,web2,web3,")
    assert (rc, status) == (0, "SUCCESS")
    assert result["placement"] == {"web1": ["orchestrator", "enhancer"], "web2": ["coder0", "reviewer"],
                                   "web3": ["coder1"]}


def test_the_facts_playbooks_use_an_agent_record_and_ssh_aliases(run):
    """send.yml reads `agent`, fleet.yml hands `ssh_aliases` to ssh_mesh: neither computes them."""
    roster = os.path.join(ROSTERS, "good", "multi-host-ssh.yaml")
    args = '{"src": "%s", "hosts": "{{ groups[\'all\'] }}", "agent": "reviewer"}' % roster
    rc, status, result, _output = run(args, inventory="web1,web2,web3,web4,")
    assert (rc, status) == (0, "SUCCESS")
    assert result["agent"] == result["roster"]["agents"][4]
    assert (result["agent"]["host"], result["agent"]["socket"]) == ("web2", "reviewers")
    assert result["ssh_aliases"] == {"web1": [], "web2": ["web2.internal"], "web3": ["web3"], "web4": []}
    rc, status, result, _output = run(args.replace('"reviewer"', '"coder9"'), inventory="web1,web2,web3,")
    assert rc != 0 and status == "FAILED!"
    assert result["msg"] == ("agent coder9 is not in the roster "
                             "(agents: orchestrator, enhancer, coder0, coder1, reviewer)")


def test_default_host_places_a_preset(run):
    rc, status, result, _output = run("profile=local-canary hosts=web1,web2 default_host=web2")
    assert (rc, status) == (0, "SUCCESS")
    assert result["placement"] == {"web2": ["orchestrator", "enhancer", "worker"]}


def test_unknown_profile(run):
    rc, status, result, output = run("profile=nope")
    assert rc != 0 and status == "FAILED!"
    assert result["msg"].startswith("unknown preset 'nope' (presets: coding, general, hybrid, local-canary")


def test_missing_file(run, tmp_path):
    rc, status, result, _output = run("src=%s" % (tmp_path / "absent.yaml"))
    assert rc != 0 and status == "FAILED!"
    assert "was not found" in result["msg"]


def test_roster_and_profile_are_mutually_exclusive(run):
    rc, status, result, _output = run("profile=coding src=x.yaml")
    assert rc != 0 and status == "FAILED!"
    assert "mutually exclusive" in result["msg"]


@pytest.mark.parametrize("name", ["coding", "cross-host", "general", "hybrid", "research"])
def test_the_seed_rosters_validate_unchanged_without_warnings(run, name):
    rc, status, result, output = run("src=%s" % os.path.join(ROSTERS, "good", "seed-%s.yaml" % name))
    assert (rc, status) == (0, "SUCCESS"), output
    assert result["operator_mandates"] == []
    assert "[WARNING]" not in output
    if name in ("coding", "hybrid", "cross-host"):
        assert "implementer" in [a["class"] for a in result["roster"]["agents"]]


def test_a_custom_class_validates_with_a_warning_naming_the_file(run):
    rc, status, result, output = run("src=%s" % os.path.join(ROSTERS, "good", "custom-class.yaml"))
    assert (rc, status) == (0, "SUCCESS"), output
    assert [(m["class"], m["file"], m["hosts"]) for m in result["operator_mandates"]] == [
        ("auditor", "fleet/roles/auditor.local.md", ["localhost"]),
        ("Site_Reliability-2", "fleet/roles/Site_Reliability-2.local.md", ["localhost"])]
    warnings = [" ".join(w.split()) for w in output.split("[WARNING]: ")[1:]]
    assert any(w.startswith("class 'auditor' (agent audit0) has no mandate in the framework: write one as "
                            "fleet/roles/auditor.local.md under the fleet user's MOSAIC_HOME") for w in warnings), output
    assert not any("implementer" in w for w in warnings)


@pytest.mark.parametrize("corpus,path", [("class-dot.yaml", "agents[2].class"),
                                         ("unknown-key-seed-mandate.yaml", "agents[2].mandate"),
                                         ("floor-custom-classes.yaml", "agents")])
def test_class_names_unknown_keys_and_the_floor_are_still_enforced(run, corpus, path):
    rc, status, result, _output = run("src=%s" % os.path.join(ROSTERS, "bad", corpus))
    assert rc != 0 and status == "FAILED!"
    assert path in [v["path"] for v in result["violations"]], result["msg"]
