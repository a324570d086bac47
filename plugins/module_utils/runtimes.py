# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""THE one implementation of the runtime table: (table, agent) -> argv and extra environment.

Pure and stdlib only. The table is data, ``framework/fleet/runtimes.json`` (its ``about`` says how
it reads). The controller (``fleet_roster``: model hints, command lines) and ``fleet_ps`` (process
names) take it from ``runtime_table.TABLE``; on a host, ``tools/fleet/launch-agent`` runs this very
file, shipped byte for byte as ``tools/fleet/mosaic_runtimes.py`` of the framework tree
(``shipped.py``; ``tests/unit/test_runtimes.py`` runs launch-agent from an assembled tree), with python3 and
``exec``s the argv it prints. The mandate rule stays lib.sh's and mandate.py's: launch-agent hands
this file the mandate files that exist.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys

_PLACEHOLDER = re.compile(r"\{([a-z_]+)(?::([a-z]+))?\}")
PLACEHOLDERS = ("home", "tools", "hint", "provider", "model", "level", "prompt", "instruction_files",
                "resume", "user_home", "workdir")
FILTERS = ("toml", "uri", "slug")
HINT_PARTS = ("hint", "provider", "model", "level")


class TableError(ValueError):
    """The table or an agent cannot be resolved (unknown runtime, a broken table)."""


def runtime_names(table):
    return tuple(table["runtimes"])


def process_names(table, runtime):
    """The foreground process names that mean "``runtime`` is running" (``(runtime,)`` if unknown)."""
    spec = table["runtimes"].get(runtime)
    return tuple(spec["process_names"]) if spec else (runtime,)


# --------------------------------------------------------------------------------------------
# the model hint: [provider/]model[:level]


def split_hint(table, hint):
    """``[provider/]model[:level]`` -> (provider, model, level); level only when a known level."""
    provider = level = ""
    rest = hint
    head, sep, tail = rest.rpartition(":")
    if sep and tail in table["model_hint"]["levels"]:
        level, rest = tail, head
    if "/" in rest:
        provider, _sep, rest = rest.partition("/")
    return provider, rest, level


def hint_problem(table, runtime, hint):
    """Why ``hint`` is not a model hint for ``runtime``, or None.

    Unknown runtimes are not judged (the roster schema reports them), nor runtimes that use no part
    of the hint (``stub``). Empty is the runtime's default model.
    """
    spec = table["runtimes"].get(runtime)
    if spec is None or not isinstance(hint, str) or hint == "" or not spec["model"].get("uses"):
        return None
    grammar = table["model_hint"]["grammar"]
    provider, model, level = split_hint(table, hint)
    rest = hint[:-len(level) - 1] if level else hint
    if "/" in rest and provider == "":
        return "%r has an empty provider before '/' (a model hint is %s)" % (hint, grammar)
    if model == "":
        return "%r names no model (a model hint is %s)" % (hint, grammar)
    if model.endswith(":"):
        return ("%r ends with ':' (a model hint is %s; level is one of %s)"
                % (hint, grammar, ", ".join(table["model_hint"]["levels"])))
    return None


# --------------------------------------------------------------------------------------------
# the prompt


def agent_prompt(name, klass, home, mandates, role, comms=None):
    """The text appended to the system prompt of runtimes that take one.

    ``mandates``: the agent's mandate files that exist (relative to ``home``, in reading order);
    ``role``: the role whose mandate ``klass`` reads; ``comms``: the Fleet Comms sheet's text, or
    None when there is none.
    """
    if klass:
        text = "You are %s, the %s agent of a Mosaic fleet." % (name, klass)
    else:
        text = "You are %s, an agent of a Mosaic fleet." % name
    text += " Your framework is in %s: follow CONSTITUTION.md and AGENTS.md there" % home
    if mandates:
        text += ", and the mandate of your role in %s" % mandates[0]
        if len(mandates) > 1:
            text += ", then %s" % mandates[1]
        text += "."
    elif klass:
        text += (". Your role has no mandate file yet (fleet/roles/%s.md, or the operator's"
                 " fleet/roles/%s.local.md): ask the orchestrator for your mandate." % (role, role))
    else:
        text += "."
    if comms is not None:
        text = (text + "\n\n" + comms.replace("\0", "")).rstrip("\n")
    return text


# --------------------------------------------------------------------------------------------
# templates


