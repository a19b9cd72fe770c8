"""Review through the API (SPEC §7.1): claim, accept, reject, skip, undo, PATCH; 409s, 403s."""

import pytest
import yaml
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Item, ReviewDecision, Status
from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db

CLAIM = "/api/v1/review/claim/"


def item_url(item_id: int, action: str = "") -> str:
    return f"/api/v1/items/{item_id}/" + (f"{action}/" if action else "")


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def in_review(**fields) -> Item:
    return make_item(status=Status.IN_REVIEW, **fields)


def test_a_token_script_reviews_a_whole_queue(reviewer_user):
    items = [in_review(ifd=i / 10) for i in range(1, 7)] + [in_review(categorization="nation")]
    api = token_client(reviewer_user)
    seen = []
    while True:
        response = api.post(CLAIM)
        if response.status_code == 204:
            break
        assert response.status_code == 200, response.content
        item = response.json()
        assert item["claimed_by"] == reviewer_user.username and item["claim_expires_at"]
        # The same item again on a second claim, with the same version.
        assert api.post(CLAIM).json()["id"] == item["id"]
        seen.append(item["id"])
        shown = api.get(item_url(item["id"])).json()
        assert shown["version"] == item["version"] and "revisions" in shown
        if len(seen) % 3 == 0:
            response = api.post(
                item_url(item["id"], "reject"), {"version": item["version"], "reason": "wrong"}
            )
        else:
            if not item["categorization"]:
                item = api.patch(
                    item_url(item["id"]),
                    {"version": item["version"], "categorization": "social"},
                    format="json",
                ).json()
            response = api.post(item_url(item["id"], "accept"), {"version": item["version"]})
        assert response.status_code == 200, response.content
        assert response.json()["status"] in ("accepted", "rejected")
        assert response.json()["claimed_by"] is None
    # IFD high to low, the unscored item last.
    assert seen == [i.pk for i in reversed(items[:6])] + [items[6].pk]
    assert Item.objects.filter(status=Status.IN_REVIEW).count() == 0
    assert Item.objects.filter(status=Status.ACCEPTED, reviewer=reviewer_user).count() == 5
    assert Item.objects.filter(status=Status.REJECTED, status_reason="wrong").count() == 2
    assert ReviewDecision.objects.filter(reviewer=reviewer_user).count() == 7


def test_item_json_has_what_spec_7_1_lists(reviewer_api):
    in_review(ifd=0.3, flags=["length_ratio"], origin={"dataset": "demo"})
    item = reviewer_api.post(CLAIM).json()
    for key in ("id", "version", "status", "ifd", "flags", "origin", "claim_expires_at"):
        assert key in item
    for key in ("instruction", "input", "output", "source", "categorization"):
        assert key in item


def test_a_stale_write_answers_409_with_the_current_item(reviewer_api, reviewer_user):
    item = in_review(categorization="person")
    edited = reviewer_api.patch(
        item_url(item.pk), {"version": 1, "output": "  新的回答\n"}, format="json"
    )
    assert edited.status_code == 200 and edited.json()["version"] == 2
    assert edited.json()["output"] == "  新的回答\n"  # never trimmed
    for method, url, body in [
        ("post", item_url(item.pk, "accept"), {"version": 1}),
        ("post", item_url(item.pk, "reject"), {"version": 1, "reason": "wrong"}),
        ("post", item_url(item.pk, "skip"), {"version": 1}),
        ("patch", item_url(item.pk), {"version": 1, "output": "过期的修改"}),
        ("patch", item_url(item.pk), {"version": 1, "categorization": "nation"}),
    ]:
        response = getattr(reviewer_api, method)(url, body, format="json")
        assert response.status_code == 409, (url, response.content)
        assert response.json()["code"] == "stale"
        assert response.json()["current"]["version"] == 2
        assert response.json()["current"]["output"] == "  新的回答\n"
    item.refresh_from_db()
    assert (item.status, item.version, item.categorization) == ("in_review", 2, "person")


def test_writes_on_another_reviewers_item_answer_409_but_reading_is_allowed(reviewer_api):
    holder = make_user(role="reviewer")
    item = in_review(categorization="person")
    assert token_client(holder).post(CLAIM).json()["id"] == item.pk
    assert reviewer_api.get(item_url(item.pk)).status_code == 200
    # The claim is not offered to anyone else.
    assert reviewer_api.post(CLAIM).status_code == 204
    for method, url, body in [
        ("post", item_url(item.pk, "accept"), {"version": 1}),
        ("post", item_url(item.pk, "reject"), {"version": 1, "reason": "wrong"}),
        ("post", item_url(item.pk, "skip"), {}),
        ("patch", item_url(item.pk), {"version": 1, "output": "抢先修改"}),
    ]:
        response = getattr(reviewer_api, method)(url, body, format="json")
        assert response.status_code == 409, (url, response.content)
        assert response.json()["code"] == "claimed"
        assert response.json()["holder"] == holder.username
    item.refresh_from_db()
    assert (item.status, item.version, item.claimed_by) == ("in_review", 1, holder)


