"""Evolve jobs on PostgreSQL with tasks run in-process, against a scripted served model
(an OpenAI-compatible server on 127.0.0.1) and a tiny chat model through the real loader."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Item, ItemRevision, Job, Status
from annotation.services import ImportRequest, import_file
from pipeline import services
from scoring.evolution import ALL_OPS, choose_ops
from scoring.toy import build_toy_model, build_toy_seq2seq

from .conftest import Refusal, default_respond, given_instruction

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def seeds(db) -> list[Item]:
    import_file(
        request=ImportRequest(
            path=FIXTURES / "cvalues_comparison_sample.jsonl", format="cvalues-comparison"
        )
    )
    return list(Item.objects.filter(status=Status.SEED).order_by("pk"))


def _run(capture, **kwargs) -> Job:
    with capture(execute=True):  # the queued chunk tasks run (eager), round after round
        job = services.evolve_job_start(**kwargs)
    job.refresh_from_db()
    return job


def test_two_rounds_grow_lineage_and_a_rerun_adds_nothing(
    served, seeds, django_capture_on_commit_callbacks
):
    job = _run(django_capture_on_commit_callbacks, rounds=2, ops=ALL_OPS, chunk_size=2)
    assert job.status == "succeeded", job.error
    round1 = list(Item.objects.filter(origin__round=1).order_by("pk"))
    round2 = list(Item.objects.filter(origin__round=2).order_by("pk"))
    assert len(round1) == len(round2) == len(seeds)
    assert job.report["evolved"] == 2 * len(seeds)
    assert (job.done, job.total) == (2 * len(seeds), 2 * len(seeds))
    for child in round1 + round2:
        op = child.origin["operation"]
        parent = child.parent
        assert child.source_key == f"evolve:{parent.pk}:{op}:{child.origin['round']}"
        assert op == choose_ops(parent_id=parent.pk, round=child.origin["round"], ops=ALL_OPS)[0]
        assert child.origin["parent_id"] == parent.pk
        assert child.status == Status.CANDIDATE and child.output.startswith("这是一个")
        assert child.origin["evolution"]["model"] == "served-chat"
        statuses = list(
            ItemRevision.objects.filter(item=child, field="status").values_list(
                "old_value", "new_value"
            )
        )
        assert statuses == [("pending_evolution", "candidate")]
    assert {c.parent.status for c in round1} == {Status.SEED}
    assert {c.parent_id for c in round2} == {c.pk for c in round1}
    assert {c.origin["seed_id"] for c in round2} == {s.pk for s in seeds}
    # The CValues-Comparison reference answer is context for the evolution prompt.
    evolve_prompts = served.prompts("#给定指令#")
    assert any(seeds[0].origin["reference_output"] in p for p in evolve_prompts)

    requests = len(served.requests)
    rerun = _run(django_capture_on_commit_callbacks, rounds=2, ops=ALL_OPS)
    assert (rerun.status, rerun.total) == ("succeeded", 0)
    assert len(served.requests) == requests
    assert Item.objects.count() == 3 * len(seeds)

    deeper = _run(django_capture_on_commit_callbacks, rounds=3, ops=ALL_OPS)
    assert deeper.total == len(seeds)
    assert Item.objects.filter(origin__round=3).count() == len(seeds)


def test_all_ops_gives_every_parent_each_listed_operation(
    served, seeds, django_capture_on_commit_callbacks
):
    job = _run(
        django_capture_on_commit_callbacks,
        rounds=1,
        ops="deepen,breadth",
        all_ops=True,
        item_ids=[seeds[0].pk],
    )
    assert job.status == "succeeded", job.error
    ops = sorted(Item.objects.filter(parent=seeds[0]).values_list("origin__operation", flat=True))
    assert ops == ["breadth", "deepen"]
    assert Item.objects.exclude(pk__in=[s.pk for s in seeds]).count() == 2


def test_elimination_rules_each_remove_their_case_and_spare_the_near_miss(
    served, seeds, django_capture_on_commit_callbacks
):
    guided = "抱歉，我不能帮你这样做，这可能违法。建议你先与对方坦诚沟通，必要时寻求法律援助。"
    plan = {  # seed index -> (evolved instruction, answer, judge verdicts in turn)
        0: (None, "抱歉，我无法回答这个问题。", ["不同"]),
        1: (None, guided, ["不同"]),
        2: ("#改写后的指令#：{}", None, ["不同"]),
        3: (None, None, ["相同"]),
        4: (None, "好的。", ["嗯……", "我看不出来"]),
    }
    verdicts = {n: list(v[2]) for n, v in plan.items()}

    def index_of(text):
        return next(n for n, s in enumerate(seeds) if s.instruction[:10] in text)

    def respond(messages):
        prompt = messages[-1]["content"]
        if "只回答“相同”或“不同”" in prompt:
            queue = verdicts[index_of(prompt.split("第二条指令")[0])]
            return queue.pop(0) if queue else "不同"
        if "#给定指令#：\n" in prompt:
            instruction, _, _ = plan[index_of(given_instruction(prompt))]
            if instruction:
                return instruction.format(given_instruction(prompt))
        elif "#" not in prompt:
            _, answer, _ = plan[index_of(prompt)]
            if answer:
                return answer
        return default_respond(messages)

    served.respond = respond
    job = _run(django_capture_on_commit_callbacks, rounds=1, ops=["deepen"])
    assert job.status == "succeeded", job.error
    children = {index_of(c.instruction): c for c in Item.objects.filter(origin__round=1)}
    assert (children[0].status, children[0].status_reason) == ("filtered_out", "short_refusal")
    assert (children[1].status, children[1].output) == ("candidate", guided)
    assert (children[2].status, children[2].status_reason) == ("filtered_out", "template_copy")
    assert (children[3].status, children[3].status_reason) == (
        "filtered_out",
        "no_information_gain",
    )
    # Unparseable twice: kept, flagged; but its answer is only stop words.
    assert (children[4].status, children[4].status_reason) == ("filtered_out", "stopwords_only")
    assert children[4].flags == ["judge_unparsed"]
    assert job.report["judge_unparsed"] == 1 and job.report["judge_retried"] == 1
    assert job.report["evolved"] == 1
    # A filtered item's children are not grown in the next round.
    nxt = _run(django_capture_on_commit_callbacks, rounds=2, ops=["deepen"])
    assert [c.parent_id for c in Item.objects.filter(origin__round=2)] == [children[1].pk]
    assert nxt.total == 1


def test_rules_can_be_switched_off(served, seeds, django_capture_on_commit_callbacks):
    served.respond = lambda m: "相同" if "只回答" in m[-1]["content"] else default_respond(m)
    _run(django_capture_on_commit_callbacks, rounds=1, ops=["deepen"], rules=["short_refusal"])
    assert set(Item.objects.filter(origin__round=1).values_list("status", flat=True)) == {
        Status.CANDIDATE
    }


def test_generated_text_duplicating_an_item_is_skipped_and_counted(
    served, seeds, django_capture_on_commit_callbacks
):
    def respond(messages):  # "evolves" every seed into the first seed's prompt
        if "#给定指令#：\n" in messages[-1]["content"]:
            return seeds[0].instruction
        return default_respond(messages)

    served.respond = respond
    job = _run(django_capture_on_commit_callbacks, rounds=1, ops=["deepen"])
    assert job.status == "succeeded", job.error
    assert job.report["duplicates_skipped"] == len(seeds)
    assert not Item.objects.filter(origin__round=1).exists()


def test_requests_the_model_refuses_fail_only_their_items(
    served, seeds, django_capture_on_commit_callbacks
):
    no_child, unanswered = seeds[0], seeds[1]

    def respond(messages):
        prompt = messages[-1]["content"]
        evolving = "#给定指令#：\n" in prompt
        if evolving and given_instruction(prompt) == no_child.instruction:
            raise Refusal("This model's maximum context length is 4096 tokens.")
        answering = not evolving and "只回答" not in prompt
        if answering and prompt.startswith(unanswered.instruction.rstrip("。？?")):
            raise Refusal("prompt too long")
        return default_respond(messages)

    served.respond = respond
    job = _run(django_capture_on_commit_callbacks, rounds=1, ops=["deepen"], chunk_size=5)
    assert job.status == "succeeded", job.error
    assert (job.report["evolve_failed"], job.report["answer_failed"]) == (1, 1), job.report
    assert job.report["evolved"] == len(seeds) - 2
    assert not Item.objects.filter(parent=no_child).exists()
    child = Item.objects.get(parent=unanswered)
    assert (child.status, child.flags, child.output) == (
        Status.PENDING_EVOLUTION,
        ["answer_failed"],
        "",
    )
    assert "prompt too long" in child.origin["answer_error"]["error"]
    others = Item.objects.filter(origin__round=1).exclude(pk=child.pk)
    assert set(others.values_list("status", flat=True)) == {Status.CANDIDATE}


def test_an_admin_has_one_evolved_item_answered_again(
    served, seeds, admin_user, django_capture_on_commit_callbacks
):
    _run(django_capture_on_commit_callbacks, rounds=1, ops=["deepen"], item_ids=[seeds[0].pk])
    child = Item.objects.get(parent=seeds[0])
    served.respond = lambda m: "新的回答：应当坚持诚信，" + m[-1]["content"][:10]
    with django_capture_on_commit_callbacks(execute=True):
        job = services.reanswer_item_start(user=admin_user, item_id=child.pk)
    job.refresh_from_db()
    assert (job.status, job.report) == ("succeeded", {"answered_again": 1}), job.error
    again = Item.objects.get(pk=child.pk)
    assert again.output.startswith("新的回答") and again.status == Status.CANDIDATE
    assert ItemRevision.objects.filter(item=child, reason="answered again").count() == 1
    with pytest.raises(services.PipelineConfigError):
        services.reanswer_item_start(user=admin_user, item_id=seeds[1].pk)  # a seed


def test_bad_options_and_missing_models_are_named(settings, seeds, admin_api, tmp_path):
    settings.VAD_EVOLVE_MODEL = ""
    with pytest.raises(CommandError, match="VAD_EVOLVE_MODEL"):
        call_command("run_pipeline", "evolve", "--rounds", "1", "--no-wait")
    response = admin_api.post(
        "/api/v1/pipeline/evolve/", {"rounds": 1, "ops": ["deepen"]}, format="json"
    )
    assert response.status_code == 400 and "VAD_EVOLVE_MODEL" in response.json()["detail"]
    settings.VAD_EVOLVE_MODEL = "served"
    response = admin_api.post(
        "/api/v1/pipeline/evolve/", {"rounds": 1, "ops": "deepen,widen"}, format="json"
    )
    assert response.status_code == 400 and "'widen'" in response.json()["detail"]
    marian = build_toy_seq2seq(tmp_path / "marian")
    with pytest.raises(services.PipelineConfigError, match=r"VAD_EVOLVE_MODEL=.*sequence-to-seq"):
        services.evolve_job_start(rounds=1, ops=["deepen"], model=str(marian))
    assert not Job.objects.exists()


def test_the_evolve_api_is_for_admins_and_starts_a_job(
    served, seeds, admin_api, reviewer_api, django_capture_on_commit_callbacks
):
    body = {"rounds": 1, "ops": ["concretize"], "item_ids": [seeds[0].pk]}
    assert reviewer_api.post("/api/v1/pipeline/evolve/", body, format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post("/api/v1/pipeline/evolve/", body, format="json")
    assert response.status_code == 202, response.content
    child = Item.objects.get(parent=seeds[0])
    assert child.origin["operation"] == "concretize" and "中学老师" in child.instruction


def test_a_tiny_chat_model_evolves_through_the_real_loader(
    settings, seeds, tmp_path, django_capture_on_commit_callbacks
):
    settings.VAD_LLM_BASE_URL = ""
    settings.VAD_DEVICE = "cpu"
    settings.VAD_GENERATION_MAX_NEW_TOKENS = 12
    model = str(build_toy_model(tmp_path / "chat", seed=5, max_position_embeddings=4096))
    job = _run(
        django_capture_on_commit_callbacks,
        rounds=1,
        ops=["deepen"],
        model=model,
        item_ids=[seeds[0].pk, seeds[1].pk],
    )
    assert job.status == "succeeded", job.error
    children = list(Item.objects.filter(origin__round=1))
    made = len(children) + job.report.get("empty_generations", 0)
    assert made + job.report.get("duplicates_skipped", 0) == 2
    for child in children:  # random text: answered, then kept or removed by a rule
        assert child.status in (Status.CANDIDATE, Status.FILTERED_OUT, Status.PENDING_EVOLUTION)
        assert child.origin["evolution"]["model"] == model


def test_a_redelivered_chunk_neither_duplicates_children_nor_answers_twice(served, seeds):
    from annotation.services import item_create_evolved

    job = services.evolve_job_start(rounds=1, ops=["deepen"], chunk_size=len(seeds))
    # A worker died after making the first seed's child, before answering it.
    made, created = item_create_evolved(
        parent_id=seeds[0].pk, operation="deepen", round=1, instruction="如何在职场中坚持诚信？"
    )
    assert created and made.status == Status.PENDING_EVOLUTION
    assert services.evolve_chunk_run(job_id=job.pk, chunk_index=0) == len(seeds)
    assert Item.objects.filter(parent=seeds[0]).get().pk == made.pk
    assert len(served.prompts("#给定指令#")) == len(seeds) - 1  # not evolved again
    answered = len(served.requests)
    assert services.evolve_chunk_run(job_id=job.pk, chunk_index=0) == 0  # redelivered
    assert len(served.requests) == answered
    job.refresh_from_db()
    assert (job.status, job.report["evolved"]) == (Job.State.SUCCEEDED, len(seeds))
    assert ItemRevision.objects.filter(field="output").count() == len(seeds)


def test_run_pipeline_evolve_starts_a_job_and_a_cancelled_one_grows_nothing(
    served, seeds, django_capture_on_commit_callbacks
):
    from io import StringIO

    from annotation.services import job_cancel

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "run_pipeline", "evolve", "--rounds", "1", "--ops", "reasoning",
            "--seed", str(seeds[0].pk), "--no-wait", stdout=out,
        )  # fmt: skip
    job = Job.objects.get()
    assert out.getvalue().startswith(f"evolve job {job.pk}: 1 items")
    job.refresh_from_db()
    assert job.status == Job.State.SUCCEEDED, job.error
    assert Item.objects.get(parent=seeds[0]).origin["operation"] == "reasoning"

    cancelled = services.evolve_job_start(rounds=1, ops=["reasoning"])  # not run yet
    job_cancel(job_id=cancelled.pk)
    requests = len(served.requests)
    assert services.evolve_chunk_run(job_id=cancelled.pk, chunk_index=0) == 0
    assert len(served.requests) == requests
    assert Item.objects.filter(origin__round=1).count() == 1
