"""connector.kind discord, as far as it can be tested offline: what the fleet renders and launches.

The orchestrator's Claude Code with Claude Code's Discord channel plugin is the connector; the
fleet runs no service for it. Tested here on the real framework tools: `launch-agent --print` /
`--print-env` (the orchestrator gets `--channels plugin:discord@claude-plugins-official`, the
plugin's state directory and a static access policy written from the roster; no other agent
does, and the bot token shows nowhere but the credentials) and `connector health` (no token:
unauthenticated; a Discord API that does not answer: unreachable; one that knows the token or
refuses it, played by a local HTTP server: healthy, unauthenticated). Not tested: Discord itself
and the plugin (no network here)."""

import http.server
import json
import os
import threading

import pytest

from framework_util import run_tool, write_agent_env

from ansible_collections.mosaic.fleet.plugins.module_utils import connector as fleet_connector
from ansible_collections.mosaic.fleet.plugins.module_utils import roster as fleet_roster

TOKEN = "MTIz.discord-bot-token.for-tests"
CHANNEL, OPERATOR = "846209781206941736", "184695080709324800"


def setup_home(env, api_url=None, token=True):
    document = {"version": 1, "profile": "canary",
                "connector": {"kind": "discord", "discord": {"channel_id": CHANNEL, "allowed_senders": [OPERATOR]}},
                "agents": [{"name": "orch", "class": "orchestrator", "runtime": "claude"},
                           {"name": "worker", "class": "worker", "runtime": "claude"}]}
    normalized = fleet_roster.normalize(document, default_host="localhost")
    assert not fleet_connector.runs_service(normalized, "localhost")  # no `connector run` for discord
    config = json.loads(fleet_connector.render_connector_config(normalized, "localhost"))
    if api_url:
        config["discord"]["api_url"] = api_url
    home = env["MOSAIC_HOME"]
    with open(os.path.join(home, fleet_connector.CONNECTOR_FILE), "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    for agent in normalized["agents"]:
        write_agent_env(env, agent["name"], runtime="claude", agent_class=agent["class"])
    if token:
        os.makedirs(os.path.join(home, "credentials"), exist_ok=True)
        fd = os.open(os.path.join(home, "credentials", "fleet.env"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("DISCORD_BOT_TOKEN=%s\n" % TOKEN)
    return home


def test_the_orchestrator_launches_with_the_discord_channel_and_a_static_allowlist(fleet_env):
    home = setup_home(fleet_env)
    argv = run_tool(fleet_env, "launch-agent", "--print", "orch")
    assert argv.returncode == 0, argv.stderr
    assert argv.stdout.splitlines()[0] == "claude"
    assert argv.stdout.splitlines()[-2:] == ["--channels", "plugin:discord@claude-plugins-official"]
    env = run_tool(fleet_env, "launch-agent", "--print-env", "orch")
    assert env.returncode == 0, env.stderr
    assert "DISCORD_STATE_DIR=%s/fleet/discord" % home in env.stdout.splitlines()
    assert "DISCORD_ACCESS_MODE=static" in env.stdout.splitlines()
    access = os.path.join(home, "fleet", "discord", "access.json")
    assert os.stat(access).st_mode & 0o777 == 0o600
    with open(access, encoding="utf-8") as handle:
        assert json.load(handle) == {"dmPolicy": "allowlist", "allowFrom": [OPERATOR],
                                     "groups": {CHANNEL: {"requireMention": False, "allowFrom": [OPERATOR]}}}
    worker = run_tool(fleet_env, "launch-agent", "--print", "worker")
    assert worker.returncode == 0 and "--channels" not in worker.stdout.splitlines(), worker.stdout
    assert "DISCORD_STATE_DIR" not in run_tool(fleet_env, "launch-agent", "--print-env", "worker").stdout
    for text in (argv.stdout, env.stdout, worker.stdout):
        assert TOKEN not in text
    for root, _dirs, files in os.walk(os.path.join(home, "fleet")):
        for name in files:
            with open(os.path.join(root, name), encoding="utf-8", errors="replace") as handle:
                assert TOKEN not in handle.read(), os.path.join(root, name)
    run = run_tool(fleet_env, "connector", "run")
    assert run.returncode == 0 and "kind discord has nothing to run" in run.stderr


class FakeDiscord(http.server.BaseHTTPRequestHandler):
    """GET /users/@me: 200 for the test token, 401 for any other."""

    def do_GET(self):  # noqa: N802 pylint: disable=invalid-name
        known = self.headers.get("Authorization") == "Bot " + TOKEN and self.path.endswith("/users/@me")
        body = json.dumps({"id": "1", "username": "fleet-bot"} if known else {"message": "401: Unauthorized"})
        self.send_response(200 if known else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def fake_discord():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeDiscord)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d/api/v10" % server.server_address[1]
    server.shutdown()


def health(env):
    result = run_tool(env, "connector", "health")
    report = json.loads(result.stdout)
    assert result.returncode == (0 if report["state"] == "healthy" else 1) and report["kind"] == "discord"
    return report


def test_health_without_a_token_then_unreachable_then_known_and_refused(fleet_env, fake_discord):
    setup_home(fleet_env, token=False)
    report = health(fleet_env)
    assert report["state"] == "unauthenticated" and "fleet.env" in report["reason"], report
    setup_home(fleet_env, api_url="http://127.0.0.1:9")
    assert health(fleet_env)["state"] == "unreachable"
    setup_home(fleet_env, api_url=fake_discord)
    report = health(fleet_env)
    assert report["state"] == "healthy" and "fleet-bot" in report["reason"], report
    with open(os.path.join(fleet_env["MOSAIC_HOME"], "credentials", "fleet.env"), "w", encoding="utf-8") as handle:
        handle.write("DISCORD_BOT_TOKEN=revoked\n")
    report = health(fleet_env)
    assert report["state"] == "unauthenticated" and "401" in report["reason"], report
    assert TOKEN not in json.dumps(report)
