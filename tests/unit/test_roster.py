"""The roster rules as pure functions: names, normalization, placement, hosts, profiles,
connectors, parsing."""

import copy

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import roster, supervision

SCHEMA = roster.load_schema()


def agent(name, klass="worker", runtime="pi", **extra):
    item = {"name": name, "class": klass, "runtime": runtime}
    item.update(extra)
    return item


def fleet(*workers, **top):
    document = {"version": 1, "agents": [agent("orchestrator", "orchestrator", "claude"),
                                         agent("enhancer", "enhancer", "claude")] + list(workers)}
    document.update(top)
    return document


def paths(violations):
    return [v.path for v in violations]


def ok(document, **kwargs):
    normalized, violations = roster.validate(document, SCHEMA, **kwargs)
    assert violations == [], roster.format_violations(violations)
    return normalized


def bad(document, **kwargs):
    normalized, violations = roster.validate(document, SCHEMA, **kwargs)
    assert normalized is None and violations
    return violations


# --- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", "coder0", "Coder_1", "0", "_private", "x-", "a-b_c", "c" * 48])
def test_name_problem_accepts_safe_names(name):
    assert roster.name_problem(name) is None


@pytest.mark.parametrize("name, fragment", [
    ("", "must not be empty"),
    ("c" * 49, "longer than 48"),
    ("-x", "must not start with '-'"),
    ("a.b", "'.'"),
    (".hidden", "'.'"),
    ("..", "'.'"),
    ("a:b", "':'"),
    ("a/b", "'/'"),
    ("a b", "only letters, digits"),
    ("a\n", "only letters, digits"),
    ("tab\there", "only letters, digits"),
    ("é", "only letters, digits"),
    ("a$b", "only letters, digits"),
    (7, "must be a string"),
    (None, "must be a string"),
])
def test_name_problem_refuses_unsafe_names(name, fragment):
    problem = roster.name_problem(name)
    assert problem is not None and fragment in problem


def test_name_equal_to_the_holder_session_is_refused_only_for_that_holder():
    assert paths(bad(fleet(agent("mosaic-holder")))) == ["agents[2].name"]
    ok(fleet(agent("mosaic-holder"), tmux={"holder_session": "keeper"}))
    assert paths(bad(fleet(agent("keeper"), tmux={"holder_session": "keeper"}))) == ["agents[2].name"]


def test_name_equal_to_the_connector_session_is_refused():
    assert paths(bad(fleet(agent("mosaic-connector")))) == ["agents[2].name"]


def test_duplicate_names_point_at_the_second_use():
    violations = bad(fleet(agent("w"), agent("x"), agent("w")))
    assert paths(violations) == ["agents[4].name"]
    assert "agents[2]" in violations[0].message


# --- normalize --------------------------------------------------------------------------------

def test_normalize_fills_every_default():
    normalized = ok({"version": 1, "profile": "minimal", "agents": [{"name": "solo", "runtime": "pi"}]})
    assert normalized == {
        "version": 1,
        "tenant": "default",
        "profile": "minimal",
        "transport": "tmux",
        "tmux": {"socket_name": "", "holder_session": "mosaic-holder"},
        "defaults": {"working_directory": "~"},
        "connector": {"kind": "tmux"},
        "agents": [{
            "name": "solo", "runtime": "pi", "class": "worker", "persistent_persona": False, "resume": False,
            "model_hint": "", "host": "localhost", "ssh": "", "socket": "", "working_directory": "~",
            "command": "", "supervision": supervision.DEFAULTS,
        }],
    }


def test_normalize_takes_agent_values_over_defaults_over_builtins():
    document = fleet(
        agent("a", runtime=None),
        agent("b", runtime="codex", model_hint="o3", host="h2", working_directory="/srv", socket="own",
              command="codex --yolo", ssh="fleet@h2", persistent_persona=True),
        tenant="acme",
        tmux={"socket_name": "fleet"},
        defaults={"runtime": "opencode", "model_hint": "m", "host": "h1", "working_directory": "~/w"})
    del document["agents"][2]["runtime"]
    agents = {a["name"]: a for a in ok(document)["agents"]}
    assert agents["a"] == {"name": "a", "runtime": "opencode", "class": "worker", "persistent_persona": False,
                           "resume": False, "model_hint": "m", "host": "h1", "ssh": "", "socket": "fleet",
                           "working_directory": "~/w", "command": "", "supervision": supervision.DEFAULTS}
    # persistent_persona agents resume by default
    assert agents["b"] == {"name": "b", "runtime": "codex", "class": "worker", "persistent_persona": True,
                           "resume": True, "model_hint": "o3", "host": "h2", "ssh": "fleet@h2", "socket": "own",
                           "working_directory": "/srv", "command": "codex --yolo", "supervision": supervision.DEFAULTS}


