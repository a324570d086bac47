"""Property tests: no input makes parsing or validation raise, and every near-valid roster (a
valid one with one mutation) is rejected at the mutated path."""

import copy
import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.mosaic.fleet.plugins.module_utils import mandate, roster

SCHEMA = roster.load_schema()
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- arbitrary input --------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
keys = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False),
                 st.sampled_from(["version", "agents", "tmux", "defaults", "connector", "name", "runtime",
                                  "class", "host", "ssh", "matrix", "discord", "kind", "profile"]))
json_like = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)), max_leaves=30)
# Documents that look roughly like rosters, so the rules behind the schema get exercised too.
roster_like = st.fixed_dictionaries({"version": st.one_of(st.just(1), scalars), "agents": st.lists(
    st.dictionaries(st.sampled_from(["name", "runtime", "class", "host", "ssh", "socket", "token"]),
                    st.one_of(scalars, st.sampled_from(["orchestrator", "enhancer", "pi", "stub", "a", "-"])),
                    max_size=6), max_size=5)},
    optional={"profile": st.sampled_from(["full", "minimal", "canary", 3]),
              "tmux": st.dictionaries(st.sampled_from(["socket_name", "holder_session", "x"]), scalars),
              "defaults": st.dictionaries(st.sampled_from(["runtime", "host", "working_directory", "y"]), scalars),
              "connector": st.dictionaries(st.sampled_from(["kind", "matrix", "discord", "z"]),
                                           st.one_of(scalars, st.sampled_from(["matrix", "discord", "tmux"]),
                                                     st.dictionaries(st.text(max_size=15), scalars)))})
host_lists = st.one_of(st.none(), st.lists(st.one_of(st.text(max_size=8), st.integers()), max_size=4))


def assert_clean_outcome(result):
    normalized, violations = result
    assert isinstance(violations, list)
    if normalized is None:
        assert violations, "a rejected roster must say why"
        for violation in violations:
            assert isinstance(violation, roster.Violation)
            assert isinstance(violation.path, str) and violation.path
            assert isinstance(violation.message, str) and violation.message
    else:
        assert violations == []
        assert isinstance(normalized, dict) and normalized["version"] == 1
        names = [a["name"] for a in normalized["agents"]]
        assert len(names) == len(set(names))
        assert sum(len(v) for v in roster.placement(normalized).values()) == len(names)


@FAST
@given(st.text(max_size=300))
def test_parse_text_never_raises(text):
    document, violations = roster.parse_text(text)
    assert isinstance(violations, list)
    if violations:
        assert document is None
        assert [v.path for v in violations] == [roster.ROOT_PATH]
    else:
        assert_clean_outcome(roster.validate(document, SCHEMA))


YAML_PIECES = list(":-[]{}'\"#&*!|>%@`,? \n\t")
YAML_PIECES += ["version: 1", "agents:", "  - name: ", "<<: ", "&a ", "*a", "\x00", "\u2028"]
yaml_ish = st.lists(st.sampled_from(YAML_PIECES), max_size=40).map("".join)


@FAST
@given(yaml_ish)
def test_parse_text_never_raises_on_yaml_punctuation(text):
    document, violations = roster.parse_text(text)
    if not violations:
        assert_clean_outcome(roster.validate(document, SCHEMA))


@FAST
@given(json_like, host_lists, st.one_of(st.none(), st.text(max_size=8)))
def test_validate_never_raises_on_arbitrary_values(document, hosts, default_host):
    assert_clean_outcome(roster.validate(document, SCHEMA, hosts, default_host))


@FAST
@given(roster_like, host_lists)
def test_validate_never_raises_on_roster_like_values(document, hosts):
    assert_clean_outcome(roster.validate(document, SCHEMA, hosts))


@FAST
@given(json_like)
def test_dumped_values_parse_and_validate_cleanly(value):
    try:
        text = yaml.safe_dump(value)
    except yaml.YAMLError:
        return
    document, violations = roster.parse_text(text)
    if not violations:
        assert_clean_outcome(roster.validate(document, SCHEMA))


# --- near-valid rosters -----------------------------------------------------------------------