def test_an_edit_that_duplicates_another_item_answers_409_naming_it(reviewer_api):
    other = make_item(instruction="甲", output="乙")
    item = in_review(instruction="丙", output="丁")
    response = reviewer_api.patch(
        item_url(item.pk), {"version": 1, "instruction": "甲", "output": "乙"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate"
    assert response.json()["other_id"] == other.pk
    assert str(other.pk) in response.json()["detail"]


def test_accept_without_a_class_and_reject_without_a_reason_answer_400(reviewer_api):
    item = in_review()
    response = reviewer_api.post(item_url(item.pk, "accept"), {"version": 1})
    assert response.status_code == 400 and "categorization" in response.json()
    response = reviewer_api.post(item_url(item.pk, "reject"), {"version": 1})
    assert response.status_code == 400 and "reason" in response.json()
    response = reviewer_api.post(item_url(item.pk, "accept"), {"categorization": "person"})
    assert response.status_code == 400 and "version" in response.json()
    response = reviewer_api.patch(
        item_url(item.pk), {"version": 1, "categorization": "family"}, format="json"
    )
    assert response.status_code == 400 and "categorization" in response.json()
    assert reviewer_api.post(item_url(987654, "accept"), {"version": 1}).status_code == 404
    item.refresh_from_db()
    assert (item.status, item.version) == ("in_review", 1)


def test_accept_of_an_item_already_decided_answers_409(reviewer_api):
    item = in_review(categorization="person")
    assert reviewer_api.post(item_url(item.pk, "accept"), {"version": 1}).status_code == 200
    response = reviewer_api.post(item_url(item.pk, "accept"), {"version": 2})
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


def test_skip_answers_204_and_the_next_claim_is_another_item(reviewer_api):
    first = in_review(ifd=0.9)
    second = in_review(ifd=0.1)
    assert reviewer_api.post(CLAIM).json()["id"] == first.pk
    assert reviewer_api.post(item_url(first.pk, "skip")).status_code == 204
    assert reviewer_api.post(CLAIM).json()["id"] == second.pk


def test_undo_brings_the_item_back_held_by_the_reviewer(reviewer_api, reviewer_user):
    item = in_review()
    later = in_review()
    rejected = reviewer_api.post(item_url(item.pk, "reject"), {"version": 1, "reason": "x"})
    assert rejected.status_code == 200
    assert reviewer_api.post(CLAIM).json()["id"] == later.pk
    response = reviewer_api.post(item_url(item.pk, "undo"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["claimed_by"], body["version"]) == (
        "in_review",
        reviewer_user.username,
        3,
    )
    later.refresh_from_db()
    assert later.claimed_by is None
    again = reviewer_api.post(item_url(item.pk, "undo"))
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_undo"


def test_claim_query_parameters_narrow_the_queue(reviewer_api):
    in_review(ifd=0.9)
    translated = in_review(ifd=0.1, source="translated")
    assert reviewer_api.post(CLAIM + "?source=translated").json()["id"] == translated.pk
    # The item held comes back whatever the filters: reloading never claims a second.
    assert reviewer_api.post(CLAIM + "?source=manual").json()["id"] == translated.pk
    reviewer_api.post(item_url(translated.pk, "skip"))
    bad = reviewer_api.post(CLAIM + "?source=elsewhere")
    assert bad.status_code == 400 and "source" in bad.json()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/jobs/"),
        ("get", "/api/v1/jobs/1/"),
        ("post", "/api/v1/jobs/1/cancel/"),
        ("post", "/api/v1/imports/"),
        ("post", "/api/v1/imports/1/rollback/"),
        ("get", "/api/v1/export/"),
        ("post", "/api/v1/pipeline/score/"),
        ("post", "/api/v1/pipeline/filter/"),
    ],
)
def test_reviewers_get_403_on_admin_endpoints(reviewer_user, method, url):
    response = getattr(token_client(reviewer_user), method)(url)
    assert response.status_code == 403, response.content


def test_anonymous_and_roleless_users_cannot_claim(anon_api):
    assert anon_api.post(CLAIM).status_code == 401
    nobody = make_user(role="reviewer")
    nobody.groups.clear()
    assert token_client(nobody).post(CLAIM).status_code == 403


def test_the_api_root_lists_its_endpoints(reviewer_api):
    response = reviewer_api.get("/api/v1/")
    assert response.status_code == 200
    listed = {e["path"]: e["methods"] for e in response.json()["endpoints"]}
    assert listed["/api/v1/review/claim/"] == ["POST"]
    assert listed["/api/v1/items/{item_id}/"] == ["GET", "PATCH"]
    for action in ("accept", "reject", "skip", "undo"):
        assert listed[f"/api/v1/items/{{item_id}}/{action}/"] == ["POST"]
    assert "/api/v1/export/" in listed and "/api/v1/jobs/" in listed
    assert response.json()["schema"].endswith("/api/v1/schema/")


def test_the_schema_documents_the_review_endpoints(admin_api):
    response = admin_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    paths = yaml.safe_load(response.content)["paths"]
    claim = paths["/api/v1/review/claim/"]["post"]
    assert {"200", "204"} <= set(claim["responses"])
    assert {"source", "harm_category", "flag", "saved_filter"} <= {
        p["name"] for p in claim["parameters"]
    }
    for action in ("accept", "reject", "undo"):
        assert "409" in paths[f"/api/v1/items/{{item_id}}/{action}/"]["post"]["responses"]
    assert "204" in paths["/api/v1/items/{item_id}/skip/"]["post"]["responses"]
    assert "409" in paths["/api/v1/items/{item_id}/"]["patch"]["responses"]


def test_conflicts_are_explained_in_the_readers_language(reviewer_api):
    holder = make_user(role="reviewer")
    item = in_review()
    token_client(holder).post(CLAIM)
    url, body = item_url(item.pk, "reject"), {"version": 1, "reason": "wrong"}
    chinese = reviewer_api.post(url, body).json()["detail"]
    english = reviewer_api.post(url, body, HTTP_ACCEPT_LANGUAGE="en").json()["detail"]
    assert chinese.startswith(f"条目 {item.pk} 正由 {holder.username} 审核")
    assert english.startswith(f"Item {item.pk} is being reviewed by {holder.username}")
