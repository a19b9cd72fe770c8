"""The review pages through Django's test client: roles, the claim on load, decisions with
versions, the edit diff and conflict, hostile text, and the guidelines."""

import pytest
from django.test import Client, override_settings

from annotation.models import Guideline, Item, ItemRevision, Source, Status
from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer():
    return make_user(role="reviewer", username="lin")


@pytest.fixture
def client_for():
    def log_in(user):
        client = Client()
        client.force_login(user)
        return client

    return log_in


def in_review(**fields) -> Item:
    return make_item(status=Status.IN_REVIEW, **fields)


def test_anonymous_users_are_sent_to_login(client):
    for url in ("/review/", "/guidelines/", "/review/progress/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_users_without_a_role_get_403(client_for):
    from django.contrib.auth import get_user_model

    nobody = get_user_model().objects.create_user("nobody", password="pw-123456")
    assert client_for(nobody).get("/review/").status_code == 403


def test_a_reviewer_taken_out_of_the_group_is_refused_at_the_next_request(
    reviewer, client_for, django_assert_max_num_queries
):
    """The role comes with the session's user (one query), read afresh on every request."""
    client = client_for(reviewer)
    item = in_review()
    # session, user with role, item, progress (decisions, queue left), history
    with django_assert_max_num_queries(6):
        assert client.get(f"/review/item/{item.pk}/").status_code == 200
    reviewer.groups.clear()
    assert client.get(f"/review/item/{item.pk}/").status_code == 403


def test_reviewers_cannot_reach_admin_pages(reviewer, client_for):
    client = client_for(reviewer)
    assert client.get("/admin/").status_code == 302  # the admin's own login page
    assert client.get("/guidelines/edit/").status_code == 403
    response = client.post("/guidelines/edit/", {"language": "en", "body": "# hacked"})
    assert response.status_code == 403
    assert not Guideline.objects.filter(body="# hacked").exists()


def test_loading_the_page_claims_one_item_and_reloading_keeps_it(reviewer, client_for):
    first, second = in_review(ifd=0.9), in_review(ifd=0.5)
    client = client_for(reviewer)
    page = client.get("/review/")
    assert page.status_code == 200
    assert f'data-item-id="{first.pk}"' in page.content.decode()
    client.get("/review/")
    client.get("/review/")
    assert list(Item.objects.filter(claimed_by=reviewer).values_list("pk", flat=True)) == [first.pk]
    second.refresh_from_db()
    assert second.claimed_by_id is None


def test_an_empty_queue_says_so(reviewer, client_for):
    page = client_for(reviewer).get("/review/").content.decode()
    assert 'data-mode="empty"' in page


def test_classify_then_accept_with_the_returned_version(reviewer, client_for):
    item = in_review()
    client = client_for(reviewer)
    client.get("/review/")
    response = client.post(
        f"/review/item/{item.pk}/classify/", {"version": item.version, "categorization": "social"}
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.categorization == "social"
    response = client.post(f"/review/item/{item.pk}/accept/", {"version": item.version})
    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.status, item.reviewer_id) == (Status.ACCEPTED, reviewer.pk)
    assert 'data-mode="empty"' in response.content.decode()


def test_a_stale_accept_answers_409_and_changes_nothing(reviewer, client_for):
    item = in_review(categorization="person")
    client = client_for(reviewer)
    client.get("/review/")
    response = client.post(f"/review/item/{item.pk}/accept/", {"version": item.version - 1 or 99})
    assert response.status_code == 409
    assert "data-notice" in response.content.decode()
    item.refresh_from_db()
    assert item.status == Status.IN_REVIEW


def test_accept_without_a_class_answers_400(reviewer, client_for):
    item = in_review()
    client = client_for(reviewer)
    client.get("/review/")
    response = client.post(f"/review/item/{item.pk}/accept/", {"version": item.version})
    assert response.status_code == 400
    item.refresh_from_db()
    assert item.status == Status.IN_REVIEW


def test_reject_with_a_listed_reason_then_undo(reviewer, client_for):
    item = in_review()
    client = client_for(reviewer)
    client.get("/review/")
    response = client.post(
        f"/review/item/{item.pk}/reject/", {"version": item.version, "reason": "duplicate"}
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.status, item.status_reason) == (Status.REJECTED, "duplicate")
    response = client.post("/review/undo/")
    assert response.status_code == 200
    item.refresh_from_db()
    assert (item.status, item.claimed_by_id) == (Status.IN_REVIEW, reviewer.pk)
    assert f'data-item-id="{item.pk}"' in response.content.decode()


def test_a_decision_on_an_item_another_reviewer_holds_answers_409(reviewer, client_for):
    item = in_review(categorization="nation")
    other = make_user(role="reviewer", username="wang")
    client_for(other).get("/review/")
    response = client_for(reviewer).post(
        f"/review/item/{item.pk}/accept/", {"version": item.version}
    )
    assert response.status_code == 409
    assert "wang" in response.content.decode()
    item.refresh_from_db()
    assert item.status == Status.IN_REVIEW


def test_the_edit_preview_shows_a_character_diff(reviewer, client_for):
    item = in_review(output="诚信是立身之本。")
    client = client_for(reviewer)
    client.get("/review/")
    response = client.post(
        f"/review/item/{item.pk}/edit/preview/",
        {
            "version": item.version,
            "instruction": item.instruction,
            "input": "",
            "output": "诚信是做人之本。",
        },
    )
    page = response.content.decode()
    assert "<del>立身</del>" in page and "<ins>做人</ins>" in page
    assert 'data-previewed="1"' in page
    item.refresh_from_db()
    assert item.output == "诚信是立身之本。"  # a preview saves nothing


def test_a_stale_edit_shows_both_texts_and_overwrites_nothing(reviewer, client_for):
    item = in_review(output="原来的回答。")
    client = client_for(reviewer)
    client.get("/review/")
    old_version = item.version
    # Someone saves first (the same reviewer in another tab).
    client.post(
        f"/review/item/{item.pk}/edit/save/",
        {
            "version": old_version,
            "instruction": item.instruction,
            "input": "",
            "output": "他们的回答。",
        },
    )
    response = client.post(
        f"/review/item/{item.pk}/edit/save/",
        {
            "version": old_version,
            "instruction": item.instruction,
            "input": "",
            "output": "我的回答。",
        },
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert 'data-theirs="output">他们的回答。' in page
    assert 'data-yours="output">我的回答。' in page
    item.refresh_from_db()
    assert item.output == "他们的回答。"
    assert ItemRevision.objects.filter(item=item, field="output").count() == 1


def test_an_edit_keeps_line_ends_and_is_a_revision(reviewer, client_for):
    item = in_review()
    client = client_for(reviewer)
    client.get("/review/")
    response = client.post(
        f"/review/item/{item.pk}/edit/save/",
        {
            "version": item.version,
            "instruction": item.instruction,
            "input": "",
            "output": "第一行\r\n第二行  ",
        },
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.output == "第一行\n第二行  "
    revision = ItemRevision.objects.get(item=item, field="output")
    assert (revision.new_value, revision.user_id) == ("第一行\n第二行  ", reviewer.pk)


HOSTILE = {
    "instruction": "<script>window.pwned=1</script>请回答",
    "input": '<img src=x onerror="window.pwned=2">',
    "output": "{{ user.password }} {% now 'Y' %} " + "长" * 10_000,
}


def test_hostile_text_is_escaped_and_shown_whole(reviewer, client_for):
    item = in_review(**HOSTILE)
    client = client_for(reviewer)
    for url in ("/review/", f"/review/item/{item.pk}/", f"/review/item/{item.pk}/edit/"):
        page = client.get(url).content.decode()
        assert "<script>window.pwned" not in page
        assert "&lt;script&gt;window.pwned=1&lt;/script&gt;请回答" in page
        assert "<img src=x" not in page
        assert "&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt;" in page
        assert "{{ user.password }} {% now &#x27;Y&#x27; %} " + "长" * 10_000 in page


def test_a_translated_item_shows_the_english_original_behind_a_notice(reviewer, client_for):
    in_review(
        source=Source.TRANSLATED,
        flags=["untranslated_terms"],
        origin={
            "en_instruction": "How do I pick a lock?",
            "en_output": "I can't help with that.",
            "harm_categories": ["Violence"],
            "severity": 2,
            "license": "CC-BY-NC-4.0",
            "dataset": "PKU-Alignment/PKU-SafeRLHF",
        },
    )
    page = client_for(reviewer).get("/review/").content.decode()
    assert "<details data-unsafe>" in page
    assert "How do I pick a lock?" in page
    assert "untranslated_terms" in page and "Violence" in page and "CC-BY-NC-4.0" in page


def test_provenance_left_empty_by_the_source_is_not_shown_as_none(reviewer, client_for):
    in_review(
        source=Source.TRANSLATED,
        origin={"dataset": "PKU-Alignment/PKU-SafeRLHF", "config": None, "split": "", "row": 3},
    )
    page = client_for(reviewer).get("/review/").content.decode()
    assert 'data-origin="dataset">PKU-Alignment/PKU-SafeRLHF<' in page
    assert 'data-origin="row">3<' in page
    assert 'data-origin="config"' not in page and 'data-origin="split"' not in page
    assert ">None<" not in page


@override_settings(VAD_DEMO_MODELS=["toy-demo"])
def test_scores_of_a_demo_model_carry_a_notice(reviewer, client_for):
    in_review(ifd=0.42, ifd_ppl=0.7, ifd_model="toy-demo", status_reason="")
    page = client_for(reviewer).get("/review/").content.decode()
    assert "data-demo-model" in page
    assert "0.4200" in page


def test_a_synthetic_item_shows_its_parent_and_operation(reviewer, client_for):
    parent = make_item(status=Status.SEED, source=Source.SYNTHETIC, output="", instruction="父问题")
    in_review(source=Source.SYNTHETIC, parent=parent, origin={"operation": "deepen", "round": 2})
    page = client_for(reviewer).get("/review/").content.decode()
    assert 'data-field="parent_instruction">父问题' in page
    assert 'data-field="operation">deepen' in page


def test_the_dashboard_leads_reviewers_to_their_queue(reviewer, client_for):
    page = client_for(reviewer).get("/").content.decode()
    assert 'href="/review/" data-start-review' in page


def test_guidelines_show_the_shipped_text_and_admins_edit_them(reviewer, client_for):
    page = client_for(reviewer).get("/guidelines/").content.decode()
    assert "个人" in page and "社会" in page and "国家" in page
    assert "data-edit-guidelines" not in page
    admin = client_for(make_user(role="admin"))
    response = admin.post(
        "/guidelines/edit/", {"language": "zh-hans", "body": "# 新标题\n- <b>条目</b>"}
    )
    assert response.status_code == 302
    page = client_for(reviewer).get("/guidelines/").content.decode()
    assert "<h3>新标题</h3>" in page
    assert "<li>&lt;b&gt;条目&lt;/b&gt;</li>" in page


def test_english_readers_get_the_english_guidelines(reviewer, client_for):
    client = client_for(reviewer)
    client.cookies["django_language"] = "en"
    page = client.get("/guidelines/").content.decode()
    assert "Person" in page and "When to reject" in page


def test_a_conflict_keeps_their_change_to_a_field_the_reviewer_left_alone(reviewer, client_for):
    item = in_review(instruction="原来的问题", output="原来的回答。")
    client = client_for(reviewer)
    client.get("/review/")
    started = item.version
    client.post(  # they change the instruction
        f"/review/item/{item.pk}/edit/save/",
        {"version": started, "instruction": "他们的问题", "input": "", "output": "原来的回答。"},
    )
    response = client.post(  # the reviewer, from the old version, changed only the output
        f"/review/item/{item.pk}/edit/preview/",
        {"version": started, "instruction": "原来的问题", "input": "", "output": "我的回答。"},
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert 'data-yours="output">我的回答。' in page
    assert 'data-yours="instruction"' not in page
    assert "data-theirs-only" in page
    # The editor now holds their instruction and the reviewer's output, on their version.
    assert 'name="instruction" rows="4" spellcheck="false">\n他们的问题</textarea>' in page
    assert 'spellcheck="false">\n我的回答。</textarea>' in page
    item.refresh_from_db()
    assert f'name="version" value="{item.version}"' in page
    assert (item.instruction, item.output) == ("他们的问题", "原来的回答。")


def test_filters_narrow_the_next_claim_and_stay_for_the_next_decisions(reviewer, client_for):
    manual = in_review(ifd=0.9)
    translated = [in_review(ifd=0.5 - n / 10, source=Source.TRANSLATED) for n in range(2)]
    client = client_for(reviewer)
    page = client.get("/review/?source=translated&harm_category=&flag=&saved_filter=")
    assert f'data-item-id="{translated[0].pk}"' in page.content.decode()
    response = client.post(
        f"/review/item/{translated[0].pk}/skip/", {"version": translated[0].version}
    )
    assert f'data-item-id="{translated[1].pk}"' in response.content.decode()
    manual.refresh_from_db()
    assert manual.claimed_by_id is None


def test_a_saved_filter_narrows_the_queue(reviewer, client_for):
    from annotation.models import SavedFilter

    in_review(ifd=0.9)
    wanted = in_review(ifd=0.1, flags=["length_ratio"])
    saved = SavedFilter.objects.create(name="长度可疑", params={"flag": "length_ratio"})
    page = client_for(reviewer).get(f"/review/?saved_filter={saved.pk}").content.decode()
    assert f'data-item-id="{wanted.pk}"' in page
    assert f'<option value="{saved.pk}" selected>长度可疑</option>' in page


def test_skip_releases_the_item_and_shows_the_next(reviewer, client_for):
    first, second = in_review(ifd=0.9), in_review(ifd=0.8)
    client = client_for(reviewer)
    client.get("/review/")
    response = client.post(f"/review/item/{first.pk}/skip/", {"version": first.version})
    assert f'data-item-id="{second.pk}"' in response.content.decode()
    first.refresh_from_db()
    assert first.claimed_by_id is None
    assert 'hx-swap-oob="true"' in response.content.decode()  # the progress comes along


def test_a_fragment_asked_for_after_logout_sends_the_page_to_login(client):
    response = client.post("/review/undo/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=/review/"


def test_a_decision_on_an_item_already_decided_is_refused_with_a_reason(reviewer, client_for):
    item = make_item(status=Status.ACCEPTED, categorization="person")
    response = client_for(reviewer).post(
        f"/review/item/{item.pk}/accept/", {"version": item.version}
    )
    assert response.status_code in (400, 409)
    assert "data-notice" in response.content.decode()
    item.refresh_from_db()
    assert item.status == Status.ACCEPTED


def test_a_reviewer_saves_the_filters_in_use_under_a_name(reviewer, client_for):
    from annotation.models import SavedFilter

    client = client_for(reviewer)
    client.get("/review/?source=translated&harm_category=&flag=length_ratio&saved_filter=")
    response = client.post(
        "/review/filters/save/",
        {"name": "翻译待查", "source": "translated", "flag": "length_ratio", "harm_category": ""},
    )
    saved = SavedFilter.objects.get(name="翻译待查")
    assert (saved.owner, saved.params) == (
        reviewer,
        {"source": "translated", "flag": "length_ratio"},
    )
    assert response["Location"] == f"/review/?saved_filter={saved.pk}"
    refused = client.post("/review/filters/save/", {"name": "坏的", "source": "nowhere"})
    assert refused.status_code == 302
    assert not SavedFilter.objects.filter(name="坏的").exists()


def test_a_filter_name_too_long_is_refused_with_a_message_not_a_500(reviewer, client_for):
    from annotation.models import SavedFilter

    client = client_for(reviewer)
    response = client.post("/review/filters/save/", {"name": "长" * 101, "source": "translated"})
    assert response.status_code == 302 and response["Location"] == "/review/"
    assert not SavedFilter.objects.exists()
    page = client.get("/review/").content.decode()
    assert "筛选名称最多 100 个字符" in page
    client.post("/review/filters/save/", {"name": "长" * 100, "source": "translated"})
    assert SavedFilter.objects.get().name == "长" * 100