def _toml_string(text):
    """A TOML basic string (also valid JSON); undecodable bytes become U+FFFD."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value):
    if isinstance(value, list):
        return "[" + ",".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return _toml_string(value)
    raise TableError("no TOML form for %r" % (value,))


def _uri(path):
    if not os.path.isabs(path):
        return "file://" + path
    import pathlib  # only opencode needs it: spare every other launch the import
    return pathlib.Path(path).as_uri()


def _fill(text, values):
    """Fill the placeholders of one template string. A string that is one list-valued placeholder
    becomes that list."""
    whole = _PLACEHOLDER.fullmatch(text)
    if whole and not whole.group(2) and isinstance(values.get(whole.group(1)), list):
        return list(values[whole.group(1)])

    def one(match):
        name, flt = match.group(1), match.group(2)
        if name not in values:
            raise TableError("unknown placeholder {%s}" % name)
        value = values[name]
        if flt == "toml":
            return _toml_string(value)
        if flt == "uri":
            return _uri(value)
        if flt == "slug":
            return re.sub(r"[^A-Za-z0-9]", "-", value)
        if flt:
            raise TableError("unknown filter {%s:%s} (filters: %s)" % (name, flt, ", ".join(FILTERS)))
        return value

    return _PLACEHOLDER.sub(one, text)


def _fill_value(value, values):
    if isinstance(value, str):
        return _fill(value, values)
    if isinstance(value, list):
        return [_fill_value(item, values) for item in value]
    if isinstance(value, dict):
        return dict((key, _fill_value(item, values)) for key, item in value.items())
    return value


def _arg(template, values):
    """One argv element (or env value) from its template."""
    if isinstance(template, str):
        return _fill(template, values)
    if isinstance(template, dict) and "json" in template:
        return json.dumps(_fill_value(template["json"], values), ensure_ascii=False, separators=(",", ":"))
    if isinstance(template, dict) and "toml" in template:
        prefix = template["key"] + "=" if "key" in template else ""
        return prefix + _toml_value(_fill_value(template["toml"], values))
    raise TableError("not an argument template: %r" % (template,))


def placeholders_of(template):
    """The placeholder names a template (string, list or mapping) uses."""
    if isinstance(template, str):
        return [match.group(1) for match in _PLACEHOLDER.finditer(template)]
    if isinstance(template, list):
        return [name for item in template for name in placeholders_of(item)]
    if isinstance(template, dict):
        return [name for item in template.values() for name in placeholders_of(item)]
    return []


def _group_is_empty(group, values):
    return any(values.get(name) == "" for name in placeholders_of(group))


def _part_applies(part, values):
    """A part with ``when`` applies only when that value is set (``resume``); with
    ``when_exists``, only when that glob matches on the host (where ``user_home`` is known; the
    controller shows the part)."""
    if part.get("when") and not values.get(part["when"]):
        return False
    if part.get("when_exists") and values.get("user_home"):
        return bool(glob.glob(_fill(part["when_exists"], values)))
    return True


# --------------------------------------------------------------------------------------------
# the command line


def resolve(table, runtime, hint="", command="", values=None):
    """(argv, extra env as ``KEY=value`` strings) of an agent.

    ``values`` gives ``home``, ``tools``, ``prompt`` and ``instruction_files`` (the host's real
    ones, or placeholders on the controller); the hint's parts are added here. A ``command``
    (the roster's ``command``, MOSAIC_AGENT_COMMAND) replaces the table's argv:
    ``bash -c COMMAND``; the runtime's own ``env`` still applies.
    """
    spec = table["runtimes"].get(runtime)
    if spec is None and not command:
        if not runtime:
            raise TableError("no runtime given")
        raise TableError("unknown runtime '%s' (%s)" % (runtime, ", ".join(runtime_names(table))))
    values = dict(values or {})
    provider, model, level = split_hint(table, hint or "")
    values.update(hint=hint or "", provider=provider, model=model, level=level)
    env = []
    if spec is not None:
        env.extend("%s=%s" % (key, _arg(value, values)) for key, value in spec["env"].items())
    if command:
        return ["bash", "-c", command], env
    argv = [_arg(item, values) for item in spec["command"]]
    for name in spec["argv"]:
        part = spec[name]
        if not _part_applies(part, values):
            continue
        for group in part.get("args", ()):
            if not _group_is_empty(group, values):
                argv.extend(_arg(item, values) for item in group)
        env.extend("%s=%s" % (key, _arg(value, values)) for key, value in part.get("env", {}).items())
    return argv, env


def host_values(home, tools, name, klass, mandates, role, comms_path, environ=None):
    """The values :func:`resolve` takes on a host, from the files that exist there; from
    ``environ`` (launch-agent's): ``resume`` (MOSAIC_LAUNCH_RESUME: continue the previous
    conversation), ``user_home`` (HOME), ``workdir`` (MOSAIC_LAUNCH_WORKDIR, expanded); and
    ``as_root`` when it runs as root."""
    environ = os.environ if environ is None else environ
    comms = None
    if os.access(comms_path, os.R_OK):
        with open(comms_path, "rb") as handle:
            comms = handle.read().decode("utf-8", "surrogateescape")
    files = [os.path.join(home, rel) for rel in ["CONSTITUTION.md", "AGENTS.md"] + list(mandates)]
    files.append(comms_path)
    return {
        "home": home,
        "tools": tools,
        "prompt": agent_prompt(name, klass, home, mandates, role, comms),
        "instruction_files": [path for path in files if os.path.isfile(path)],
        "resume": "1" if environ.get("MOSAIC_LAUNCH_RESUME") == "1" else "",
        "as_root": "1" if hasattr(os, "geteuid") and os.geteuid() == 0 else "",
        "user_home": environ.get("HOME", ""),
        "workdir": environ.get("MOSAIC_LAUNCH_WORKDIR", ""),
    }


def load_table(path):
    with open(path, "r", encoding="utf-8") as handle:
        return json.load(handle)


# --------------------------------------------------------------------------------------------
# the host's entry point (launch-agent)

USAGE = ("usage: python3 mosaic_runtimes.py TABLE RUNTIME HINT COMMAND HOME TOOLS NAME CLASS ROLE COMMS "
         "[MANDATE...]\n"
         "Prints the number of argv elements, the argv, then the extra environment (KEY=value),\n"
         "each followed by a NUL byte. Exit 2 (and a message on stderr) when it cannot.")


def main(args, out=None, err=None):
    out = out or sys.stdout.buffer
    err = err or sys.stderr
    if len(args) < 10:
        err.write(USAGE + "\n")
        return 2
    table_path, runtime, hint, command, home, tools, name, klass, role, comms_path = args[:10]
    try:
        table = load_table(table_path)
        values = host_values(home, tools, name, klass, args[10:], role, comms_path)
        argv, env = resolve(table, runtime, hint, command, values)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        err.write("launch-agent: %s\n" % (exc.args[0] if isinstance(exc, TableError) else
                                          "cannot use the runtime table %s: %s" % (table_path, exc)))
        return 2
    items = [str(len(argv))] + argv + env
    out.write(b"".join(item.encode("utf-8", "surrogateescape") + b"\0" for item in items))
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
