"""Facts fleet_roster returns so playbooks compute nothing: an agent's placed record (the agent name
is data), each host's ssh aliases."""

import pytest

from ansible._internal._templating._engine import TemplateEngine
from ansible.template import is_trusted_as_template, trust_as_template

from ansible_collections.mosaic.fleet.plugins.action import fleet_roster as action
from ansible_collections.mosaic.fleet.plugins.module_utils import roster

PIPE = '{{ lookup("pipe", "touch /nonexistent/pwned") }}'


def agent(name, klass="worker", **extra):
    return dict({"name": name, "class": klass, "runtime": "stub"}, **extra)


def normalized(*workers, **kwargs):
    document = {"version": 1, "agents": [agent("orchestrator", "orchestrator"), agent("enhancer", "enhancer")]
                + list(workers)}
    result, violations = roster.validate(document, roster.load_schema(), **kwargs)
    assert violations == [], roster.format_violations(violations)
    return result


def test_agent_record_is_the_placed_roster_entry():
    placed = normalized(agent("coder0", host="web2"), default_host="web1")
    record = roster.agent_record(placed, "coder0")
    assert record is placed["agents"][2]
    assert record["host"] == "web2" and record["socket"] == placed["tmux"]["socket_name"]


@pytest.mark.parametrize("name", ["coder7", PIPE, "Coder0", "coder0 ", "a\nb"])
def test_an_unknown_agent_is_named_as_given_with_the_roster_agents(name):
    with pytest.raises(ValueError) as err:
        roster.agent_record(normalized(agent("coder0")), name)
    assert str(err.value) == "agent %s is not in the roster (agents: orchestrator, enhancer, coder0)" % name


def test_an_empty_agent_name_is_refused_clearly():
    with pytest.raises(ValueError, match=r"^no agent named: name one of the roster's agents "
                                         r"\(agents: orchestrator, enhancer\)$"):
        roster.agent_record(normalized(), "")


def test_ssh_aliases_are_the_host_parts_of_ssh_destinations_per_host():
    placed = normalized(agent("w1", host="web1", ssh="fleet@web1.example.com"),
                        agent("w2", host="web1", ssh="web1.example.com"),
                        agent("w3", host="web1", ssh="ops@10.0.0.1"),
                        agent("w4", host="web2"),
                        agent("w5", host="web3", ssh="web3"),
                        default_host="web1")
    assert roster.ssh_aliases(placed, ["web1", "web2", "web3", "web4"]) == {
        "web1": ["web1.example.com", "10.0.0.1"], "web2": [], "web3": ["web3"], "web4": []}


def test_ssh_aliases_name_every_placed_host_without_a_host_list():
    assert roster.ssh_aliases(normalized(agent("w", host="web2")), None) == {"localhost": [], "web2": []}


# --- the action: `agent` is data, other arguments are templated as usual ---------------------

def engine(**variables):
    return TemplateEngine(variables=dict((k, trust_as_template(v)) for k, v in variables.items()))


def test_the_agent_argument_reads_its_variables_as_data():
    templar = engine(agent=PIPE, sum="{{ 7*6 }}")
    name = action.ActionModule.finalize_task_arg("agent", trust_as_template("{{ agent }}"), templar, None)
    assert name == PIPE and not is_trusted_as_template(name)
    assert action.ActionModule.finalize_task_arg("profile", trust_as_template("{{ sum }}"), templar, None) == 42
