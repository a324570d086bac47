# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""THE first-run state of each runtime: what a fresh fleet user's home needs so that claude,
codex, pi and opencode reach their prompt with no human at a dialog, merged into the user's own
settings.

Pure and stdlib-only (Python >= 3.8: no TOML library, so codex's config.toml is edited line by
line, only the keys the fleet owns). ``plan`` says which files (relative to the fleet user's home)
need which settings; ``merge`` applies them to a file's current text and returns the new text,
unchanged when every setting is already there (so a second run changes nothing). Every other key
of the user's stays as it is. The module (fleet_host_config) does the I/O.

What each runtime needs (checked against claude-code 2.1.197, codex 0.171.0, pi 0.73.1,
opencode 1.18.33; see docs/runtimes.md):

- claude: ``~/.claude.json`` ``hasCompletedOnboarding``, ``projects[<workdir>]
  .hasTrustDialogAccepted`` for every claude agent's working directory, and with an
  ``ANTHROPIC_API_KEY`` its last 20 characters in ``customApiKeyResponses.approved`` (what
  Claude Code itself stores, never the key); ``~/.claude/settings.json``
  ``skipDangerousModePermissionPrompt`` and the fleet's 200k context cap (``autoCompactWindow``,
  ``autoCompactEnabled``).
- codex: ``~/.codex/config.toml`` ``approval_policy``, ``sandbox_mode``,
  ``check_for_update_on_startup`` and ``[projects."<workdir>"] trust_level``; with an
  ``OPENAI_BASE_URL`` (a gateway or proxy) the provider ``mosaic`` (``env_key`` names the key's
  variable, never the key) and ``model_provider``.
- pi: with an ``ANTHROPIC_BASE_URL`` or ``OPENAI_BASE_URL``, ``~/.pi/agent/models.json``
  provider ``mosaic`` (``apiKey`` names the key's variable) and ``settings.json``
  ``defaultProvider``/``defaultModel``. pi asks nothing at its first start otherwise.
- opencode: ``~/.config/opencode/opencode.json`` permissions ``bash``, ``edit``,
  ``external_directory`` allowed; with a base URL the provider ``mosaic`` (``apiKey`` is
  ``{env:VAR}``) and ``model``/``small_model``.

The env that turns off update checks and non-essential traffic is the runtime table's ``env``
(framework/fleet/runtimes.json), not files.
"""

from __future__ import annotations

import json
import re

# The variables of credentials/fleet.env this module reads: the base URL of a gateway or proxy per
# API family, and the keys (only claude's is looked at, for its last 20 characters).
ANTHROPIC_BASE_URL = "ANTHROPIC_BASE_URL"
ANTHROPIC_API_KEY = "ANTHROPIC_API_KEY"
OPENAI_BASE_URL = "OPENAI_BASE_URL"
OPENAI_API_KEY = "OPENAI_API_KEY"
PROVIDER = "mosaic"
DEFAULT_MODEL = "default"
KEY_SUFFIX = 20
AUTO_COMPACT_WINDOW = 200000

CLAUDE_JSON = ".claude.json"
CLAUDE_SETTINGS = ".claude/settings.json"
CODEX_CONFIG = ".codex/config.toml"
PI_MODELS = ".pi/agent/models.json"
PI_SETTINGS = ".pi/agent/settings.json"
OPENCODE_CONFIG = ".config/opencode/opencode.json"

# Files whose content may say something about a credential (0600); the rest 0644.
PRIVATE_FILES = (CLAUDE_JSON, CODEX_CONFIG, PI_MODELS, OPENCODE_CONFIG)


class FirstRunError(ValueError):
    """A user's file the fleet cannot merge into (not JSON, not a JSON object, a TOML key the
    fleet owns written in a form this module does not edit)."""


def file_mode(relpath):
    return 0o600 if relpath in PRIVATE_FILES else 0o644


def expand_workdir(workdir, home):
    """An agent's working directory as the runtime sees it: ``~``/``~/x`` under ``home``."""
    workdir = workdir or "~"
    if workdir == "~":
        return home.rstrip("/") or "/"
    if workdir.startswith("~/"):
        return home.rstrip("/") + "/" + workdir[2:]
    return workdir


