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
import shlex
from collections import namedtuple

from ansible_collections.mosaic.fleet.plugins.module_utils import contract, runtime_table, runtimes, supervision
from ansible_collections.mosaic.fleet.plugins.module_utils import connector as fleet_connector
from ansible_collections.mosaic.fleet.plugins.module_utils.contract import (  # noqa: F401 (re-exported) pylint: disable=unused-import
    CONNECTOR_SESSION, DEFAULT_HOLDER_SESSION, NAME_MAX_LENGTH, NAME_PATTERN)

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


# The runtimes of THE runtime table (framework/fleet/runtimes.json); the schema enum is checked against it.
RUNTIMES = runtimes.runtime_names(runtime_table.TABLE)
EXEMPT_PROFILES = ("minimal", "canary")
# The agent name rule (NAME_PATTERN, NAME_MAX_LENGTH) and DEFAULT_HOLDER_SESSION are contract.py's.
# Python's '$' (used by jsonschema for the schema's patterns) matches before a final newline, and
# no roster string may carry a control character into an env file, a unit or a tmux command.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
DEFAULT_HOST = "localhost"
DEFAULT_TENANT = "default"
DEFAULT_PROFILE = "full"
DEFAULT_TRANSPORT = "tmux"
DEFAULT_WORKING_DIRECTORY = "~"
DEFAULT_CLASS = "worker"
ROOT_PATH = "(root)"
# A parsed document larger than this (counting every alias expansion) is refused before
# validation: YAML aliases can make a small file expand exponentially ("billion laughs").
MAX_DOCUMENT_NODES = 1000000

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


_MISSING = object()


def format_path(parts, document=_MISSING):
    """['agents', 2, 'runtime'] -> 'agents[2].runtime'; [] -> '(root)'.

    With ``document``, the path is followed through it so that an integer mapping key (YAML
    allows ``1: x``) reads as a key, not as a list index.
    """
    text = ""
    node = document
    for part in parts:
        if document is _MISSING:
            is_index = isinstance(part, int) and not isinstance(part, bool)
        else:
            is_index = isinstance(node, list)
            node = _child(node, part)
        if is_index:
            text += "[%d]" % part
        else:
            text += ("." if text else "") + str(part)
    return text or ROOT_PATH


def _child(node, part):
    try:
        if isinstance(node, list):
            return node[part]
        if isinstance(node, dict):
            return node.get(part)
    except (TypeError, IndexError):
        pass
    return None


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
    """A repr of ``value`` cut to ``limit`` characters, never building more than that.

    Plain ``repr`` of a hostile document (nested aliases) could take unbounded time and memory.
    """
    pieces = []
    size = [0]

    def add(text):
        pieces.append(text)
        size[0] += len(text)

    def walk(item, depth):
        if size[0] > limit:
            return
        if depth > 16:
            add("...")
        elif isinstance(item, dict):
            add("{")
            for count, (key, val) in enumerate(item.items()):
                if size[0] > limit:
                    return
                add(", " if count else "")
                walk(key, depth + 1)
                add(": ")
                walk(val, depth + 1)
            add("}")
        elif isinstance(item, (list, tuple)):
            add("[")
            for count, val in enumerate(item):
                if size[0] > limit:
                    return
                add(", " if count else "")
                walk(val, depth + 1)
            add("]")
        elif isinstance(item, str):
            add(repr(item[:limit + 1]))
        else:
            try:
                add(repr(item)[:limit + 1])
            except Exception:  # an exotic object with a broken repr
                add("<%s>" % type(item).__name__)

    walk(value, 0)
    text = "".join(pieces)
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
        if parts and parts[-1] == "class":
            return [(parts, "%s is not a class name: letters, digits, '_' and '-', not starting with '-', "
                     "at most %d characters (it names the mandate file fleet/roles/<class>.md)"
                     % (_short(instance), NAME_MAX_LENGTH))]
        return [(parts, "%s does not match the allowed form %s" % (_short(instance), value))]
    if kind == "minItems":
        return [(parts, "must not be empty" if value == 1 else "needs at least %d items" % value)]
    if kind == "minLength":
        return [(parts, "must not be empty" if value == 1 else "must be at least %d characters" % value)]
    if kind == "maxLength":
        return [(parts, "is longer than %d characters" % value)]
    return [(parts, error.message)]


