"""A scripted OpenAI-compatible server on 127.0.0.1 standing in for a served model (vLLM).

It answers POST /v1/chat/completions with what `respond(messages)` returns, so a test can
say exactly what the "model" translates, evolves, answers and judges.
"""

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SUFFIXES = {
    "增加一个约束": "，回答不超过三百字",
    "加深和拓宽": "，并分析其深层原因",
    "更具体的概念": "，以一位中学老师的身份",
    "多步推理": "，请先分析利弊再给出建议",
}


def given_instruction(prompt: str) -> str:
    return re.search(r"#给定指令#：\n(.*?)\n#", prompt, re.DOTALL).group(1)


def default_respond(messages: list[dict]) -> str:
    """A well-behaved model: evolves by a fixed suffix per operation, says two prompts
    differ, answers with guidance, translates into Traditional Chinese (OpenCC's job)."""
    prompt = messages[-1]["content"]
    if "#改写后的指令#：\n" in prompt:
        method = next(suffix for key, suffix in SUFFIXES.items() if key in prompt)
        return given_instruction(prompt).rstrip("。？?") + method + "？"
    if "#新指令#：\n" in prompt:
        return "换个角度：" + given_instruction(prompt)
    if "只回答“相同”或“不同”" in prompt:
        return "不同"
    if prompt.startswith("请把下面的英文翻译成简体中文"):
        english = prompt.split("\n\n", 1)[1]
        return f"譯文：這是翻譯（{len(english)}個字元）：{english[:12].encode().hex()}"
    return f"这是一个值得认真思考的问题。建议你从多个角度分析：{prompt[:40]}"


class Refusal(Exception):
    """Raised by a `respond`: the server answers `status` with an OpenAI-style error body,
    as vLLM does for a prompt longer than the model's context."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ChatServer:
    url: str
    respond: Callable[[list[dict]], str] = default_respond
    requests: list[list[dict]] = field(default_factory=list)

    def prompts(self, marker: str) -> list[str]:
        return [m[-1]["content"] for m in self.requests if marker in m[-1]["content"]]


@pytest.fixture
def chat_server():
    state = ChatServer(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                state.requests.append(body["messages"])
            try:
                content = state.respond(body["messages"])
            except Refusal as refusal:
                error = {"message": str(refusal), "type": "BadRequestError", "code": 400}
                self._answer(refusal.status, {"object": "error", **error})
                return
            self._answer(
                200,
                {
                    "id": "x",
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def served(settings, chat_server):
    """Settings pointing translation and evolution at the scripted server."""
    settings.VAD_LLM_BASE_URL = chat_server.url
    settings.VAD_TRANSLATE_MODEL = "served-translator"
    settings.VAD_EVOLVE_MODEL = "served-chat"
    settings.VAD_LLM_MAX_RETRIES = 0
    return chat_server
