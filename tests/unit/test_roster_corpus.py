"""Every malformed roster in tests/rosters/bad/ is rejected at the path its header names; every
roster in tests/rosters/good/ and every shipped preset is accepted.

Header comments of a corpus file:
  # expect: <path>      a violation's path must equal it or lie under it (required, first line)
  # hosts: a,b          validate with these inventory hosts (placement checks)
  # message: <regex>    some violation's message must match it (re.search)
"""

import glob
import os
import re

import pytest

from ansible_collections.mosaic.fleet.plugins.module_utils import mandate, roster

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(os.path.dirname(HERE), "rosters")
BAD = sorted(glob.glob(os.path.join(CORPUS, "bad", "*.yaml")))
GOOD = sorted(glob.glob(os.path.join(CORPUS, "good", "*.yaml")) + glob.glob(os.path.join(CORPUS, "good", "*.json")))
HEADER = re.compile(r"^# (expect|hosts|message): (.*)$")


def read_header(text):
    header = {}
    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            header[match.group(1)] = match.group(2).strip()
    return header


def check(text, source, header):
    """(normalized or None, violations) the way fleet_roster checks a file."""
    document, violations = roster.parse_text(text, source)
    if violations:
        return None, violations
    hosts = header["hosts"].split(",") if "hosts" in header else None
    return roster.validate(document, roster.load_schema(), hosts)


def under(path, expected):
    return path == expected or path.startswith(expected + ".") or path.startswith(expected + "[")


def test_corpus_is_large_enough():
    assert len(BAD) >= 45
    assert len(GOOD) >= 4