def schema_violations(document, schema):
    """Every schema violation of ``document`` (unsorted; ``validate`` sorts)."""
    found = []
    for error in _validator(schema).iter_errors(document):
        for parts, message in _describe_schema_error(error):
            found.append(Violation(format_path(parts, document), message))
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
    if not NAME_PATTERN.fullmatch(name):
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


# Free-form strings, by place; the names and enums are checked more strictly elsewhere.
_TEXT_FIELDS = (
    ((), ("tenant",)),
    (("tmux",), ("socket_name", "holder_session")),
    (("defaults",), ("working_directory", "model_hint", "host")),
    (("connector", "matrix"), ("homeserver_url", "user_id", "room_id")),
    (("connector", "discord"), ("channel_id",)),
)
_AGENT_TEXT_FIELDS = ("class", "model_hint", "host", "ssh", "socket", "working_directory", "command")


def _control_violations(document, agents):
    found = []

    def check(path, block, fields):
        for field in fields:
            value = block.get(field)
            if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
                found.append(Violation("%s%s" % (path, field), "must not contain control characters "
                                       "such as a newline or a tab (got %s)" % _short(value)))

    for where, fields in _TEXT_FIELDS:
        block = document
        for key in where:
            block = _as_dict(block.get(key))
        check("".join(k + "." for k in where), block, fields)
    for index, agent in agents:
        check("agents[%d]." % index, agent, _AGENT_TEXT_FIELDS)
    for kind in sorted(fleet_connector.KINDS):  # each kind's block may name its allowed_senders
        senders = _as_dict(_as_dict(document.get("connector")).get(kind)).get("allowed_senders")
        if isinstance(senders, list):
            check("connector.%s.allowed_senders" % kind, dict(("[%d]" % i, v) for i, v in enumerate(senders)),
                  ["[%d]" % i for i in range(len(senders))])
    return found


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
        if isinstance(name, str):  # a missing or non-string name is the schema's to report
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
                elif name == CONNECTOR_SESSION:
                    found.append(Violation(path + ".name", "%r is the connector's tmux session name; "
                                           "choose another" % name))
        if "runtime" not in agent and "runtime" not in defaults:
            found.append(Violation(path + ".runtime", "is required (no defaults.runtime is set)"))
        if "ssh" in agent and "host" not in agent:
            found.append(Violation(path + ".ssh", "is only allowed together with 'host' (it is how "
                                   "peers reach that host)"))
        found.extend(_supervision_violations(document, agent, path))

    profile = document.get("profile", DEFAULT_PROFILE)
    orchestrators = []
    has_enhancer = False
    for index, agent in agents:
        klass = agent.get("class", DEFAULT_CLASS)
        if klass == "orchestrator":
            orchestrators.append(index)
        elif klass == "enhancer":
            has_enhancer = True
    for index in orchestrators[1:]:
        found.append(Violation("agents[%d].class" % index, "a second orchestrator (agents[%d] is already "
                               "the orchestrator); a fleet has exactly one" % orchestrators[0]))
    if agents and not (isinstance(profile, str) and profile in EXEMPT_PROFILES):
        if not orchestrators:
            found.append(Violation("agents", "no agent has class 'orchestrator'; a fleet needs exactly one "
                                   "(or declare profile: minimal or canary)"))
        if not has_enhancer:
            found.append(Violation("agents", "no agent has class 'enhancer'; a fleet needs at least one "
                                   "(or declare profile: minimal or canary)"))

    found.extend(_control_violations(document, agents))
    found.extend(_connector_violations(document.get("connector")))
    if orchestrators:
        orchestrator = dict(agents)[orchestrators[0]]
        runtime = orchestrator.get("runtime", defaults.get("runtime"))
        # An unknown runtime is the schema's to report.
        problem = isinstance(runtime, str) and runtime in RUNTIMES and fleet_connector.runtime_problem(
            _as_dict(document.get("connector")).get("kind"), runtime, orchestrator.get("name"))
        if problem:
            found.append(Violation("connector.kind", problem))
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
                        found.append(Violation("connector.%s.%s" % (block, field),
                                               "is required with kind: %s" % block))
    return found