def test_empty_socket_override_means_the_default_socket():
    normalized = ok(fleet(agent("w", socket=""), tmux={"socket_name": "fleet"}))
    assert [a["socket"] for a in normalized["agents"]] == ["fleet", "fleet", ""]


def test_normalize_does_not_touch_its_input():
    document = fleet(agent("w"), connector={"kind": "discord", "discord": {"channel_id": "12345678"}})
    before = copy.deepcopy(document)
    normalized = ok(document)
    assert document == before
    normalized["connector"]["discord"]["channel_id"] = "0"
    assert document == before


def test_version_is_normalized_to_the_integer_one():
    assert ok(fleet(agent("w"), version=1.0))["version"] == 1
    assert paths(bad(fleet(agent("w"), version=True))) == ["version"]


# --- placement and hosts ----------------------------------------------------------------------

def test_placement_groups_agents_by_host_in_roster_order():
    normalized = ok(fleet(agent("w1", host="b"), agent("w2", host="a"), agent("w3", host="b"),
                          defaults={"host": "a"}))
    assert roster.placement(normalized) == {"a": ["orchestrator", "enhancer", "w2"], "b": ["w1", "w3"]}
    assert list(roster.placement(normalized)) == ["a", "b"]


def test_default_host_places_agents_without_host():
    normalized = ok(fleet(agent("w", host="web2")), default_host="web1")
    assert roster.placement(normalized) == {"web1": ["orchestrator", "enhancer"], "web2": ["w"]}


def test_defaults_host_wins_over_the_callers_default_host():
    normalized = ok(fleet(agent("w"), defaults={"host": "web3"}), default_host="web1")
    assert set(roster.placement(normalized)) == {"web3"}


def test_without_any_default_agents_land_on_localhost():
    assert set(roster.placement(ok(fleet(agent("w"))))) == {"localhost"}


def test_hosts_check_accepts_inventory_hosts():
    ok(fleet(agent("w", host="web2")), inventory_hosts=["web1", "web2"], default_host="web1")


def test_hosts_check_names_every_agent_off_the_inventory():
    violations = bad(fleet(agent("w1", host="web3"), agent("w2", host="web4")),
                     inventory_hosts=["web1"], default_host="web1")
    assert paths(violations) == ["agents[2].host", "agents[3].host"]
    assert "'web3' is not in the inventory (hosts: web1)" in violations[0].message


def test_hosts_check_blames_defaults_host_once():
    violations = bad(fleet(agent("w"), defaults={"host": "web9"}), inventory_hosts=["web1"])
    assert paths(violations) == ["defaults.host"]


def test_hosts_check_blames_agents_that_fall_back_to_a_missing_default():
    violations = bad(fleet(agent("w", host="web1")), inventory_hosts=["web1"])
    assert paths(violations) == ["agents[0]", "agents[1]"]
    assert "'localhost'" in violations[0].message


def test_hosts_check_with_an_empty_inventory_refuses_everything():
    assert len(bad(fleet(agent("w", host="a")), inventory_hosts=[])) == 3


def test_no_hosts_means_no_hosts_check():
    ok(fleet(agent("w", host="anywhere")))


def test_ssh_only_with_host():
    assert paths(bad(fleet(agent("w", ssh="fleet@web2")))) == ["agents[2].ssh"]
    assert paths(bad(fleet(agent("w", ssh="web2"), defaults={"host": "web2"}))) == ["agents[2].ssh"]
    ok(fleet(agent("w", host="web2", ssh="fleet@web2.lan")))


# --- the two-agent floor and profiles ---------------------------------------------------------

@pytest.mark.parametrize("profile", ["minimal", "canary"])
def test_exempt_profiles_skip_the_floor(profile):
    ok({"version": 1, "profile": profile, "agents": [agent("solo")]})
    ok({"version": 1, "profile": profile, "agents": [agent("o", "orchestrator"), agent("w")]})


