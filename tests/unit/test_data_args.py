"""Unit tests for plugins/plugin_utils/data_args.py: the helpers that make variables data."""

from collections.abc import Mapping

import pytest

from ansible._internal._templating._engine import TemplateEngine
from ansible.template import is_trusted_as_template, trust_as_template

from ansible_collections.mosaic.fleet.plugins.plugin_utils import data_args as action


def engine(**variables):
    """A template engine over ``variables``, their strings trusted as extra vars and vars files are."""
    return TemplateEngine(variables=dict((k, trust_as_template(v) if isinstance(v, str) else v)
                                         for k, v in variables.items()))


@pytest.mark.parametrize("template, names", [
    ("{{ my_text }}", {"my_text"}),
    ("{{ a | default(b) }} {% for i in c %}{{ i }}{% endfor %}", {"a", "b", "c"}),
    ("{{ vars[item] }}", {"vars", "item"}),
    ("{{ 7*6 }}", set()),
    ("{% if x %}", None),
    ("{{", None),
])
def test_referenced_names(template, names):
    assert action.referenced_names(engine().environment, template) == names


def test_as_data_untrusts_every_string_and_keeps_the_values():
    marker = object()
    value = {trust_as_template("k"): [trust_as_template("{{ a }}"), (trust_as_template("{{ b }}"), 3),
                                      {trust_as_template("{{ c }}")}],
             "other": marker, "n": None}
    data = action.as_data(value)
    assert data == value
    assert data["other"] is marker
    strings = list(data) + [data["k"][0], data["k"][1][0]] + list(data["k"][2])
    assert strings and not any(is_trusted_as_template(s) for s in strings)
    assert isinstance(data["k"][1], tuple)
    assert is_trusted_as_template(value["k"][0])  # the variables themselves are left alone


def test_as_data_never_iterates_other_mappings():
    class HostVarsLike(Mapping):  # hostvars: a Mapping whose every access templates a host's vars
        def __getitem__(self, key):
            raise AssertionError("read")

        def __iter__(self):
            raise AssertionError("iterated")

        def __len__(self):
            raise AssertionError("counted")

    hostvars = HostVarsLike()
    assert action.as_data(hostvars) is hostvars


def test_data_variables_only_shadows_what_is_read():
    variables = {"a": trust_as_template("{{ x }}"), "b": trust_as_template("{{ y }}")}
    view = action.data_variables(variables, {"a", "missing"})
    assert not is_trusted_as_template(view["a"])
    assert view["b"] is variables["b"]
    assert "missing" not in view