def _fallback_host(defaults, default_host):
    """Host of agents without ``host``: defaults.host, else the caller's default, else localhost."""
    host = defaults.get("host")
    if isinstance(host, str) and host:
        return host
    return default_host or DEFAULT_HOST


def _placement_violations(document, agents, inventory_hosts, default_host):
    hosts = set(str(h) for h in inventory_hosts)
    listed = sorted(hosts)
    listing = ", ".join(listed[:10]) + (", ..." if len(listed) > 10 else "") if listed else "none"
    defaults = _as_dict(document.get("defaults"))
    found = []
    from_defaults = isinstance(defaults.get("host"), str) and defaults.get("host") != ""
    fallback = _fallback_host(defaults, default_host)
    if from_defaults and fallback not in hosts:
        found.append(Violation("defaults.host", "host %r is not in the inventory (hosts: %s)"
                               % (fallback, listing)))
    for index, agent in agents:
        if "host" in agent:
            host = agent["host"]
            if isinstance(host, str) and host not in hosts:
                found.append(Violation("agents[%d].host" % index, "host %r is not in the inventory "
                                       "(hosts: %s)" % (host, listing)))
        elif not from_defaults and fallback not in hosts:
            found.append(Violation("agents[%d]" % index, "has no host, and the default host %r is not in "
                                   "the inventory (hosts: %s); set host, defaults.host or default_host"
                                   % (fallback, listing)))
    return found


def _supervision_layers(document, agent):
    fleet = _as_dict(document.get("supervision"))
    classes = _as_dict(fleet.get("classes"))
    agent_class = agent.get("class", DEFAULT_CLASS)
    if not isinstance(agent_class, str):   # the schema's to report
        agent_class = None
    return fleet, dict((k, _as_dict(v)) for k, v in classes.items()), agent_class, _as_dict(agent.get("supervision"))


def _supervision_violations(document, agent, path):
    """An agent's merged supervision policy breaks a rule the schema cannot state (the numbers'
    types are the schema's to report)."""
    fleet, classes, agent_class, own = _supervision_layers(document, agent)
    policy = supervision.agent_policy(fleet, classes, agent_class, own)
    if not all(isinstance(policy[k], int) for k in ("grace", "hang_timeout", "restart_delay", "restart_delay_max")):
        return []
    runtime = agent.get("runtime", _as_dict(document.get("defaults")).get("runtime"))
    return [Violation(path + ".supervision." + field, "%s (the policy of agent %r, class %r)"
                      % (message, agent.get("name"), agent_class))
            for field, message in supervision.policy_problems(policy, runtime if isinstance(runtime, str) else None)]


def normalize(document, default_host=None):
    """The roster with every default filled in. Only call on a roster without violations."""
    defaults = dict(document.get("defaults") or {})
    defaults.setdefault("working_directory", DEFAULT_WORKING_DIRECTORY)
    tmux = dict(document.get("tmux") or {})
    tmux.setdefault("socket_name", "")
    tmux.setdefault("holder_session", DEFAULT_HOLDER_SESSION)
    fallback_host = _fallback_host(defaults, default_host)
    runtime = defaults.get("runtime")
    model_hint = defaults.get("model_hint", "")
    socket = tmux["socket_name"]
    working_directory = defaults["working_directory"]
    agents = []
    for agent in document["agents"]:
        get = agent.get
        agents.append({
            "name": agent["name"],
            "runtime": get("runtime", runtime),
            "class": get("class", DEFAULT_CLASS),
            "persistent_persona": bool(get("persistent_persona", False)),
            "resume": bool(get("resume", get("persistent_persona", False))),
            "model_hint": get("model_hint", model_hint),
            "host": get("host", fallback_host),
            "ssh": get("ssh", ""),
            "socket": get("socket", socket),
            "working_directory": get("working_directory", working_directory),
            "command": get("command", ""),
            "supervision": supervision.agent_policy(*_supervision_layers(document, agent)),
        })
    connector = dict(document.get("connector") or {"kind": "tmux"})
    for block in _CONNECTOR_FIELDS:
        if isinstance(connector.get(block), dict):
            connector[block] = dict(connector[block])
            if isinstance(connector[block].get("allowed_senders"), list):
                connector[block]["allowed_senders"] = list(connector[block]["allowed_senders"])
    return {
        "version": 1,
        "tenant": document.get("tenant", DEFAULT_TENANT),
        "profile": document.get("profile", DEFAULT_PROFILE),
        "transport": document.get("transport", DEFAULT_TRANSPORT),
        "tmux": tmux,
        "defaults": defaults,
        "connector": connector,
        "agents": agents,
    }