@pytest.mark.parametrize("top", [{}, {"profile": "full"}])
def test_full_rosters_need_one_orchestrator_and_an_enhancer(top):
    document = dict({"version": 1, "agents": [agent("solo")]}, **top)
    messages = [v.message for v in bad(document)]
    assert len(messages) == 2
    assert any("'orchestrator'" in m for m in messages) and any("'enhancer'" in m for m in messages)


def test_class_defaults_to_worker_so_a_classless_roster_has_no_orchestrator():
    document = {"version": 1, "agents": [{"name": "a", "runtime": "pi"}]}
    assert paths(bad(document)) == ["agents", "agents"]


def test_two_orchestrators_are_refused_even_when_exempt():
    document = {"version": 1, "profile": "canary",
                "agents": [agent("a", "orchestrator"), agent("b", "orchestrator"), agent("c", "orchestrator")]}
    assert paths(bad(document)) == ["agents[1].class", "agents[2].class"]


def test_several_enhancers_are_fine():
    ok(fleet(agent("enhancer2", "enhancer")))


def test_runtime_comes_from_the_agent_or_defaults():
    document = fleet(agent("w"))
    del document["agents"][2]["runtime"]
    assert paths(bad(document)) == ["agents[2].runtime"]
    document["defaults"] = {"runtime": "stub"}
    assert ok(document)["agents"][2]["runtime"] == "stub"


# --- connectors -------------------------------------------------------------------------------

MATRIX = {"homeserver_url": "https://m.example.org", "user_id": "@bot:example.org", "room_id": "!r:example.org"}


@pytest.mark.parametrize("connector", [
    {"kind": "tmux"},
    {"kind": "matrix", "matrix": MATRIX},
    {"kind": "discord", "discord": {"channel_id": "123456789"}},
])
def test_consistent_connectors_pass(connector):
    assert ok(fleet(agent("w"), connector=connector))["connector"] == connector


def test_a_matrix_room_id_without_a_server_part_and_allowed_senders_pass():
    # Room version 12 ids have no ':server' part (Synapse 1.163 creates them so).
    block = dict(MATRIX, room_id="!gehNRQeVOyZZsLMHkC8tRAohmrBeXK9hVkQbf0DjgYo",
                 allowed_senders=["@alice:example.org", "@bob:matrix.example.org"])
    connector = {"kind": "matrix", "matrix": block}
    assert ok(fleet(agent("w"), connector=connector))["connector"] == connector


@pytest.mark.parametrize("senders, expected", [
    (["alice"], "connector.matrix.allowed_senders[0]"),
    (["@alice:example.org", "@bad"], "connector.matrix.allowed_senders[1]"),
    (["@a:example.org", "@a:example.org"], "connector.matrix.allowed_senders"),
    ("@alice:example.org", "connector.matrix.allowed_senders"),
    (["@alice:example.org\x00"], "connector.matrix.allowed_senders[0]"),
])
def test_bad_allowed_senders_are_refused_at_their_path(senders, expected):
    assert expected in paths(bad(fleet(agent("w"), connector={
        "kind": "matrix", "matrix": dict(MATRIX, allowed_senders=senders)})))


@pytest.mark.parametrize("room_id", ["!", "r:example.org", "!a b", "!:example.org"])
def test_bad_room_ids_are_refused(room_id):
    assert "connector.matrix.room_id" in paths(bad(fleet(agent("w"), connector={
        "kind": "matrix", "matrix": dict(MATRIX, room_id=room_id)})))


@pytest.mark.parametrize("connector, expected", [
    ({"kind": "matrix"}, ["connector.matrix"]),
    ({"kind": "matrix", "matrix": {"room_id": "!r:example.org"}},
     ["connector.matrix.homeserver_url", "connector.matrix.user_id"]),
    ({"kind": "discord"}, ["connector.discord"]),
    ({"kind": "discord", "discord": {}}, ["connector.discord.channel_id"]),
    ({"kind": "tmux", "discord": {"channel_id": "123456789"}}, ["connector.discord"]),
    ({"kind": "discord", "discord": {"channel_id": "123456789"}, "matrix": MATRIX}, ["connector.matrix"]),
    ({"kind": "irc"}, ["connector.kind"]),
    ({}, ["connector.kind"]),
])
def test_inconsistent_connectors_fail(connector, expected):
    assert paths(bad(fleet(agent("w"), connector=connector))) == expected


# --- reporting --------------------------------------------------------------------------------

