# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: task arguments whose variables are data (ansible-core 2.19 and later).

Ansible evaluates a template it finds inside a trusted variable's value when a task reads the
variable ("nested templating"), and every string from extra vars, vars files and playbooks is
trusted. A message, a file name or an agent name such as ``{{ lookup('pipe', ...) }}`` would be
evaluated on the controller (the pipe lookup runs a command there) and altered or refused.

An action plugin that mixes in ``DataArgs`` and lists argument names in ``DATA_ARGS`` keeps the
usual templating for those arguments, except that the variables the task's own template reads
are handed to it as data: every string in them untrusted, so nothing inside them is evaluated.
A template written in the task itself (``"task {{ 7*6 }}"``) is still Ansible's.
"""

from __future__ import annotations

from collections import ChainMap

from jinja2 import meta as jinja_meta
from jinja2.exceptions import TemplateError

from ansible.utils.unsafe_proxy import wrap_var


def referenced_names(environment, template):
    """The top-level variable names ``template`` reads, or None when Jinja cannot parse it."""
    try:
        return jinja_meta.find_undeclared_variables(environment.parse(template))
    except TemplateError:
        return None


def as_data(value):
    """``value`` with every string in it untrusted, so no template inside it is ever evaluated.

    Plain containers (dict, list, tuple, set) are copied; any other object (``hostvars``, numbers)
    is returned as it is, never iterated.
    """
    if isinstance(value, str):
        return wrap_var(value)
    if isinstance(value, dict):
        return dict((as_data(key), as_data(item)) for key, item in value.items())
    if isinstance(value, list):
        return [as_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(as_data(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return set(as_data(item) for item in value)
    return value


def data_variables(variables, names):
    """A view of ``variables`` in which the variables called ``names`` are data (see as_data)."""
    return ChainMap(dict((name, as_data(variables[name])) for name in names if name in variables), variables)


class DataArgs(object):
    """Mix into an action plugin (before its ActionBase class); list the data arguments in DATA_ARGS."""

    DATA_ARGS = frozenset()

    @classmethod
    def finalize_task_arg(cls, name, value, templar, context):
        """Template a data argument with the variables it reads as data; any other as usual."""
        if name not in cls.DATA_ARGS or not isinstance(value, str) or not templar.is_template(value):
            return super(DataArgs, cls).finalize_task_arg(name, value, templar, context)
        names = referenced_names(templar.environment, value)
        if not names:
            # Nothing read (a literal template such as "{{ 7*6 }}" written in the task), or a
            # syntax error that Ansible's own templating reports with its origin.
            return super(DataArgs, cls).finalize_task_arg(name, value, templar, context)
        data_templar = templar.copy()
        data_templar.available_variables = data_variables(templar.available_variables, names)
        return super(DataArgs, cls).finalize_task_arg(name, value, data_templar, context)
