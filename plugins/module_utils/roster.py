# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roster model: parse, validate (schema + fleet invariants), normalize, place.

Everything here is pure and runs on the controller. The roster's shape lives in one place,
``framework/fleet/roster.schema.json``; this module adds the rules a schema cannot express
(unique names, the two-agent floor, placement on inventory hosts) and turns every problem into
a ``Violation`` with a path such as ``agents[2].runtime``. Nothing here raises on bad input.
"""

from __future__ import annotations

import json
import os
import re
from collections import namedtuple

try:
    import jsonschema
    HAS_JSONSCHEMA = True
    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test import sanity
    jsonschema = None
    HAS_JSONSCHEMA = False
    JSONSCHEMA_IMPORT_ERROR = exc

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover
    yaml = None
    HAS_YAML = False
    YAML_IMPORT_ERROR = exc


RUNTIMES = ("claude", "codex", "pi", "opencode", "stub")
EXEMPT_PROFILES = ("minimal", "canary")
NAME_MAX_LENGTH = 48
# '.' and ':' are left out on purpose: tmux silently rewrites them to '_' in session names, which
# would break "the session name is the agent name".
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
DEFAULT_HOST = "localhost"
DEFAULT_TENANT = "default"
DEFAULT_HOLDER_SESSION = "mosaic-holder"
DEFAULT_WORKING_DIRECTORY = "~"
DEFAULT_CLASS = "worker"
ROOT_PATH = "(root)"

Violation = namedtuple("Violation", ["path", "message"])


def collection_root():
    """The collection's root directory (this file is plugins/module_utils/roster.py)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def framework_dir():
    return os.path.join(collection_root(), "framework")


def schema_path():
    return os.path.join(framework_dir(), "fleet", "roster.schema.json")


def presets_dir():
    return os.path.join(framework_dir(), "fleet", "presets")


def preset_names():
    try:
        entries = os.listdir(presets_dir())
    except OSError:
        return []
    return sorted(e[:-len(".yaml")] for e in entries if e.endswith(".yaml"))


_SCHEMA_CACHE = {}


def load_schema(path=None):
    """Load (once per path) the roster JSON Schema."""
    path = path or schema_path()
    if path not in _SCHEMA_CACHE:
        with open(path, "r", encoding="utf-8") as handle:
            _SCHEMA_CACHE[path] = json.load(handle)
    return _SCHEMA_CACHE[path]


_VALIDATOR_CACHE = {}


def _validator(schema):
    key = id(schema)
    cached = _VALIDATOR_CACHE.get(key)
    if cached is None or cached[0] is not schema:
        cls = jsonschema.validators.validator_for(schema)
        cached = (schema, cls(schema))
        _VALIDATOR_CACHE[key] = cached
    return cached[1]


def format_path(parts):
    """['agents', 2, 'runtime'] -> 'agents[2].runtime'; [] -> '(root)'."""
    text = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            text += "[%d]" % part
        else:
            text += ("." if text else "") + str(part)
    return text or ROOT_PATH


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string",
               "boolean": "true or false", "integer": "an integer", "number": "a number", "null": "null"}


def _describe_schema_error(error):
    """Turn one jsonschema error into (path parts, message) pairs in our own words."""
    parts = list(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        extras = [k for k in instance if k not in known]
        return [(parts + [key], "unknown key (allowed: %s)" % ", ".join(sorted(known)))
                for key in sorted(extras, key=str)]
    if kind == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        return [(parts + [key], "is required") for key in missing]
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted)
        return [(parts, "must be %s, not %s %s" % (words, _type_name(instance), _short(instance)))]
    if kind == "enum":
        return [(parts, "must be one of: %s (got %s)" % (", ".join(str(v) for v in value), _short(instance)))]
    if kind == "const":
        return [(parts, "must be %s (got %s)" % (json.dumps(value), _short(instance)))]
    if kind == "pattern":
        return [(parts, "%s does not match the allowed form %s" % (_short(instance), value))]
    if kind == "minItems":
        return [(parts, "must not be empty" if value == 1 else "needs at least %d items" % value)]
    if kind == "minLength":
        return [(parts, "must not be empty" if value == 1 else "must be at least %d characters" % value)]
    if kind == "maxLength":
        return [(parts, "is longer than %d characters" % value)]
    return [(parts, error.message)]


