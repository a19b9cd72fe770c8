"""The remote scorer against a small OpenAI-compatible server that runs the toy model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from scoring.backends import LoadedModel, ScoringInput, get_scorer
from scoring.remote import RemoteIFDScorer, RemoteScoringError


@dataclass
class FakeServerState:
    """What the server does and what it saw."""

    loaded: LoadedModel
    with_prompt_logprobs: bool = True
    requests: list[dict] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)


def prompt_logprobs(model, token_ids: list[int]) -> list[dict | None]:
    """vLLM's shape: null for the first token, then {token id: {"logprob": ...}} per token."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([token_ids])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    entries: list[dict | None] = [None]
    for position in range(1, len(token_ids)):
        token = token_ids[position]
        value = logprobs[position - 1, token].item()
        entries.append({str(token): {"logprob": value, "rank": 1, "decoded_token": ""}})
    return entries


def make_handler(state: FakeServerState) -> type[BaseHTTPRequestHandler]:
    class CompletionsHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/completions":
                self.send_error(404)
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.authorizations.append(self.headers.get("Authorization"))
            choices = []
            for index, token_ids in enumerate(body["prompt"]):
                choice = {"index": index, "text": "x", "finish_reason": "length"}
                if state.with_prompt_logprobs:
                    choice["prompt_logprobs"] = prompt_logprobs(state.loaded.model, token_ids)
                choices.append(choice)
            # Out of order on purpose: clients must go by "index".
            payload = json.dumps({"object": "text_completion", "choices": choices[::-1]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args) -> None:  # keep test output quiet
            pass

    return CompletionsHandler


@pytest.fixture
def fake_server(llama_with_bos) -> Iterator[tuple[str, FakeServerState]]:
    state = FakeServerState(loaded=llama_with_bos)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_remote_scores_match_the_local_model(fake_server, llama_with_bos, mixed_triples):
    base_url, state = fake_server
    inputs = [ScoringInput(instruction=i, input=x, output=o) for i, x, o in mixed_triples[:20]]
    remote = get_scorer(
        "toy", base_url=base_url, api_key="secret", tokenizer_path=llama_with_bos.name, batch_size=6
    )
    local = get_scorer(llama_with_bos.name, device="cpu")

    assert isinstance(remote, RemoteIFDScorer)
    remote_results, local_results = remote.score(inputs), local.score(inputs)
    for got, want in zip(remote_results, local_results, strict=True):
        assert got.loss_cond == pytest.approx(want.loss_cond, abs=1e-4)
        assert got.loss_uncond == pytest.approx(want.loss_uncond, abs=1e-4)
        assert got.ifd == pytest.approx(want.ifd, abs=1e-4)
        assert got.ifd_ppl == pytest.approx(want.ifd_ppl, rel=1e-4)
        assert (got.answer_tokens, got.truncated) == (want.answer_tokens, want.truncated)

    # 20 pairs, 6 per request, each pair as its conditioned and unconditioned sequence; the
    # requests run concurrently, so they may arrive in any order.
    assert sorted(len(request["prompt"]) for request in state.requests) == [4, 12, 12, 12]
    for request in state.requests:
        assert request["model"] == "toy"
        assert request["prompt_logprobs"] == 0 and request["max_tokens"] == 1
    assert set(state.authorizations) == {"Bearer secret"}


def test_a_server_without_prompt_logprobs_gives_a_clear_error(fake_server, llama_with_bos):
    base_url, state = fake_server
    state.with_prompt_logprobs = False
    scorer = get_scorer("toy", base_url=base_url, tokenizer_path=llama_with_bos.name)
    with pytest.raises(RemoteScoringError, match="did not return prompt_logprobs"):
        scorer.score([ScoringInput(instruction="问题", input="", output="回答")])
    assert state.authorizations == [None]


def test_an_unreachable_server_gives_a_clear_error(llama_with_bos):
    scorer = get_scorer("toy", base_url="http://127.0.0.1:9/v1", tokenizer_path=llama_with_bos.name)
    with pytest.raises(RemoteScoringError, match="cannot reach"):
        scorer.score([ScoringInput(instruction="问题", input="", output="回答")])
