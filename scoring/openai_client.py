"""Generation through a served model: an OpenAI-compatible ``/chat/completions`` (vLLM).

Each request is one HTTP call (``n=1``); up to ``concurrency`` are in flight at once, which
is what lets a vLLM server batch them (continuous batching). The server applies the model's
chat template. Decoding is greedy (temperature 0) unless a temperature is given; ``seed`` is
sent too, which vLLM honours per request.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from scoring.generation import GenerationError, GenerationRequest, strip_reasoning
from scoring.http_json import HTTPRequestError, RetryPolicy, post_json


class OpenAIChatGenerator:
    """``Generator`` over ``POST {base_url}/chat/completions``.

    ``base_url`` is the API root, e.g. ``http://gpu-box:8000/v1``; ``model`` the name the
    server serves (sent as ``model``); ``setting`` the setting that named it, for errors.
    """

    is_chat = True

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        temperature: float = 0.0,
        top_p: float = 1.0,
        setting: str = "VAD_EVOLVE_MODEL",
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.name = model
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries=max(0, max_retries), backoff=backoff)
        self.temperature = temperature
        self.top_p = top_p
        self.setting = setting
        self._slots = _slots_for(self.url, concurrency)

    def generate(self, requests: Sequence[GenerationRequest], *, seed: int = 0) -> list[str]:
        if not requests:
            return []
        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(requests)), thread_name_prefix="chat"
        )
        futures: list[Future[str]] = [
            pool.submit(self._complete, request, seed, index)
            for index, request in enumerate(requests)
        ]
        try:
            return [future.result() for future in futures]
        finally:
            # On the first failure, drop what has not started instead of sending it all.
            pool.shutdown(wait=True, cancel_futures=True)

    def body(self, request: GenerationRequest, *, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": request.messages,
            "max_tokens": request.max_new_tokens,
            "temperature": self.temperature,
            "n": 1,
            "seed": seed,
            "stream": False,
        }
        if self.temperature > 0:
            body["top_p"] = self.top_p
        return body

    def _complete(self, request: GenerationRequest, seed: int, index: int) -> str:
        with self._slots:
            try:
                reply = post_json(
                    self.url,
                    self.body(request, seed=seed),
                    api_key=self.api_key,
                    timeout=self.timeout,
                    retry=self.retry,
                )
            except HTTPRequestError as error:
                # A 400 is about this request (e.g. longer than the model's context).
                at_fault = index if error.status == 400 else None
                raise GenerationError(self._explain(error), index=at_fault) from error
        return self._content(reply, index)

    def _content(self, reply: Any, index: int) -> str:
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not isinstance(choices, list) or not choices:
            raise GenerationError(
                f"{self.url}: request {index}: the reply has no 'choices' list; is this an "
                f"OpenAI-compatible chat-completions server? Reply: {_excerpt(reply)}",
                index=index,
            )
        message = choices[0].get("message") if isinstance(choices[0], dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise GenerationError(
                f"{self.url}: request {index}: choices[0].message.content is not a string. "
                f"Reply: {_excerpt(reply)}",
                index=index,
            )
        return strip_reasoning(content)

    def _explain(self, error: HTTPRequestError) -> str:
        hint = {
            401: "check VAD_LLM_API_KEY",
            403: "check VAD_LLM_API_KEY",
            404: f"check VAD_LLM_BASE_URL (the API root, usually ending in /v1) and that "
            f"{self.setting}={self.name!r} is a model the server serves",
        }.get(error.status or 0)
        if error.status is None and "attempt" in str(error):
            hint = "check VAD_LLM_BASE_URL and that the server is up"
        return f"{error} ({hint})" if hint else str(error)


# One limit per server and process: generators made for the same server (one per job or
# chunk: get_generator makes a new one each call) share it, whichever thread sends.
_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _slots_for(url: str, concurrency: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _slots.setdefault((url, concurrency), threading.BoundedSemaphore(concurrency))


def _excerpt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."