def _models(agents, runtime):
    """The model names the ``mosaic`` provider offers: the model part of the agents' hints."""
    names = []
    for agent in agents:
        hint = (agent.get("model_hint") or "").split(":")[0]
        model = hint.split("/", 1)[1] if "/" in hint else hint
        if agent.get("runtime") == runtime and model and model not in names:
            names.append(model)
    return names or [DEFAULT_MODEL]


def _gateway(credentials):
    """(api, base URL, key variable) of the gateway the credentials name, Anthropic's first."""
    if credentials.get(ANTHROPIC_BASE_URL):
        return "anthropic", credentials[ANTHROPIC_BASE_URL].rstrip("/"), ANTHROPIC_API_KEY
    if credentials.get(OPENAI_BASE_URL):
        return "openai", credentials[OPENAI_BASE_URL].rstrip("/"), OPENAI_API_KEY
    return None, None, None


def plan(agents, home, credentials):
    """``{relpath: [(key path, value, how)]}``: the settings each file of the fleet user's home
    needs for ``agents`` (this host's agents of the normalized roster) with ``credentials`` (the
    credentials/fleet.env mapping). ``how`` is ``set``, ``add`` (append to a list when absent) or
    ``remove`` (from a list, which is created empty when missing).
    For config.toml the key path is (table..., key)."""
    wanted = {}
    runtimes = set(agent.get("runtime") for agent in agents)
    workdirs = {}
    for agent in agents:
        path = expand_workdir(agent.get("working_directory") or "~", home)
        workdirs.setdefault(agent.get("runtime"), [])
        if path not in workdirs[agent["runtime"]]:
            workdirs[agent["runtime"]].append(path)
    api, base_url, key_var = _gateway(credentials)

    if "claude" in runtimes:
        edits = [(("hasCompletedOnboarding",), True, "set")]
        key = credentials.get(ANTHROPIC_API_KEY) or ""
        if key:
            edits.append((("customApiKeyResponses", "approved"), key[-KEY_SUFFIX:], "add"))
            edits.append((("customApiKeyResponses", "rejected"), key[-KEY_SUFFIX:], "remove"))
        edits += [(("projects", path, "hasTrustDialogAccepted"), True, "set") for path in workdirs["claude"]]
        wanted[CLAUDE_JSON] = edits
        wanted[CLAUDE_SETTINGS] = [
            (("skipDangerousModePermissionPrompt",), True, "set"),
            (("autoCompactWindow",), AUTO_COMPACT_WINDOW, "set"),
            (("autoCompactEnabled",), True, "set"),
        ]

    if "codex" in runtimes:
        edits = [
            (("approval_policy",), "never", "set"),
            (("sandbox_mode",), "danger-full-access", "set"),
            (("check_for_update_on_startup",), False, "set"),
        ]
        edits += [(("projects", path, "trust_level"), "trusted", "set") for path in workdirs["codex"]]
        if credentials.get(OPENAI_BASE_URL):
            edits += [
                (("model_provider",), PROVIDER, "set"),
                (("model_providers", PROVIDER, "name"), PROVIDER, "set"),
                (("model_providers", PROVIDER, "base_url"), credentials[OPENAI_BASE_URL].rstrip("/"), "set"),
                (("model_providers", PROVIDER, "env_key"), OPENAI_API_KEY, "set"),
                (("model_providers", PROVIDER, "wire_api"), "responses", "set"),
            ]
        wanted[CODEX_CONFIG] = edits

    if "pi" in runtimes and api:
        models = _models(agents, "pi")
        provider = {
            "baseUrl": base_url,
            "api": "anthropic-messages" if api == "anthropic" else "openai-responses",
            "apiKey": key_var,
            "models": [{"id": name} for name in models],
        }
        wanted[PI_MODELS] = [(("providers", PROVIDER), provider, "set")]
        wanted[PI_SETTINGS] = [(("defaultProvider",), PROVIDER, "set"), (("defaultModel",), models[0], "set")]

    if "opencode" in runtimes:
        edits = [(("permission", name), "allow", "set") for name in ("bash", "edit", "external_directory")]
        if api:
            models = _models(agents, "opencode")
            provider = {
                "npm": "@ai-sdk/anthropic" if api == "anthropic" else "@ai-sdk/openai-compatible",
                "name": PROVIDER,
                "options": {"baseURL": base_url + ("/v1" if api == "anthropic" else ""),
                            "apiKey": "{env:%s}" % key_var},
                "models": dict((name, {"name": name, "tool_call": True}) for name in models),
            }
            edits += [
                (("provider", PROVIDER), provider, "set"),
                (("model",), "%s/%s" % (PROVIDER, models[0]), "set"),
                (("small_model",), "%s/%s" % (PROVIDER, models[0]), "set"),
            ]
        wanted[OPENCODE_CONFIG] = edits
    return wanted


