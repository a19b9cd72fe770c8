"""The admin pages for translation and evolution: panel forms, flagged items, redo buttons."""

import pytest
from django.test import Client

from annotation.models import Item, Job, Source, Status
from tests.factories import make_item

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_ACCEPT_LANGUAGE": "en"}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _translated(**fields) -> Item:
    return make_item(
        source=Source.TRANSLATED,
        origin={
            "en_instruction": "How <b>should</b> I recycle batteries?",
            "en_output": "Take them to a collection point.",
            "translation": {"model": "served-translator", "prompt": "zh-translate-v1"},
        },
        **fields,
    )


@pytest.mark.parametrize(
    "url", ["/pipeline/translate/", "/pipeline/evolve/", "/pipeline/items/1/retranslate/"]
)
def test_only_admins_start_generation_jobs(url, reviewer_user):
    assert Client().post(url).status_code == 302
    assert _client(reviewer_user).post(url).status_code == 403
    assert not Job.objects.exists()


def test_flagged_page_is_for_admins(reviewer_user):
    assert Client().get("/pipeline/flagged/").status_code == 302
    assert _client(reviewer_user).get("/pipeline/flagged/").status_code == 403


def test_the_panel_shows_the_translate_and_evolve_forms_to_admins(admin_user):
    page = _client(admin_user).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="translate-form"' in page and 'id="evolve-form"' in page
    assert 'value="breadth"' in page and "/pipeline/flagged/" in page


def test_an_admin_starts_an_evolve_job_from_the_panel(
    admin_user, served, django_capture_on_commit_callbacks
):
    seed = make_item(
        instruction="如何看待诚信？", output="", status=Status.SEED, source="synthetic"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(admin_user).post(
            "/pipeline/evolve/", {"rounds": "1", "ops": ["deepen", "breadth"]}, **HTMX
        )
    assert response.status_code == 200 and response["HX-Trigger"] == "jobs-changed"
    job = Job.objects.get(kind=Job.Kind.EVOLVE)
    assert job.status == Job.State.SUCCEEDED, job.error
    assert Item.objects.filter(parent=seed, status=Status.CANDIDATE).count() == 1


def test_the_evolve_form_needs_an_operation(admin_user, served):
    response = _client(admin_user).post("/pipeline/evolve/", {"rounds": "1"}, **HTMX)
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not Job.objects.exists()


def test_flagged_items_show_english_beside_chinese_and_filter_by_flag(admin_user):
    flagged = _translated(flags=["translation_repetition"], instruction="<script>x</script>电池")
    other = _translated(flags=["translation_length_ratio"])
    make_item(flags=[])
    seed = make_item(status=Status.SEED, output="", source="synthetic")
    child = make_item(
        parent=seed,
        source="synthetic",
        flags=["judge_unparsed"],
        origin={"operation": "deepen", "round": 1},
    )
    client = _client(admin_user)
    page = client.get("/pipeline/flagged/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for item in (flagged, other, child):
        assert f'id="item-{item.pk}"' in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "How &lt;b&gt;should&lt;/b&gt; I recycle batteries?" in page
    assert "deepen" in page and f"#{seed.pk}" in page
    only = client.get("/pipeline/flagged/?flag=translation_repetition").content.decode()
    assert f'id="item-{flagged.pk}"' in only and f'id="item-{other.pk}"' not in only


def test_the_translate_again_button_starts_a_small_job_and_comes_back(
    admin_user, served, django_capture_on_commit_callbacks
):
    item = _translated(flags=["translation_repetition"])
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(admin_user).post(
            f"/pipeline/items/{item.pk}/retranslate/", {"next": "/pipeline/flagged/?flag=x"}
        )
    assert response.status_code == 302 and response["Location"] == "/pipeline/flagged/?flag=x"
    job = Job.objects.get(kind=Job.Kind.TRANSLATE)
    assert (job.status, job.total) == (Job.State.SUCCEEDED, 1), job.error
    item.refresh_from_db()
    assert item.instruction.startswith("这是翻译") and "translation_repetition" not in item.flags


def test_a_redo_that_cannot_start_says_why(admin_user, settings):
    settings.VAD_EVOLVE_MODEL = ""
    seed = make_item(status=Status.SEED, output="", source="synthetic")
    item = make_item(parent=seed, source="synthetic", origin={"operation": "deepen", "round": 1})
    response = _client(admin_user).post(
        f"/pipeline/items/{item.pk}/reanswer/", {"next": "https://evil.example/"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/pipeline/flagged/"
    assert "VAD_EVOLVE_MODEL" in response.content.decode()


def test_the_generation_pages_speak_chinese_by_default(admin_user):
    client = _client(admin_user)
    assert "被标记的条目" in client.get("/pipeline/flagged/").content.decode()
    panel = client.get("/").content.decode()
    assert "开始翻译" in panel and "开始演化" in panel


def test_an_item_page_shows_one_generated_item_with_its_redo_button(admin_user, reviewer_user):
    seed = make_item(status=Status.SEED, output="", source="synthetic", instruction="种子指令")
    child = make_item(parent=seed, source="synthetic", origin={"operation": "breadth", "round": 1})
    translated = _translated()
    assert _client(reviewer_user).get(f"/pipeline/items/{child.pk}/").status_code == 403
    client = _client(admin_user)
    page = client.get(f"/pipeline/items/{child.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "breadth" in page and "种子指令" in page and f"/pipeline/items/{seed.pk}/" in page
    assert f"/pipeline/items/{child.pk}/reanswer/" in page and "Answer again" in page
    page = client.get(f"/pipeline/items/{translated.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Translate again" in page.content.decode()
    assert client.get("/pipeline/items/999999/").status_code == 404
