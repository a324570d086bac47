"""The mock model fixture itself (mock_model.py): scripted answers, whole request bodies."""

import json
import urllib.request

import mock_model as mm


def ask(url, text, tools=None):
    body = {"model": "mock-model", "max_tokens": 50, "stream": False,
            "messages": [{"role": "user", "content": text}]}
    if tools:
        body["tools"] = [{"name": name, "description": "x", "input_schema": {"type": "object"}} for name in tools]
    req = urllib.request.Request(url + "/v1/messages", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", "x-api-key": "k",
                                          "anthropic-version": "2023-06-01"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_scripted_answers_and_whole_bodies(mock_model):
    mock_model.script([mm.tool_call("claude", "echo hi", user="run it"), mm.text("plain answer")])
    big = "run it " + "earlier-turn-marker " + "x" * 70000
    answer = ask(mock_model.url, big, tools=["Bash"])
    assert answer["content"][0]["type"] == "tool_use"
    assert answer["content"][0]["input"] == {"command": "echo hi"}
    # A side request without the tool gets the next fixture.
    assert ask(mock_model.url, "run it")["content"][0]["text"] == "plain answer"
    # llmock's journal cuts the big body; the recorder keeps it whole.
    journal = mock_model.journal()
    assert journal[0]["body"].get("__aimock_truncated") is True
    assert len(mock_model.saw("earlier-turn-marker")) == 1
    assert mock_model.wait_request(lambda r: "x" * 70000 in r.text, what="the whole body").path.startswith("/v1/messages")
    # script() replaces the answers; reset() forgets the requests.
    mock_model.script([mm.text("second script")])
    assert ask(mock_model.url, "run it", tools=["Bash"])["content"][0]["text"] == "second script"
    mock_model.reset()
    assert mock_model.requests() == []