def schema_violations(document, schema):
    """Every schema violation of ``document``, sorted by path."""
    found = []
    for error in _validator(schema).iter_errors(document):
        for parts, message in _describe_schema_error(error):
            found.append(Violation(format_path(parts), message))
    return found


def name_problem(name):
    """Why ``name`` cannot be an agent name, or None when it can."""
    if not isinstance(name, str):
        return "must be a string, not %s" % _type_name(name)
    if name == "":
        return "must not be empty"
    if len(name) > NAME_MAX_LENGTH:
        return "is longer than %d characters" % NAME_MAX_LENGTH
    if name.startswith("-"):
        return "must not start with '-' (it would read as an option)"
    if "." in name or ":" in name:
        return "must not contain '.' or ':' (tmux rewrites them in session names)"
    if "/" in name:
        return "must not contain '/' (it names files and units)"
    if not NAME_PATTERN.match(name):
        return ("%s may use only letters, digits, '_' and '-' (it is a tmux session, a unit "
                "instance and a file name)" % _short(name))
    return None


def _as_dict(value):
    return value if isinstance(value, dict) else {}


def _agents(document):
    """(index, agent mapping) for every agent entry that is a mapping."""
    agents = _as_dict(document).get("agents")
    if not isinstance(agents, list):
        return []
    return [(i, a) for i, a in enumerate(agents) if isinstance(a, dict)]


def semantic_violations(document, inventory_hosts=None, default_host=None):
    """Fleet invariants the schema cannot express. Tolerates any shape of input."""
    found = []
    if not isinstance(document, dict):
        return found
    agents = _agents(document)
    tmux = _as_dict(document.get("tmux"))
    holder = tmux.get("holder_session", DEFAULT_HOLDER_SESSION)
    defaults = _as_dict(document.get("defaults"))

    seen = {}
    for index, agent in agents:
        path = "agents[%d]" % index
        name = agent.get("name")
        if isinstance(name, str):  # a non-string name is the schema's to report
            problem = name_problem(name)
            if problem:
                found.append(Violation(path + ".name", problem))
            elif name in seen:
                found.append(Violation(path + ".name", "duplicate agent name %r (first used by agents[%d])"
                                       % (name, seen[name])))
            else:
                seen[name] = index
                if isinstance(holder, str) and name == holder:
                    found.append(Violation(path + ".name", "%r is the tmux holder session's name "
                                           "(tmux.holder_session); choose another" % name))
        if "runtime" not in agent and "runtime" not in defaults:
            found.append(Violation(path + ".runtime", "is required (no defaults.runtime is set)"))
        if "ssh" in agent and "host" not in agent:
            found.append(Violation(path + ".ssh", "is only allowed together with 'host'"))

    profile = document.get("profile", "full")
    classes = [(i, a.get("class", DEFAULT_CLASS)) for i, a in agents]
    orchestrators = [i for i, c in classes if c == "orchestrator"]
    if len(orchestrators) > 1:
        for i in orchestrators[1:]:
            found.append(Violation("agents[%d].class" % i, "a second orchestrator (agents[%d] is already "
                                   "the orchestrator); a fleet has exactly one" % orchestrators[0]))
    if profile not in EXEMPT_PROFILES and agents:
        if not orchestrators:
            found.append(Violation("agents", "no agent has class 'orchestrator'; a fleet needs exactly one "
                                   "(or declare profile: minimal or canary)"))
        if not [i for i, c in classes if c == "enhancer"]:
            found.append(Violation("agents", "no agent has class 'enhancer'; a fleet needs at least one "
                                   "(or declare profile: minimal or canary)"))

    found.extend(_connector_violations(document.get("connector")))
    if inventory_hosts is not None:
        found.extend(_placement_violations(document, agents, inventory_hosts, default_host))
    return found