HOSTS = ["web1", "web2", "web3"]
HOLDERS = ["mosaic-holder", "keeper"]
names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,15}", fullmatch=True).filter(lambda n: n not in HOLDERS)
socket_names = st.from_regex(r"([A-Za-z0-9_][A-Za-z0-9_.-]{0,10})?", fullmatch=True)
free_text = st.text(alphabet=string.ascii_letters + string.digits + " ~/._-", min_size=1, max_size=20)
model_hints = st.from_regex(r"[A-Za-z0-9/._:-]{0,20}", fullmatch=True)
WORKER_CLASSES = ["generalist", "coder", "reviewer", "security-reviewer", "researcher", "analyst", "board",
                  "operations", "worker", "implementer"]
# Any class that follows the name rule is accepted; only these two count for the floor.
custom_classes = st.from_regex(mandate.CLASS_PATTERN, fullmatch=True).filter(
    lambda c: c not in ("orchestrator", "enhancer"))
worker_classes = st.one_of(st.sampled_from(WORKER_CLASSES), custom_classes)


@st.composite
def valid_rosters(draw):
    """(roster, inventory hosts, default host) that validate cleanly."""
    profile = draw(st.sampled_from([None, "full", "minimal", "canary"]))
    exempt = profile in roster.EXEMPT_PROFILES
    count = draw(st.integers(1 if exempt else 2, 6))
    agent_names = draw(st.lists(names, min_size=count, max_size=count, unique=True))
    if exempt:
        classes = draw(st.lists(st.one_of(worker_classes, st.just("enhancer")), min_size=count, max_size=count))
        if draw(st.booleans()):
            classes[0] = "orchestrator"
    else:
        classes = ["orchestrator", "enhancer"] + draw(st.lists(
            st.one_of(worker_classes, st.just("enhancer")), min_size=count - 2, max_size=count - 2))
    classes = draw(st.permutations(classes))
    document = {"version": 1}
    if profile is not None:
        document["profile"] = profile
    if draw(st.booleans()):
        document["tenant"] = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True))
    if draw(st.booleans()):
        document["tmux"] = {"socket_name": draw(socket_names), "holder_session": draw(st.sampled_from(HOLDERS))}
    defaults = {}
    if draw(st.booleans()):
        defaults["runtime"] = draw(st.sampled_from(roster.RUNTIMES))
    if draw(st.booleans()):
        defaults["host"] = draw(st.sampled_from(HOSTS))
    if draw(st.booleans()):
        defaults["working_directory"] = draw(free_text)
    if defaults or draw(st.booleans()):
        document["defaults"] = defaults
    document["connector"] = draw(st.sampled_from([
        {"kind": "tmux"},
        {"kind": "discord", "discord": {"channel_id": "123456789012"}},
        {"kind": "matrix", "matrix": {"homeserver_url": "https://m.example.org", "user_id": "@f:example.org",
                                      "room_id": "!r:example.org"}}]))
    agents = []
    for name, klass in zip(agent_names, classes):
        agent = {"name": name, "class": klass}
        if "runtime" not in defaults or draw(st.booleans()):
            agent["runtime"] = draw(st.sampled_from(roster.RUNTIMES))
        if draw(st.booleans()):
            agent["host"] = draw(st.sampled_from(HOSTS))
            if draw(st.booleans()):
                agent["ssh"] = "fleet@" + agent["host"]
        for key, strategy in (("model_hint", model_hints), ("socket", socket_names),
                              ("working_directory", free_text), ("command", free_text),
                              ("persistent_persona", st.booleans())):
            if draw(st.integers(0, 3)) == 0:
                agent[key] = draw(strategy)
        if klass == "orchestrator" and document["connector"]["kind"] == "discord":
            agent["runtime"] = "claude"  # Claude Code's Discord channel plugin is that connector
        agents.append(agent)
    document["agents"] = agents
    return document, HOSTS, draw(st.sampled_from(HOSTS))


@FAST
@given(valid_rosters())
def test_generated_rosters_are_valid(case):
    document, hosts, default_host = case
    before = copy.deepcopy(document)
    normalized, violations = roster.validate(document, SCHEMA, hosts, default_host)
    assert violations == [], roster.format_violations(violations)
    assert document == before
    assert_clean_outcome((normalized, violations))
    for agent in normalized["agents"]:
        assert set(agent) == {"name", "runtime", "class", "persistent_persona", "resume", "model_hint", "host", "ssh",
                              "socket", "working_directory", "command", "supervision"}
        assert agent["runtime"] in roster.RUNTIMES and agent["host"] in hosts


