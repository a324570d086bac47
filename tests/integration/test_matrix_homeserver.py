"""The test homeserver itself (tests/integration/matrix_util.py): Synapse from the committed lock,
client API only on loopback, users from the shared-secret admin API, room ids without a server
suffix, and a per-user rate limit that can be lowered to get a real 429."""

import urllib.parse

from matrix_util import request


def test_synapse_serves_the_client_api_only_on_loopback(synapse):
    status, versions = request(synapse.url, "GET", "/_matrix/client/versions")
    assert status == 200 and versions["versions"]
    assert synapse.url.startswith("http://127.0.0.1:")
    assert request(synapse.url, "GET", "/_matrix/key/v2/server")[0] == 404  # a federation resource


def test_users_from_the_shared_secret_api_talk_in_a_room_whose_id_has_no_server_suffix(synapse):
    alice, bob = synapse.user("alice"), synapse.user("bob")
    room = alice.create_room(invite=[bob.user_id])
    bob.join(room)
    assert room.startswith("!") and ":" not in room
    bob.start_listening()
    alice.send(room, "hello bob")
    assert [event["content"]["body"] for event in bob.messages(room)] == ["hello bob"]
    status, data = request(synapse.url, "GET", "/_matrix/client/v3/account/whoami", token="nope")
    assert (status, data["errcode"]) == (401, "M_UNKNOWN_TOKEN")


def test_a_lowered_rate_limit_gives_429_with_retry_after_ms(synapse):
    alice = synapse.user("alice")
    room = alice.create_room()
    synapse.limit_messages(alice.user_id, 1, 1)
    path = "/_matrix/client/v3/rooms/%s/send/m.room.message/" % urllib.parse.quote(room, safe="")
    answers = [request(synapse.url, "PUT", path + "t%d" % i, alice.token, {"msgtype": "m.text", "body": "x"})
               for i in range(3)]
    limited = [data for status, data in answers if status == 429]
    assert limited and limited[0]["errcode"] == "M_LIMIT_EXCEEDED" and limited[0]["retry_after_ms"] > 0
