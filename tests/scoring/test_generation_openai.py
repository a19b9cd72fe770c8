"""The OpenAI-compatible client against a small HTTP server started here on 127.0.0.1.

The server is scripted (a list of answers, one per request) where a test needs a given
answer, and backed by the tiny chat model in the last test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scoring.generation import GenerationError, GenerationRequest, get_generator
from scoring.http_json import RetryPolicy, post_json, retry_after_seconds
from scoring.local_lm import LocalChatGenerator
from scoring.openai_client import OpenAIChatGenerator
from scoring.toy import build_toy_model


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | None = None  # None: a chat completion echoing the last message
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def completion(content: str) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }


@dataclass
class ServerState:
    script: list[Reply] = field(default_factory=list)  # consumed in order; then the default
    default: Reply = field(default_factory=Reply)
    answer: Callable[[dict], str] | None = None  # what a default reply says
    requests: list[dict] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self) -> Reply:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


def make_handler(state: ServerState) -> type[BaseHTTPRequestHandler]:
    class ChatHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            self.counted = True
            try:
                self._answer()
            finally:
                self._done()

        def _done(self) -> None:
            # Counted out before the reply's last byte leaves: once the client has the
            # answer it may send its next request, which must not find this one still counted.
            if self.counted:
                self.counted = False
                with state.lock:
                    state.in_flight -= 1

        def _answer(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests.append(body)
                state.headers.append(dict(self.headers))
                state.paths.append(self.path)
            reply = state.next_reply()
            if reply.delay:
                time.sleep(reply.delay)
            if reply.body is None:
                say = state.answer or (lambda b: "echo: " + b["messages"][-1]["content"])
                payload = json.dumps(completion(say(body)), ensure_ascii=False).encode()
            elif isinstance(reply.body, dict):
                payload = json.dumps(reply.body).encode()
            else:
                payload = reply.body
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self._done()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args) -> None:
            pass

    return ChatHandler


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    state = ServerState()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", state
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(base_url: str, **options) -> OpenAIChatGenerator:
    options = {"backoff": 0.01, "timeout": 5.0, "max_retries": 3, **options}
    return OpenAIChatGenerator(base_url=base_url, model="served-model", **options)


REQUESTS = [GenerationRequest.user(f"问题 {i}", max_new_tokens=32) for i in range(6)]


def test_served_model_answers_in_input_order_with_the_configured_name(server):
    base_url, state = server
    generator = get_generator(
        "Qwen/Qwen2.5-7B-Instruct",
        purpose="evolve",
        setting="VAD_EVOLVE_MODEL",
        base_url=base_url + "/",
        api_key="secret-key",
        concurrency=3,
    )
    assert isinstance(generator, OpenAIChatGenerator) and generator.is_chat
    assert generator.generate(REQUESTS, seed=7) == [f"echo: 问题 {i}" for i in range(6)]
    assert set(state.paths) == {"/v1/chat/completions"}
    first = next(r for r in state.requests if r["messages"][0]["content"] == "问题 0")
    assert first == {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "messages": [{"role": "user", "content": "问题 0"}],
        "max_tokens": 32,
        "temperature": 0.0,
        "n": 1,
        "seed": 7,
        "stream": False,
    }
    assert {h["Authorization"] for h in state.headers} == {"Bearer secret-key"}
    assert generator.generate([]) == []


def test_a_reasoning_models_thinking_is_not_part_of_the_answer(server):
    base_url, state = server
    state.answer = lambda body: "<think>\n先想一想……\n</think>\n\n答案：要诚实。"
    assert client(base_url).generate(REQUESTS[:1]) == ["答案：要诚实。"]
    state.answer = lambda body: "答案里提到 <think> 这个词。"
    assert client(base_url).generate(REQUESTS[:1]) == ["答案里提到 <think> 这个词。"]


def test_server_errors_are_retried_until_an_answer_comes(server):
    base_url, state = server
    state.script = [Reply(status=503, body=b"busy"), Reply(status=500, body={"error": "x"})]
    assert client(base_url).generate(REQUESTS[:1]) == ["echo: 问题 0"]
    assert len(state.requests) == 3


def test_server_errors_that_persist_fail_after_the_retries(server):
    base_url, state = server
    state.default = Reply(status=502, body=b"bad gateway")
    with pytest.raises(GenerationError, match=r"HTTP 502.*gave up after 3 attempts"):
        client(base_url, max_retries=2).generate(REQUESTS[:1])
    assert len(state.requests) == 3


def test_429_waits_as_long_as_retry_after_says(server):
    base_url, state = server
    state.script = [
        Reply(status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "1"})
    ]
    started = time.monotonic()
    assert client(base_url, backoff=0.01).generate(REQUESTS[:1]) == ["echo: 问题 0"]
    assert time.monotonic() - started >= 1.0  # the backoff alone would wait ~0.01 s
    assert len(state.requests) == 2


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert retry_after_seconds("soon") is None


def test_backoff_doubles_with_jitter_and_a_long_retry_after_is_capped(server):
    policy = RetryPolicy(backoff=1.0, max_backoff=8.0)
    for retry, ceiling in enumerate([1.0, 2.0, 4.0, 8.0, 8.0]):
        delays = {policy.delay(retry) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered: clients retrying together spread out

    base_url, state = server
    state.script = [
        Reply(status=429, body=b"{}", headers={"Retry-After": "3600"}),
        Reply(status=503, body=b"{}"),
    ]
    waits: list[float] = []
    reply = post_json(
        base_url + "/chat/completions",
        {"messages": [{"role": "user", "content": "x"}]},
        retry=RetryPolicy(backoff=0.2, max_retry_after=0.05),
        sleep=waits.append,
    )
    assert reply["choices"][0]["message"]["content"] == "echo: x"
    assert waits[0] == 0.05
    assert 0.2 <= waits[1] <= 0.4  # the second retry: up to 2 x backoff


def test_a_server_slower_than_the_timeout_fails_after_the_retries(server):
    base_url, state = server
    state.default = Reply(delay=1.5)
    started = time.monotonic()
    with pytest.raises(GenerationError, match=r"within the 0.3 s timeout.*2 attempts"):
        client(base_url, timeout=0.3, max_retries=1).generate(REQUESTS[:1])
    assert len(state.requests) == 2
    assert time.monotonic() - started < 1.4


def test_a_slow_answer_after_a_timeout_is_retried(server):
    base_url, state = server
    state.script = [Reply(delay=1.0)]
    assert client(base_url, timeout=0.3).generate(REQUESTS[:1]) == ["echo: 问题 0"]


def test_an_unreachable_server_names_the_setting_to_check():
    with pytest.raises(GenerationError, match=r"cannot reach.*VAD_LLM_BASE_URL"):
        client("http://127.0.0.1:9/v1", max_retries=1).generate(REQUESTS[:1])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Gateway</html>", "did not answer JSON"),
        (b'{"choices": [', "did not answer JSON"),
        ({"choices": []}, "no 'choices' list"),
        ({"object": "error"}, "no 'choices' list"),
        ({"choices": [{"message": {"content": None}}]}, "content is not a string"),
        ({"choices": [{"text": "completion, not chat"}]}, "content is not a string"),
    ],
)
def test_malformed_replies_are_clear_errors_and_not_retried(server, body, message):
    base_url, state = server
    state.default = Reply(body=body)
    with pytest.raises(GenerationError, match=message):
        client(base_url).generate(REQUESTS[:1])
    assert len(state.requests) == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "HTTP 400: This model's maximum context length is 4096"),
        (401, "HTTP 401.*check VAD_LLM_API_KEY"),
        (404, "HTTP 404.*VAD_TRANSLATE_MODEL='served-model'"),
    ],
)
def test_client_errors_fail_at_once_with_the_servers_message(server, status, message):
    base_url, state = server
    state.default = Reply(
        status=status,
        body={"error": {"message": "This model's maximum context length is 4096 tokens"}},
    )
    with pytest.raises(GenerationError, match=message) as caught:
        client(base_url, setting="VAD_TRANSLATE_MODEL").generate(REQUESTS[:1])
    assert len(state.requests) == 1
    assert caught.value.index == (0 if status == 400 else None)


def test_no_more_requests_than_the_concurrency_limit_are_in_flight(server):
    base_url, state = server
    state.default = Reply(delay=0.15)
    requests = [GenerationRequest.user(f"q{i}") for i in range(12)]
    generator = client(base_url, concurrency=3)
    assert generator.generate(requests) == [f"echo: q{i}" for i in range(12)]
    assert state.max_in_flight == 3
    # Two generators for the same server, called from two threads, share the one limit.
    state.max_in_flight = 0
    other = client(base_url, concurrency=3)
    threads = [
        threading.Thread(target=g.generate, args=(requests[:6],)) for g in (generator, other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.max_in_flight == 3


def test_a_failure_stops_the_requests_not_yet_sent(server):
    base_url, state = server
    state.script = [Reply(status=400, body={"error": {"message": "bad"}})]
    state.default = Reply(delay=0.1)
    requests = [GenerationRequest.user(f"q{i}") for i in range(40)]
    with pytest.raises(GenerationError, match=r"bad"):
        client(base_url, concurrency=2).generate(requests)
    assert len(state.requests) < 10


def test_a_server_backed_by_the_tiny_model_gives_the_local_texts(server, tmp_path):
    base_url, state = server
    path = str(build_toy_model(tmp_path / "chat", seed=21))
    local = get_generator(path, purpose="evolve", setting="VAD_EVOLVE_MODEL", device="cpu")
    assert isinstance(local, LocalChatGenerator)
    lock = threading.Lock()

    def answer(body: dict) -> str:  # what vLLM does: the chat template, then greedy decoding
        request = GenerationRequest(body["messages"], max_new_tokens=body["max_tokens"])
        with lock:
            return local.generate([request], seed=body["seed"])[0]

    state.answer = answer
    requests = [
        GenerationRequest.user("请解释一下什么是价值观对齐。", max_new_tokens=12),
        GenerationRequest.user("Explain why honesty matters.", system="简短回答", max_new_tokens=8),
        GenerationRequest.user("如何在网络上保护自己的隐私？", max_new_tokens=16),
    ]
    remote = get_generator(
        path, purpose="evolve", setting="VAD_EVOLVE_MODEL", base_url=base_url, concurrency=2
    )
    assert remote.generate(requests) == local.generate(requests)
    assert {r["model"] for r in state.requests} == {path}