# Each mutation breaks one rule and returns the path the rejection must name.

def _index(draw, document):
    return draw(st.integers(0, len(document["agents"]) - 1))


def drop_version(draw, document):
    del document["version"]
    return "version"


def change_version(draw, document):
    document["version"] = draw(st.one_of(st.integers().filter(lambda v: v != 1), st.text(max_size=3),
                                         st.none(), st.booleans(), st.lists(st.integers(), max_size=2)))
    return "version"


def unknown_top_key(draw, document):
    key = draw(st.sampled_from(["token", "secrets", "agent", "hosts", "Version"]))
    document[key] = draw(scalars)
    return key


def empty_agents(draw, document):
    document["agents"] = []
    return "agents"


def agents_not_a_list(draw, document):
    document["agents"] = draw(st.one_of(st.text(max_size=5), st.integers(), st.none(),
                                        st.dictionaries(st.text(max_size=5), scalars, max_size=2)))
    return "agents"


def unknown_agent_key(draw, document):
    index = _index(draw, document)
    key = draw(st.sampled_from(["token", "api_key", "password", "Name", "hosts", "model"]))
    document["agents"][index][key] = draw(scalars)
    return "agents[%d].%s" % (index, key)


def unknown_runtime(draw, document):
    index = _index(draw, document)
    document["agents"][index]["runtime"] = draw(st.one_of(
        st.text(max_size=10).filter(lambda r: r not in roster.RUNTIMES), st.integers(), st.none()))
    return "agents[%d].runtime" % index


def bad_name(draw, document):
    index = _index(draw, document)
    document["agents"][index]["name"] = draw(st.one_of(
        st.text(max_size=60).filter(lambda n: roster.name_problem(n) is not None),
        st.sampled_from(["..", ".", "a.b", "a/b", "-x", "", "x" * 49, "a b", "a\n"]),
        st.integers(), st.none(), st.booleans()))
    return "agents[%d].name" % index


def duplicate_name(draw, document):
    agents = document["agents"]
    if len(agents) < 2:
        return holder_name(draw, document)
    first = draw(st.integers(0, len(agents) - 2))
    second = draw(st.integers(first + 1, len(agents) - 1))
    agents[second]["name"] = agents[first]["name"]
    return "agents[%d].name" % second


def holder_name(draw, document):
    index = _index(draw, document)
    document["agents"][index]["name"] = document.get("tmux", {}).get("holder_session", "mosaic-holder")
    return "agents[%d].name" % index


def missing_name(draw, document):
    index = _index(draw, document)
    del document["agents"][index]["name"]
    return "agents[%d].name" % index


def second_orchestrator(draw, document):
    agents = document["agents"]
    classes = [a.get("class") for a in agents]
    if "orchestrator" not in classes or len(agents) < 2:
        return unknown_runtime(draw, document)
    first = classes.index("orchestrator")
    other = draw(st.sampled_from([i for i in range(len(agents)) if i != first]))
    agents[other]["class"] = "orchestrator"
    return "agents[%d].class" % max(first, other)


def lose_the_floor(draw, document):
    if document.get("profile") in roster.EXEMPT_PROFILES:
        document["profile"] = "full"
        if draw(st.booleans()):
            del document["profile"]
    klass = draw(st.sampled_from(["orchestrator", "enhancer"]))
    for agent in document["agents"]:
        if agent.get("class") == klass:
            agent["class"] = "worker"
    # Without either class nothing else may be wrong: the floor is reported at "agents".
    return "agents"


def ssh_without_host(draw, document):
    index = _index(draw, document)
    agent = document["agents"][index]
    agent.pop("host", None)
    agent["ssh"] = "fleet@web1"
    return "agents[%d].ssh" % index


def host_off_inventory(draw, document):
    index = _index(draw, document)
    document["agents"][index]["host"] = draw(st.sampled_from(["web4", "db1", "localhost"]))
    return "agents[%d].host" % index


