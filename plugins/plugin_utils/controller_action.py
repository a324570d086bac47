# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: the frame of an action that runs on the controller only.

No connection, no files sent, check mode supported, ``changed`` always false, the arguments
checked against ``ARGUMENT_SPEC`` (plus ``ARGUMENT_RULES``, keyword arguments of
``validate_argument_spec``), and never a traceback: an unexpected error becomes one failed result
that ``failure`` words. Subclasses implement ``run_controller(result, args)``.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    ARGUMENT_SPEC = {}
    ARGUMENT_RULES = {}

    def run(self, tmp=None, task_vars=None):
        result = super(ControllerAction, self).run(tmp, task_vars)
        del tmp
        result["changed"] = False
        try:
            _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC,
                                                            **self.ARGUMENT_RULES)
        except AnsibleError as exc:
            return dict(result, failed=True, msg=to_text(exc))
        try:
            return self.run_controller(result, args)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # never a traceback
            return dict(result, failed=True, **self.failure(exc))

    def run_controller(self, result, args):
        raise NotImplementedError

    def failure(self, exc):
        """The keys of the failed result for an unexpected error ``exc`` (at least ``msg``)."""
        return dict(msg="%s: %s" % (type(exc).__name__, to_text(exc)))
