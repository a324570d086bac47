#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: mosaic.fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""demo-matrix.py up|down: `make demo`'s fleet talking to a local Matrix homeserver.

Run as the user who ran `make demo` (not root: the demo's fleet lives in ~/.mosaic-demo).
`up` starts Synapse on loopback (the test homeserver: scripts/test-synapse.sh, data in
~/.mosaic-demo/synapse), registers an operator and the fleet's bot, makes a room, stands the
demo's fleet up again with `connector: {kind: matrix}` (the bot's token as a secret, never in
the roster), then plays both sides: the operator writes in the room (the client-server API, as
curl would), the message reaches the stub orchestrator's pane with its preamble, the
orchestrator answers with `connector reply`, and the room is read back as the operator sees it.
`down` switches the fleet back to `connector: {kind: tmux}` (the connector's session goes) and
stops Synapse. Every command it runs is printed.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.parse

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from matrix_util import Synapse, request  # noqa: E402  pylint: disable=wrong-import-position

HOME = os.path.join(os.path.expanduser("~"), ".mosaic-demo")
MOSAIC_HOME = os.path.join(HOME, ".config", "mosaic")
STATE = os.path.join(HOME, "matrix-demo.json")      # Synapse's pid, url, the users, the room
SECRETS = os.path.join(HOME, "matrix-secrets.json")  # mosaic_fleet_secrets (0600)
ROSTER = os.path.join(HOME, "roster.yaml")           # written by scripts/demo.sh
MATRIX_ROSTER = os.path.join(HOME, "roster-matrix.yaml")
SOCKET = "mosaic-demo"


def say(text):
    print("\n\033[1m== %s\033[0m" % text, flush=True)


def show(argv):
    print("$ " + " ".join(shlex.quote(a) for a in argv), flush=True)


def fleet_env():
    return dict(os.environ, HOME=HOME, MOSAIC_HOME=MOSAIC_HOME, ANSIBLE_REMOTE_TMP=os.path.join(HOME, ".ansible", "tmp"),
                PATH=os.path.join(REPO, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""),
                ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH",
                                                        os.path.join(REPO, ".cache", "collections")),
                ANSIBLE_CONFIG=os.environ.get("ANSIBLE_CONFIG", os.path.join(REPO, "ansible.cfg")),
                ANSIBLE_DEPRECATION_WARNINGS="False", PYTHONDONTWRITEBYTECODE="1")