def wrong_type(draw, document):
    targets = [("tenant", st.one_of(st.integers(), st.booleans(), st.lists(st.text(max_size=3), max_size=2))),
               ("tmux", st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), max_size=2))),
               ("defaults", st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), max_size=2))),
               ("connector", st.one_of(st.text(max_size=5), st.integers(), st.booleans())),
               ("profile", st.one_of(st.integers(), st.text(max_size=5).filter(
                   lambda p: p not in ("full", "minimal", "canary"))))]
    key, strategy = draw(st.sampled_from(targets))
    document[key] = draw(strategy)
    return key


def wrong_agent_type(draw, document):
    index = _index(draw, document)
    key, strategy = draw(st.sampled_from([
        ("persistent_persona", st.one_of(st.text(max_size=3), st.integers(), st.none())),
        ("host", st.one_of(st.integers(), st.lists(st.sampled_from(HOSTS), max_size=2), st.just(""))),
        ("socket", st.one_of(st.integers(), st.booleans(), st.just("/tmp/x"))),
        ("working_directory", st.one_of(st.integers(), st.just(""), st.just("~/a\nb"))),
        ("command", st.one_of(st.just(""), st.lists(st.text(max_size=3), max_size=2), st.just("a\tb"))),
        ("model_hint", st.one_of(st.integers(), st.just("a b"), st.just("x$y"))),
        ("class", st.one_of(st.integers(), st.none(), st.lists(st.just("coder"), max_size=2),
                            st.sampled_from(["coder.local", "../coder", "-x", "", "a b", "x" * 49, "coder\n", "é"]),
                            st.text(max_size=60).filter(lambda c: not mandate.valid_class(c)))),
    ]))
    document["agents"][index][key] = draw(strategy)
    if key == "class":
        return "agents"  # a bad class may also break the floor; it is still reported under agents
    return "agents[%d].%s" % (index, key)


def connector_without_block(draw, document):
    kind = draw(st.sampled_from(["matrix", "discord"]))
    document["connector"] = {"kind": kind}
    return "connector.%s" % kind


def connector_missing_field(draw, document):
    kind, fields = draw(st.sampled_from([("matrix", ["homeserver_url", "user_id", "room_id"]),
                                         ("discord", ["channel_id"])]))
    block = {"homeserver_url": "https://m.example.org", "user_id": "@f:example.org", "room_id": "!r:example.org",
             "channel_id": "123456789"}
    block = {f: block[f] for f in fields}
    missing = draw(st.sampled_from(fields))
    del block[missing]
    document["connector"] = {"kind": kind, kind: block}
    return "connector.%s.%s" % (kind, missing)


MUTATIONS = [drop_version, change_version, unknown_top_key, empty_agents, agents_not_a_list, unknown_agent_key,
             unknown_runtime, bad_name, duplicate_name, holder_name, missing_name, second_orchestrator,
             lose_the_floor, ssh_without_host, host_off_inventory, wrong_type, wrong_agent_type,
             connector_without_block, connector_missing_field]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_rosters(), st.sampled_from(MUTATIONS), st.data())
def test_near_valid_rosters_are_rejected_at_the_mutation(case, mutation, data):
    document, hosts, default_host = case
    document = copy.deepcopy(document)
    expected = mutation(data.draw, document)
    normalized, violations = roster.validate(document, SCHEMA, hosts, default_host)
    assert_clean_outcome((normalized, violations))
    assert normalized is None, "%s was accepted: %r" % (mutation.__name__, document)
    found = [v.path for v in violations]
    assert any(p == expected or p.startswith(expected + ".") or p.startswith(expected + "[") for p in found), (
        "%s: expected %s in %s" % (mutation.__name__, expected, found))


@FAST
@given(valid_rosters(), json_like, st.data())
def test_replacing_any_node_never_raises(case, value, data):
    """Swap one node of a valid roster for an arbitrary value: a clean outcome either way."""
    document, hosts, default_host = case
    document = copy.deepcopy(document)
    spots = [(document, key) for key in document]
    spots += [(agent, key) for agent in document["agents"] for key in agent]
    spots += [(document["agents"], i) for i in range(len(document["agents"]))]
    for block in ("tmux", "defaults", "connector"):
        if isinstance(document.get(block), dict):
            spots += [(document[block], key) for key in document[block]]
    container, key = data.draw(st.sampled_from(spots))
    container[key] = value
    assert_clean_outcome(roster.validate(document, SCHEMA, hosts, default_host))
