# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of mosaic.fleet.fleet_send: messages are data.

For the arguments in ``DATA_ARGS`` (the message, the file it comes from and the sender's name in
its preamble) the template written in the task itself is evaluated as usual, but the variables it
reads are handed to it as data (plugin_utils/data_args.py), so nothing inside them is evaluated.
The module itself runs unchanged (this is the ``normal`` action plus that rule).
"""

from __future__ import annotations

from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.mosaic.fleet.plugins.plugin_utils.data_args import DataArgs


class ActionModule(DataArgs, NormalAction):

    # The message, the file it is read from, and the sender's name in its preamble.
    DATA_ARGS = frozenset(("msg", "src", "source"))