def playbook(*extra):
    argv = ["ansible-playbook", "-i", os.path.join(HOME, "inventory.yml"), "mosaic.fleet.fleet"] + list(extra)
    show(argv)
    proc = subprocess.run(argv, env=fleet_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(proc.stdout[-4000:] + proc.stderr[-2000:] + "\ndemo-matrix: ansible-playbook failed")
    print(proc.stdout[proc.stdout.index("PLAY RECAP"):].strip())


def run(argv, stdin=None):
    show(argv)
    proc = subprocess.run(argv, env=fleet_env(), input=stdin, capture_output=True, text=True, check=False)
    print((proc.stdout + proc.stderr).rstrip())
    return proc


def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def stub_texts():
    path = os.path.join(MOSAIC_HOME, "fleet", "run", "orchestrator.stub.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def room_messages(state):
    path = "/_matrix/client/v3/rooms/%s/messages?dir=b&limit=20&filter=%s" % (
        urllib.parse.quote(state["room"], safe=""), urllib.parse.quote('{"types":["m.room.message"]}'))
    status, data = request(state["url"], "GET", path, token=state["operator_token"])
    assert status == 200, data
    return list(reversed(data["chunk"]))


def up():
    if os.geteuid() == 0:
        sys.exit("demo-matrix: run it as the user who ran `make demo` (not root)")
    if not os.path.exists(ROSTER):
        sys.exit("demo-matrix: %s is missing: run `make demo` first" % ROSTER)
    say("Synapse on loopback (scripts/test-synapse.sh; data in %s/synapse)" % HOME)
    python = os.path.join(REPO, ".cache", "synapse-venv", "bin", "python")
    if not os.access(REPO, os.W_OK) and os.path.exists(python):
        print("(the checkout is not yours to write: the Synapse that scripts/test-synapse.sh installed)")
    else:
        python = subprocess.run([os.path.join(REPO, "scripts", "test-synapse.sh")], capture_output=True, text=True,
                                check=True).stdout.strip().splitlines()[-1]
    directory = os.path.join(HOME, "synapse")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    server = Synapse(python, directory)
    server.configure()
    server.start()
    operator, bot = server.register("operator"), server.register("fleet")
    room = operator.create_room(invite=[bot.user_id])
    bot.join(room)
    state = {"pid": server.proc.pid, "url": server.url, "room": room, "operator": operator.user_id,
             "operator_token": operator.token, "bot": bot.user_id}
    fd = os.open(STATE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle)
    print("%s: operator %s, the fleet's bot %s, room %s" % (server.url, operator.user_id, bot.user_id, room))

    say("the demo's fleet with connector: {kind: matrix} (the bot's token only in the secrets)")
    with open(ROSTER, encoding="utf-8") as handle:
        roster = yaml.safe_load(handle)
    roster["connector"] = {"kind": "matrix", "matrix": {"homeserver_url": server.url, "user_id": bot.user_id,
                                                        "room_id": room, "allowed_senders": [operator.user_id]}}
    with open(MATRIX_ROSTER, "w", encoding="utf-8") as handle:
        json.dump(roster, handle, indent=2)
    fd = os.open(SECRETS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"mosaic_fleet_secrets": {"MOSAIC_MATRIX_TOKEN": bot.token}}, handle)
    print(json.dumps(roster["connector"], indent=2))
    playbook("-e", "mosaic_fleet_roster_file=" + MATRIX_ROSTER, "-e", "@" + SECRETS)
    run(["tmux", "-L", SOCKET, "list-sessions", "-F", "#{session_name}"])
    run([os.path.join(MOSAIC_HOME, "tools", "fleet", "connector"), "health"])
    # Its first /sync marks "now": what the room had before is not delivered. Wait for it.
    log, deadline = os.path.join(MOSAIC_HOME, "fleet", "log", "connector.log"), time.time() + 60
    while '"started"' not in read_text(log):
        if time.time() > deadline:
            sys.exit("demo-matrix: the connector did not start (see %s)" % log)
        time.sleep(0.2)

    say("the operator writes in the room (as: curl -X PUT -H 'Authorization: Bearer $TOKEN' "
        "%s/_matrix/client/v3/rooms/<room>/send/m.room.message/<txn> -d '{\"msgtype\":\"m.text\",\"body\":...}')"
        % server.url)
    text = "hi orchestrator: is the fleet up? (sent %s)" % time.strftime("%H:%M:%S")
    event = operator.send(room, text)
    print("posted %s: %r" % (event, text))
    deadline = time.time() + 60
    while not any(text in t for t in stub_texts()):
        if time.time() > deadline:
            sys.exit("demo-matrix: the message never reached the orchestrator's pane")
        time.sleep(0.2)
    say("what the orchestrator received (its stub's log, %s/fleet/run/orchestrator.stub.log)" % MOSAIC_HOME)
    print([t for t in stub_texts() if text in t][-1])
    run(["tmux", "-L", SOCKET, "capture-pane", "-p", "-t", "=orchestrator:"])

    say("the orchestrator answers (the command its comms sheet gives it)")
    answer = "yes: orchestrator, enhancer and worker are up; nothing queued. $HOME and `quotes` stay literal."
    run([os.path.join(MOSAIC_HOME, "tools", "fleet", "connector"), "reply", "-m", "-"], stdin=answer + "\n")

    say("the room as the operator reads it (GET %s/_matrix/client/v3/rooms/<room>/messages?dir=b)" % server.url)
    deadline = time.time() + 30
    while not any(e["content"].get("body") == answer for e in room_messages(state)):
        if time.time() > deadline:
            sys.exit("demo-matrix: the answer never reached the room")
        time.sleep(0.2)
    for event in room_messages(state):
        print("%s  %s: %s" % (time.strftime("%H:%M:%S", time.gmtime(event["origin_server_ts"] / 1000)),
                              event["sender"], event["content"].get("body")))
    say("done; `scripts/demo-matrix.py down` switches back to kind tmux and stops Synapse")


def down():
    if not os.path.exists(STATE):
        print("demo-matrix: %s does not exist; nothing to take down" % STATE)
        return
    with open(STATE, encoding="utf-8") as handle:
        state = json.load(handle)
    say("the demo's fleet back to connector: {kind: tmux} (the connector's session goes)")
    playbook()
    run(["tmux", "-L", SOCKET, "list-sessions", "-F", "#{session_name}"])
    say("stop Synapse (pid %s)" % state["pid"])
    try:
        os.kill(state["pid"], signal.SIGTERM)
    except ProcessLookupError:
        pass
    for path in (STATE, SECRETS, MATRIX_ROSTER):
        os.unlink(path)
    subprocess.run(["rm", "-rf", "--", os.path.join(HOME, "synapse")], check=True)
    print("removed %s/synapse and the demo's Matrix files" % HOME)


if __name__ == "__main__":
    if sys.argv[1:] == ["up"]:
        up()
    elif sys.argv[1:] == ["down"]:
        down()
    else:
        sys.exit("usage: scripts/demo-matrix.py up|down")
