"""How long validating a 1,000-agent roster takes, next to plain jsonschema on the same document.

roster.validate = the schema (through the same jsonschema validator) + the fleet rules + the
normalization; "plain jsonschema" is a prebuilt validator for the same schema checking the same
document (``validator.validate(doc)``), and also the one-shot ``jsonschema.validate`` a script
would call. Prints best-of-N wall times and the ratios. Run with the venv's python
(``make bench``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEV = os.path.join(REPO, ".cache", "collections")
LINK = os.path.join(DEV, "ansible_collections", "mosaic", "fleet")
if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO, LINK)
sys.path.insert(0, DEV)

import jsonschema  # noqa: E402

from ansible_collections.mosaic.fleet.plugins.module_utils import roster  # noqa: E402

HOSTS = ["web%02d" % i for i in range(20)]


def big_roster(count):
    """A valid roster of ``count`` agents spread over 20 hosts, using every agent field."""
    agents = [
        {"name": "orchestrator", "class": "orchestrator", "runtime": "claude", "persistent_persona": True,
         "host": HOSTS[0]},
        {"name": "enhancer", "class": "enhancer", "runtime": "claude", "persistent_persona": True, "host": HOSTS[0]},
    ]
    classes = ["coder", "reviewer", "researcher", "analyst", "worker"]
    for i in range(count - 2):
        host = HOSTS[i % len(HOSTS)]
        agent = {"name": "agent-%04d" % i, "class": classes[i % len(classes)], "runtime": "pi",
                 "model_hint": "openai-codex/gpt-5.5:high", "host": host, "ssh": "fleet@%s.internal" % host}
        if i % 7 == 0:
            agent.update(socket="team-%d" % (i % 3), working_directory="~/src/project-%d" % i,
                         command="pi --no-session", persistent_persona=False)
        agents.append(agent)
    return {"version": 1, "tenant": "bench", "profile": "full",
            "tmux": {"socket_name": "mosaic-fleet", "holder_session": "mosaic-holder"},
            "defaults": {"working_directory": "~", "runtime": "pi"},
            "connector": {"kind": "tmux"}, "agents": agents}


def best_of(repeat, funcs):
    """Best wall time of each function over ``repeat`` rounds. The functions take turns within a
    round, so a busy machine slows them alike and the ratios stay meaningful."""
    best = [float("inf")] * len(funcs)
    for _round in range(repeat):
        for i, func in enumerate(funcs):
            start = time.perf_counter()
            func()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--max-ratio", type=float, default=0.0,
                        help="exit 1 when roster.validate is slower than this many times plain jsonschema")
    args = parser.parse_args()

    schema = roster.load_schema()
    document = big_roster(args.agents)
    normalized, violations = roster.validate(document, schema, HOSTS)
    if violations or len(normalized["agents"]) != args.agents:
        print("benchmark roster is not valid:\n" + roster.format_violations(violations))
        return 1
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate(document)

    ours, plain, oneshot = best_of(args.repeat, [
        lambda: roster.validate(document, schema, HOSTS),
        lambda: validator.validate(document),
        lambda: jsonschema.validate(document, schema),
    ])
    print("roster of %d agents, best of %d runs (jsonschema %s)"
          % (args.agents, args.repeat, _version()))
    print("  roster.validate (schema + rules + normalize + hosts): %8.2f ms" % (ours * 1000))
    print("  plain jsonschema, prebuilt validator:                 %8.2f ms" % (plain * 1000))
    print("  plain jsonschema.validate() (builds its validator):   %8.2f ms" % (oneshot * 1000))
    print("  ratio roster.validate / prebuilt jsonschema:          %8.2fx" % (ours / plain))
    print("  ratio roster.validate / jsonschema.validate():        %8.2fx" % (ours / oneshot))
    if args.max_ratio and ours / plain > args.max_ratio:
        print("roster.validate is more than %.1fx plain jsonschema" % args.max_ratio)
        return 1
    return 0


def _version():
    try:
        from importlib.metadata import version
        return version("jsonschema")
    except Exception:  # pragma: no cover - only for the heading
        return "?"


if __name__ == "__main__":
    sys.exit(main())