# --------------------------------------------------------------------------------------------
# JSON files


def merge_json(text, edits, relpath="file"):
    """``text`` (None or empty: no file) with ``edits`` applied; ``text`` itself when nothing
    changes. Raises FirstRunError when it is not a JSON object."""
    if text is None or not text.strip():
        data, original = {}, None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FirstRunError("%s is not valid JSON (%s); the fleet merges its settings into it, fix "
                                "or remove it" % (relpath, exc))
        if not isinstance(data, dict):
            raise FirstRunError("%s is not a JSON object; the fleet merges its settings into it" % relpath)
        original = json.loads(text)
    for path, value, how in edits:
        node = data
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        last = path[-1]
        if how in ("add", "remove"):
            current = node.get(last)
            if not isinstance(current, list):
                current = node[last] = []
            if how == "add" and value not in current:
                current.append(value)
            while how == "remove" and value in current:
                current.remove(value)
        else:
            node[last] = value
    if original is not None and data == original:
        return text
    return json.dumps(data, indent=2) + "\n"


# --------------------------------------------------------------------------------------------
# TOML (codex's config.toml): only the keys the fleet owns are touched, line by line

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = re.compile(r"^\s*\[(?!\[)(.*)\]\s*(#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[")


def _toml_key(key):
    return key if _BARE.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _split_keys(text):
    """The keys of a dotted TOML key (``a."b.c".d``), or None when it is not one this module reads."""
    keys, i, text = [], 0, text.strip()
    while i < len(text):
        if text[i] == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                return None
            try:
                keys.append(json.loads(text[i:end + 1]))
            except ValueError:
                return None
            i = end + 1
        elif text[i] == "'":
            end = text.find("'", i + 1)
            if end < 0:
                return None
            keys.append(text[i + 1:end])
            i = end + 1
        else:
            match = re.match(r"[A-Za-z0-9_-]+", text[i:])
            if not match:
                return None
            keys.append(match.group(0))
            i += match.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text):
            if text[i] != ".":
                return None
            i += 1
            while i < len(text) and text[i] in " \t":
                i += 1
    return keys or None


def _sections(lines):
    """[(table keys or None for the top, start line, end line)] in file order."""
    sections, current, start = [], (), 0
    for number, line in enumerate(lines):
        header = _HEADER.match(line)
        if header or _ARRAY_HEADER.match(line):
            sections.append((current, start, number))
            current = tuple(_split_keys(header.group(1)) or ("\0unreadable", number)) if header else ("\0array", number)
            start = number + 1
    sections.append((current, start, len(lines)))
    return sections


def _assignment(line):
    """(key, value text) of a ``key = value`` line, else None."""
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    key, sep, value = line.partition("=")
    if not sep:
        return None
    keys = _split_keys(key)
    return (tuple(keys), value.strip()) if keys else None