_CONNECTOR_FIELDS = {"matrix": ("homeserver_url", "user_id", "room_id"), "discord": ("channel_id",)}


def _connector_violations(connector):
    if not isinstance(connector, dict):
        return []
    kind = connector.get("kind")
    found = []
    for block, fields in _CONNECTOR_FIELDS.items():
        if block in connector and kind != block:
            found.append(Violation("connector.%s" % block, "is only allowed with kind: %s" % block))
        if kind == block:
            settings = connector.get(block)
            if block not in connector:
                found.append(Violation("connector.%s" % block, "is required with kind: %s (fields: %s)"
                                       % (block, ", ".join(fields))))
            elif isinstance(settings, dict):
                for field in fields:
                    if field not in settings:
                        found.append(Violation("connector.%s.%s" % (block, field), "is required"))
    return found


def _placement_violations(document, agents, inventory_hosts, default_host):
    hosts = set(str(h) for h in inventory_hosts)
    fallback = _as_dict(document.get("defaults")).get("host") or default_host or DEFAULT_HOST
    found = []
    for index, agent in agents:
        host = agent.get("host", fallback)
        if isinstance(host, str) and host not in hosts:
            where = "agents[%d].host" % index if "host" in agent else "agents[%d]" % index
            found.append(Violation(where, "host %r is not in the inventory (hosts: %s)"
                                   % (host, ", ".join(sorted(hosts)) or "none")))
    return found


def normalize(document, default_host=None):
    """The roster with every default filled in. Only call on a roster without violations."""
    defaults = dict(document.get("defaults") or {})
    defaults.setdefault("working_directory", DEFAULT_WORKING_DIRECTORY)
    tmux = dict(document.get("tmux") or {})
    tmux.setdefault("socket_name", "")
    tmux.setdefault("holder_session", DEFAULT_HOLDER_SESSION)
    fallback_host = defaults.get("host") or default_host or DEFAULT_HOST
    agents = []
    for agent in document["agents"]:
        agents.append({
            "name": agent["name"],
            "runtime": agent.get("runtime", defaults.get("runtime")),
            "class": agent.get("class", DEFAULT_CLASS),
            "persistent_persona": bool(agent.get("persistent_persona", False)),
            "model_hint": agent.get("model_hint", defaults.get("model_hint", "")),
            "host": agent.get("host", fallback_host),
            "ssh": agent.get("ssh", ""),
            "socket": agent.get("socket", tmux["socket_name"]),
            "working_directory": agent.get("working_directory", defaults["working_directory"]),
            "command": agent.get("command", ""),
        })
    return {
        "version": document["version"],
        "tenant": document.get("tenant", DEFAULT_TENANT),
        "profile": document.get("profile", "full"),
        "transport": document.get("transport", "tmux"),
        "tmux": tmux,
        "defaults": defaults,
        "connector": dict(document.get("connector") or {"kind": "tmux"}),
        "agents": agents,
    }


def placement(normalized):
    """host -> agent names placed there, in roster order."""
    placed = {}
    for agent in normalized["agents"]:
        placed.setdefault(agent["host"], []).append(agent["name"])
    return placed


def validate(document, schema, inventory_hosts=None, default_host=None):
    """(normalized roster or None, [Violation...]). The roster is normalized only when clean."""
    found = schema_violations(document, schema)
    found.extend(semantic_violations(document, inventory_hosts, default_host))
    found = sorted(set(found), key=lambda v: (_path_sort_key(v.path), v.message))
    if found:
        return None, found
    return normalize(document, default_host), []


def _path_sort_key(path):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\[\]]+", path) if p]


def parse_text(text, source="roster"):
    """Parse YAML (or JSON) text. Returns (document, [Violation]) with line and column on errors."""
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        return None, [Violation(ROOT_PATH, "%s is not valid YAML%s: %s" % (source, where, problem))]
    except Exception as exc:  # yaml can raise ValueError/RecursionError on hostile input
        return None, [Violation(ROOT_PATH, "%s could not be parsed: %s" % (source, exc))]


def format_violations(violations):
    return "\n".join("  - %s: %s" % (v.path, v.message) for v in violations)