def test_every_violation_is_reported_in_path_order():
    document = fleet(agent("w", runtime="gpt", token="x"), agent("-bad"), tenant=5)
    document["agents"].append(agent("w10", klass="orchestrator"))
    violations = bad(document)
    assert paths(violations) == ["agents[2].runtime", "agents[2].token", "agents[3].name",
                                 "agents[4].class", "tenant"]


def test_validate_loads_the_collection_schema_by_default():
    normalized, violations = roster.validate(fleet(agent("w")))
    assert violations == [] and normalized["agents"][2]["name"] == "w"


def test_control_characters_are_refused_in_free_text():
    violations = bad(fleet(agent("w", command="pi\n--x", host="h\t", working_directory="~/\x00")))
    assert paths(violations) == ["agents[2].command", "agents[2].host", "agents[2].host",
                                 "agents[2].working_directory"]


@pytest.mark.parametrize("parts, expected", [
    ([], "(root)"),
    (["version"], "version"),
    (["agents", 2, "runtime"], "agents[2].runtime"),
    (["connector", "matrix", "room_id"], "connector.matrix.room_id"),
])
def test_format_path(parts, expected):
    assert roster.format_path(parts) == expected


def test_format_path_reads_integer_mapping_keys_as_keys():
    assert roster.format_path([1], {1: "x"}) == "1"
    assert roster.format_path(["agents", 0, 3], {"agents": [{3: "x"}]}) == "agents[0].3"


def test_format_violations():
    text = roster.format_violations([roster.Violation("version", "must be 1 (got 2)")])
    assert text == "  - version: must be 1 (got 2)"


def test_long_values_are_cut_in_messages():
    violations = bad(fleet(agent("w", host=["h" * 500] * 500)))
    assert len(violations[0].message) < 200


# --- parsing ----------------------------------------------------------------------------------

def test_parse_text_reads_yaml_and_json():
    assert roster.parse_text("version: 1\nagents: []\n") == ({"version": 1, "agents": []}, [])
    assert roster.parse_text('{"version": 1, "agents": []}') == ({"version": 1, "agents": []}, [])


def test_parse_error_has_line_and_column():
    _document, violations = roster.parse_text("version: 1\nagents:\n  - name: a\n   runtime: pi\n", "r.yaml")
    assert violations == [roster.Violation(
        "(root)", "r.yaml is not valid YAML at line 4, column 4: did not find expected '-' indicator")]


def test_unreadable_characters_have_line_and_column():
    _document, violations = roster.parse_text("version: 1\nagents: [\x07]\n")
    assert "line 2, column 10" in violations[0].message


def test_duplicate_keys_are_errors_but_merge_keys_are_not():
    _document, violations = roster.parse_text("a: 1\nb: 2\na: 3\n")
    assert "line 3, column 1: found duplicate key 'a' (first given at line 1)" in violations[0].message
    document, violations = roster.parse_text("base: &b {x: 1, y: 2}\nother: {<<: *b, y: 3}\n")
    assert violations == [] and document["other"] == {"x": 1, "y": 3}


def test_alias_bombs_are_refused_before_validation():
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        lines.append("l%d: &l%d [%s]" % (level, level, ", ".join(["*l%d" % (level - 1)] * 10)))
    _document, violations = roster.parse_text("\n".join(lines))
    assert "expands to more than" in violations[0].message


def test_shared_aliases_below_the_bound_are_fine():
    document, violations = roster.parse_text("w: &w {runtime: pi}\nagents: [*w, *w, *w]\n")
    assert violations == [] and document["agents"] == [{"runtime": "pi"}] * 3


def test_a_discord_connector_needs_a_claude_orchestrator_and_snowflake_senders():
    discord = {"kind": "discord", "discord": {"channel_id": "12345678", "allowed_senders": ["184695080709324800"]}}
    ok(fleet(agent("w"), connector=discord))
    document = fleet(agent("w"), connector=discord)
    document["agents"][0]["runtime"] = "pi"
    violations = bad(document)
    assert paths(violations) == ["connector.kind"]
    assert "needs an orchestrator on runtime claude (the orchestrator orchestrator runs pi)" in violations[0].message
    document = fleet(agent("w"), connector=dict(discord, discord={"channel_id": "12345678",
                                                                  "allowed_senders": ["@alice:example.org"]}))
    assert paths(bad(document)) == ["connector.discord.allowed_senders[0]"]