def merge_toml(text, edits, relpath="config.toml"):
    """``text`` with each ``((table..., key), value, "set")`` applied: the key's line replaced
    (single-line values only) or added at the end of its table, the table added at the end of the
    file when missing. ``text`` itself when every value is already there."""
    text = text or ""
    lines = text.splitlines()
    for path, value, _how in edits:
        table, key = tuple(path[:-1]), path[-1]
        rendered = "%s = %s" % (_toml_key(key), _toml_value(value))
        done = False
        for keys, start, end in _sections(lines):
            if keys != table:
                continue
            for number in range(start, end):
                found = _assignment(lines[number])
                if found and found[0] == (key,):
                    current = found[1].split("#", 1)[0].strip() if not found[1].startswith(('"', "'")) else None
                    if found[1] == _toml_value(value) or current == _toml_value(value):
                        done = True
                        break
                    if found[1].startswith(("[", "{", '"""', "'''")) and not found[1].endswith(("]", "}")):
                        raise FirstRunError("%s: the value of %s spans lines; set it to %s by hand or remove it"
                                            % (relpath, ".".join(path), _toml_value(value)))
                    lines[number] = rendered
                    done = True
                    break
            if not done:
                last = end
                while last > start and not lines[last - 1].strip():
                    last -= 1
                lines.insert(last, rendered)
                done = True
            break
        if not done:
            if lines and lines[-1].strip():
                lines.append("")
            if table:
                lines.append("[%s]" % ".".join(_toml_key(part) for part in table))
                lines.append(rendered)
            else:
                lines.insert(_first_table(lines), rendered)
    new = "\n".join(lines) + "\n"
    return text if new == text or (text and new == text + "\n" and not text.endswith("\n")) else new


def _first_table(lines):
    for number, line in enumerate(lines):
        if _HEADER.match(line) or _ARRAY_HEADER.match(line):
            while number > 0 and not lines[number - 1].strip():
                number -= 1
            return number
    return len(lines)


def merge(relpath, text, edits):
    """The new text of ``relpath`` (relative to home) with ``edits`` (from :func:`plan`)."""
    if relpath.endswith(".toml"):
        return merge_toml(text, edits, relpath)
    return merge_json(text, edits, relpath)


# --------------------------------------------------------------------------------------------
# what a diff shows: the fleet's keys only

KEY_PLACEHOLDER = "<the API key's last %d characters>" % KEY_SUFFIX


def _json_lookup(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _toml_lookup(lines, path):
    table, key = tuple(path[:-1]), path[-1]
    for keys, start, end in _sections(lines):
        if keys == table:
            for number in range(start, end):
                found = _assignment(lines[number])
                if found and found[0] == (key,):
                    return found[1]
    return None


def summary(relpath, text, edits):
    """The settings of ``edits`` as ``relpath`` (its current ``text``; None: no file) holds them,
    one ``key.path = value`` a line: what a diff shows, never the rest of the user's file (it may
    hold credentials) and never the key's suffix (shown as KEY_PLACEHOLDER)."""
    if text is None:
        return ""
    lines = []
    if relpath.endswith(".toml"):
        toml_lines = text.splitlines()
        for path, _value, _how in edits:
            current = _toml_lookup(toml_lines, path)
            lines.append("%s = %s" % (".".join(path), "(unset)" if current is None else current))
        return "\n".join(lines) + "\n"
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return "(not JSON)\n"
    for path, value, how in edits:
        current = _json_lookup(data, path)
        name = ".".join(path)
        if how in ("add", "remove"):
            held = isinstance(current, list) and value in current
            lines.append("%s %s %s" % (name, "holds" if held else "lacks", KEY_PLACEHOLDER))
        else:
            lines.append("%s = %s" % (name, "(unset)" if current is None else json.dumps(current, sort_keys=True)))
    return "\n".join(lines) + "\n"