def placement(normalized):
    """host -> agent names placed there, in roster order."""
    placed = {}
    for agent in normalized["agents"]:
        placed.setdefault(agent["host"], []).append(agent["name"])
    return placed


def ssh_aliases(normalized, hosts=()):
    """host -> the names peers reach it under: the host part of its agents' ``ssh`` destinations.

    Every host of ``hosts`` and every host an agent is placed on is a key (an empty list when no
    agent there has ``ssh``); names are unique, in roster order.
    """
    aliases = dict((host, []) for host in hosts or ())
    for agent in normalized["agents"]:
        names = aliases.setdefault(agent["host"], [])
        alias = agent["ssh"].rpartition("@")[2] if agent.get("ssh") else None
        if alias and alias not in names:
            names.append(alias)
    return aliases


def agent_record(normalized, name):
    """The placed record of the agent called ``name``; ValueError naming the roster's agents otherwise.

    ``name`` is data: it is compared and printed as it is, never interpreted.
    """
    for agent in normalized["agents"]:
        if agent["name"] == name:
            return agent
    names = ", ".join(agent["name"] for agent in normalized["agents"])
    if not name:
        raise ValueError("no agent named: name one of the roster's agents (agents: %s)" % names)
    raise ValueError("agent %s is not in the roster (agents: %s)" % (name, names))


def validate(document, schema=None, inventory_hosts=None, default_host=None):
    """(normalized roster or None, [Violation...]). The roster is normalized only when clean.

    ``schema`` defaults to the collection's roster schema. With ``inventory_hosts`` (a list of
    host names), every agent's host must be one of them. ``default_host`` places agents that
    name no host when the roster has no ``defaults.host`` (else ``localhost``).
    """
    if schema is None:
        schema = load_schema()
    found = schema_violations(document, schema)
    found.extend(semantic_violations(document, inventory_hosts, default_host))
    if found:
        return None, sorted(set(found), key=lambda v: (_path_sort_key(v.path), v.message))
    return normalize(document, default_host), []


_PATH_SPLIT = re.compile(r"[.\[\]]+")


def _path_sort_key(path):
    return [(0, int(p), "") if p.isascii() and p.isdigit() else (1, 0, p) for p in _PATH_SPLIT.split(path) if p]


if HAS_YAML:
    class RosterLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        """yaml's safe loader, but a key given twice in one mapping is an error, not "last wins"."""

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = {}
                for key_node, _value in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=deep)
                    try:
                        first = seen.get(key)
                    except TypeError:  # unhashable: the base class reports it
                        continue
                    if first is not None:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", node.start_mark,
                            "found duplicate key %s (first given at line %d)" % (_short(key), first.line + 1),
                            key_node.start_mark)
                    seen[key] = key_node.start_mark
            return super(RosterLoader, self).construct_mapping(node, deep=deep)
else:  # pragma: no cover
    RosterLoader = None


def _oversized(document, limit=MAX_DOCUMENT_NODES):
    """'recursive' or 'too large' when the document is one of those, else None.

    Counts nodes as if every alias were expanded, memoized per object, so it is linear in the
    size of the parsed graph however much the aliases multiply it.
    """
    sizes = {}
    on_path = set()
    stack = [(document, False)]
    while stack:
        item, done = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        key = id(item)
        if done:
            on_path.discard(key)
            children = list(item.items()) if isinstance(item, dict) else item
            total = 1
            for child in (c for pair in children for c in pair) if isinstance(item, dict) else children:
                total += sizes.get(id(child), 1) if isinstance(child, (dict, list)) else 1
            sizes[key] = total
            if total > limit:
                return "too large"
            continue
        if key in sizes:
            continue
        if key in on_path:
            return "recursive"
        on_path.add(key)
        stack.append((item, True))
        values = item.values() if isinstance(item, dict) else item
        stack.extend((child, False) for child in values if isinstance(child, (dict, list)))
    return None