@pytest.mark.parametrize("path", BAD, ids=os.path.basename)
def test_bad_roster_is_rejected_at_its_path(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert text.startswith("# expect: "), "the first line must say which path the error names"
    header = read_header(text)
    normalized, violations = check(text, os.path.basename(path), header)
    assert normalized is None
    assert violations, "a bad roster must be rejected"
    for violation in violations:
        assert isinstance(violation.path, str) and violation.path
        assert isinstance(violation.message, str) and violation.message
    paths = [v.path for v in violations]
    assert any(under(p, header["expect"]) for p in paths), (
        "expected a violation at %s, got:\n%s" % (header["expect"], roster.format_violations(violations)))
    if "message" in header:
        assert any(re.search(header["message"], v.message) for v in violations
                   if under(v.path, header["expect"])), roster.format_violations(violations)


@pytest.mark.parametrize("path", [p for p in BAD if os.path.basename(p).startswith("yaml-")], ids=os.path.basename)
def test_yaml_syntax_errors_name_the_file(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    _document, violations = roster.parse_text(text, "roster.yaml")
    assert [v.path for v in violations] == [roster.ROOT_PATH]
    assert violations[0].message.startswith("roster.yaml ")


@pytest.mark.parametrize("path", GOOD, ids=os.path.basename)
def test_good_roster_is_accepted(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    header = read_header(text)
    normalized, violations = check(text, os.path.basename(path), header)
    assert violations == [], roster.format_violations(violations)
    assert normalized["version"] == 1
    assert normalized["agents"]
    if "hosts" in header:
        assert set(roster.placement(normalized)) <= set(header["hosts"].split(","))


def test_presets_are_the_documented_set():
    assert roster.preset_names() == ["coding", "general", "hybrid", "local-canary", "minimal", "research"]


@pytest.mark.parametrize("name", roster.preset_names())
def test_every_preset_validates(name):
    with open(os.path.join(roster.presets_dir(), name + ".yaml"), encoding="utf-8") as handle:
        document, violations = roster.parse_text(handle.read(), name)
    assert violations == []
    normalized, violations = roster.validate(document, roster.load_schema())
    assert violations == [], roster.format_violations(violations)
    assert normalized["tmux"]["socket_name"] == "mosaic-fleet"
    assert {a["socket"] for a in normalized["agents"]} == {"mosaic-fleet"}


def _preset(name):
    with open(os.path.join(roster.presets_dir(), name + ".yaml"), encoding="utf-8") as handle:
        document, violations = roster.parse_text(handle.read(), name)
    assert violations == []
    normalized, violations = roster.validate(document, roster.load_schema())
    assert violations == []
    return normalized


EXPECTED_PRESETS = {
    "general": ["orchestrator", "enhancer", "generalist"],
    "coding": ["orchestrator", "enhancer", "coder0", "coder1", "reviewer"],
    "research": ["orchestrator", "enhancer", "researcher0", "researcher1", "analyst"],
    "hybrid": ["orchestrator", "enhancer", "coder0", "researcher0", "reviewer"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PRESETS))
def test_full_presets(name):
    normalized = _preset(name)
    agents = normalized["agents"]
    assert [a["name"] for a in agents] == EXPECTED_PRESETS[name]
    assert normalized["profile"] == "full"
    assert [a["class"] for a in agents].count("orchestrator") == 1
    assert [a["class"] for a in agents].count("enhancer") == 1
    for agent in agents:
        if agent["class"] in ("orchestrator", "enhancer"):
            assert (agent["runtime"], agent["persistent_persona"]) == ("claude", True)
        else:
            assert (agent["runtime"], agent["model_hint"]) == ("pi", "openai-codex/gpt-5.5:high")


def test_coding_preset_has_five_agents_one_orchestrator_one_enhancer():
    agents = _preset("coding")["agents"]
    classes = [a["class"] for a in agents]
    assert len(agents) == 5
    assert classes.count("orchestrator") == 1
    assert classes.count("enhancer") == 1


def test_minimal_preset_is_a_single_exempt_worker():
    normalized = _preset("minimal")
    assert normalized["profile"] == "minimal"
    assert len(normalized["agents"]) == 1
    assert normalized["agents"][0]["class"] not in ("orchestrator", "enhancer")


def test_local_canary_runs_everything_on_the_stub_runtime():
    normalized = _preset("local-canary")
    assert normalized["profile"] == "canary"
    assert sorted(a["class"] for a in normalized["agents"])[:2] == ["enhancer", "orchestrator"]
    assert len(normalized["agents"]) == 3
    assert {a["runtime"] for a in normalized["agents"]} == {"stub"}


# --- the seed fleet's rosters -----------------------------------------------------------------
# tests/rosters/good/seed-<preset>.yaml are byte-for-byte copies of the seed fleet's rosters kept
# in ../shared/seed-rosters/ (beside the checkout; see its README.md). They must validate unchanged.

SEED_ORIGINALS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "shared", "seed-rosters")
SEED = {os.path.basename(p)[len("seed-"):]: p for p in GOOD if os.path.basename(p).startswith("seed-")}


def test_the_seed_rosters_are_in_the_corpus():
    assert sorted(SEED) == ["coding.yaml", "cross-host.yaml", "general.yaml", "hybrid.yaml", "research.yaml"]


@pytest.mark.skipif(not os.path.isdir(SEED_ORIGINALS), reason="../shared/seed-rosters is not beside the checkout")
def test_the_seed_rosters_are_verbatim_copies():
    originals = sorted(n for n in os.listdir(SEED_ORIGINALS) if n.endswith(".yaml"))
    assert originals == sorted(SEED)
    for name in originals:
        with open(os.path.join(SEED_ORIGINALS, name), "rb") as original, open(SEED[name], "rb") as copy:
            assert copy.read() == original.read(), name


@pytest.mark.parametrize("name", sorted(SEED))
def test_a_seed_roster_validates_unchanged_without_warnings(name):
    with open(SEED[name], encoding="utf-8") as handle:
        document, violations = roster.parse_text(handle.read(), name)
    assert violations == []
    normalized, violations = roster.validate(document, roster.load_schema())
    assert violations == [], roster.format_violations(violations)
    # Every class the seed uses has a mandate the framework ships (implementer: the coder's).
    assert mandate.operator_mandates(normalized) == []
    written = {a["name"]: a.get("class") for a in document["agents"]}
    assert {a["name"]: a["class"] for a in normalized["agents"]} == written  # classes kept as written


def test_the_seeds_implementers_read_the_coders_mandate():
    with open(SEED["coding.yaml"], encoding="utf-8") as handle:
        normalized, _violations = roster.validate(roster.parse_text(handle.read())[0], roster.load_schema())
    implementers = [a["name"] for a in normalized["agents"] if a["class"] == "implementer"]
    assert implementers == ["coder0", "coder1"]
    assert mandate.framework_mandate("implementer") == "fleet/roles/coder.md"


def test_a_custom_class_validates_and_is_listed_for_a_warning():
    with open(os.path.join(CORPUS, "good", "custom-class.yaml"), encoding="utf-8") as handle:
        normalized, violations = roster.validate(roster.parse_text(handle.read())[0], roster.load_schema())
    assert violations == []
    assert [(e["class"], e["file"], e["agents"]) for e in mandate.operator_mandates(normalized)] == [
        ("auditor", "fleet/roles/auditor.local.md", ["audit0"]),
        ("Site_Reliability-2", "fleet/roles/Site_Reliability-2.local.md", ["sre_0"]),
    ]
