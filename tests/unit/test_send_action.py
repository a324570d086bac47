"""Unit tests for plugins/action/fleet_send.py: the variables that msg and source read are data.

The helpers themselves (plugins/plugin_utils/data_args.py) are tested in test_data_args.py."""

import pytest

from ansible._internal._templating._engine import TemplateEngine
from ansible.template import is_trusted_as_template, trust_as_template

from ansible_collections.mosaic.fleet.plugins.action import fleet_send as action

EVALUATED = "MK {{ 7*6 }}"


def engine(**variables):
    """A template engine over ``variables``, their strings trusted as extra vars and vars files are."""
    return TemplateEngine(variables=dict((k, trust_as_template(v) if isinstance(v, str) else v)
                                         for k, v in variables.items()))


def finalize(name, value, templar):
    return action.ActionModule.finalize_task_arg(name, trust_as_template(value), templar, None)


@pytest.mark.parametrize("template, expected", [
    ("{{ my_text }}", EVALUATED),
    ("{{ my_text | upper }}", EVALUATED.upper()),
    ("Re: {{ my_text }} ({{ n }})", "Re: %s (3)" % EVALUATED),
    ("{{ texts[1] }}", "{% if x %}"),
    ("{{ nothing | default('x') }}", "x"),
    ("task {{ 7*6 }}", "task 42"),  # a template written in the task is Ansible's
    ("plain text", "plain text"),
])
def test_msg_reads_variables_as_data(template, expected):
    templar = engine(my_text=EVALUATED, n=3, texts=[trust_as_template("{{ 1 }}"), trust_as_template("{% if x %}")])
    assert finalize("msg", template, templar) == expected


def test_source_reads_variables_as_data_and_other_args_are_templated_as_usual():
    templar = engine(name=EVALUATED)
    assert finalize("source", "{{ name }}", templar) == EVALUATED
    assert finalize("agent", "{{ name }}", templar) == "MK 42"


def test_untrusted_and_non_string_args_pass_through():
    templar = engine(my_text=EVALUATED)
    assert action.ActionModule.finalize_task_arg("msg", "{{ my_text }}", templar, None) == "{{ my_text }}"
    assert action.ActionModule.finalize_task_arg("msg", 5, templar, None) == 5


def test_the_task_templar_is_not_changed():
    templar = engine(my_text=EVALUATED)
    before = templar.available_variables
    finalize("msg", "{{ my_text }}", templar)
    assert templar.available_variables is before
    assert is_trusted_as_template(before["my_text"])