def parse_text(text, source="roster"):
    """Parse YAML (or JSON) text. Returns (document, [Violation]) with line and column on errors."""
    try:
        document = yaml.load(text, Loader=RosterLoader)  # nosec B506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or str(exc).splitlines()[0]
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        return None, [Violation(ROOT_PATH, "%s is not valid YAML%s: %s" % (source, where, problem))]
    except yaml.reader.ReaderError as exc:
        where = ""
        if isinstance(text, str) and isinstance(exc.position, int):
            line = text.count("\n", 0, exc.position) + 1
            column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
            where = " at line %d, column %d" % (line, column)
        return None, [Violation(ROOT_PATH, "%s is not valid YAML%s: %s" % (source, where, exc.reason))]
    except yaml.YAMLError as exc:
        return None, [Violation(ROOT_PATH, "%s is not valid YAML: %s" % (source, str(exc).splitlines()[0]))]
    except Exception as exc:  # yaml can raise ValueError/RecursionError on hostile input
        return None, [Violation(ROOT_PATH, "%s could not be parsed: %s: %s" % (source, type(exc).__name__, exc))]
    problem = _oversized(document)
    if problem == "recursive":
        return None, [Violation(ROOT_PATH, "%s refers to itself through a YAML alias" % source)]
    if problem:
        return None, [Violation(ROOT_PATH, "%s expands to more than %d values through YAML aliases"
                                % (source, MAX_DOCUMENT_NODES))]
    return document, []


def format_violations(violations):
    return "\n".join("  - %s: %s" % (v.path, v.message) for v in violations)


# --------------------------------------------------------------------------------------------
# command lines (THE runtime table, applied on the controller)

# What the controller cannot know and the host fills in: the fleet user's MOSAIC_HOME, the prompt
# (a header naming the mandate files that exist there, then the comms sheet rendered later) and
# the instruction files opencode is given (those that exist there).
HOST_PLACEHOLDERS = {
    "home": "<MOSAIC_HOME>",
    "tools": "<MOSAIC_HOME>/" + contract.TOOLS_DIR,
    "prompt": "<prompt>",
    "instruction_files": ["<instruction files>"],
}


def model_hint_violations(document, table=None):
    """Model hints their agent's runtime cannot take (``runtimes.hint_problem``). Tolerates any
    shape of input; agents with a ``command`` (which replaces the table) are not judged.

    A hint inherited from ``defaults.model_hint`` is reported there, naming the agent.
    """
    table = table or runtime_table.TABLE
    found = []
    if not isinstance(document, dict):
        return found
    defaults = _as_dict(document.get("defaults"))
    for index, agent in _agents(document):
        if "command" in agent:
            continue
        runtime = agent.get("runtime", defaults.get("runtime"))
        own = "model_hint" in agent
        hint = agent.get("model_hint") if own else defaults.get("model_hint")
        if not isinstance(runtime, str) or not isinstance(hint, str):
            continue
        problem = runtimes.hint_problem(table, runtime, hint)
        if problem is None:
            continue
        if own:
            found.append(Violation("agents[%d].model_hint" % index, "%s, for runtime %s" % (problem, runtime)))
        else:
            found.append(Violation("defaults.model_hint", "%s, for runtime %s of agents[%d]"
                                   % (problem, runtime, index)))
    return found


def sort_violations(violations):
    """Unique violations in path order (how :func:`validate` reports them)."""
    return sorted(set(violations), key=lambda v: (_path_sort_key(v.path), v.message))


def command_lines(normalized, table=None):
    """agent name -> ``{"argv", "env", "command_line"}``: what launch-agent will run for it.

    Resolved by the same code as on the host (``runtimes.resolve``), with
    :data:`HOST_PLACEHOLDERS` for what only the host knows. ``env`` lists the variables the
    launcher adds (``KEY=value``); ``command_line`` is both, shell-quoted, for people to read.
    """
    table = table or runtime_table.TABLE
    lines = {}
    for agent in normalized["agents"]:
        argv, env = runtimes.resolve(table, agent["runtime"], agent["model_hint"], agent["command"],
                                     HOST_PLACEHOLDERS)
        lines[agent["name"]] = {"argv": argv, "env": env,
                                "command_line": " ".join(shlex.quote(word) for word in env + argv)}
    return lines
