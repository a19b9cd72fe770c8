import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotation.models import Status
from annotation.services import item_change_status, item_edit
from tests.factories import make_item

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/items/"


def detail_url(item_id: int) -> str:
    return f"/api/v1/items/{item_id}/"


def walk(client: APIClient, url: str) -> tuple[list[int], int]:
    """All item ids over every page, and the number of pages."""
    seen: list[int] = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        seen += [item["id"] for item in response.json()["results"]]
        url = response.json()["next"]
        pages += 1
    return seen, pages


@pytest.mark.parametrize("url", [LIST_URL, detail_url(1)])
def test_anonymous_requests_are_refused_with_401(anon_api, url):
    assert anon_api.get(url).status_code == 401


def test_a_user_without_a_role_is_refused_with_403():
    nobody = get_user_model().objects.create_user(username="nobody", password="pw-123456")
    client = APIClient()
    client.force_authenticate(nobody)
    assert client.get(LIST_URL).status_code == 403


def test_reviewers_and_admins_can_read_items(reviewer_api, admin_api):
    item = make_item()
    for client in (reviewer_api, admin_api):
        assert client.get(LIST_URL).status_code == 200
        assert client.get(detail_url(item.pk)).status_code == 200


def test_items_are_not_created_through_the_api_and_a_patch_needs_the_version(admin_api):
    item = make_item()
    assert admin_api.post(LIST_URL, {"instruction": "x"}).status_code == 405
    response = admin_api.patch(detail_url(item.pk), {"output": "x"})
    assert response.status_code == 400 and "version" in response.json()
    item.refresh_from_db()
    assert item.output != "x"


def test_an_item_shows_the_vad_fields_and_its_bookkeeping(reviewer_api, admin_user):
    parent = make_item()
    item = make_item(
        parent=parent,
        status=Status.ACCEPTED,
        categorization="social",
        reviewer=admin_user,
        ifd=0.42,
        origin={"dataset": "demo", "harm_categories": ["Violence"]},
        flags=["checked"],
    )
    (shown,) = [i for i in reviewer_api.get(LIST_URL).json()["results"] if i["id"] == item.pk]
    assert list(shown)[:6] == ["id", "instruction", "input", "output", "source", "categorization"]
    assert shown["instruction"] == item.instruction
    assert shown["status"] == "accepted"
    assert shown["parent"] == parent.pk
    assert shown["import_job"] is None
    assert shown["reviewer"] == admin_user.username
    assert shown["ifd"] == 0.42
    assert shown["origin"] == {"dataset": "demo", "harm_categories": ["Violence"]}
    assert shown["flags"] == ["checked"]
    assert {"version", "content_hash", "source_key", "ifd_ppl", "ifd_model", "ifd_params"} <= set(
        shown
    )
    assert {"scored_at", "reviewed_at", "created_at", "updated_at", "status_reason"} <= set(shown)


def test_an_item_without_reviewer_shows_null(reviewer_api):
    make_item()
    assert reviewer_api.get(LIST_URL).json()["results"][0]["reviewer"] is None


def test_cursor_pagination_walks_every_item_once_in_id_order(reviewer_api):
    items = [make_item() for _ in range(11)]
    seen, pages = walk(reviewer_api, f"{LIST_URL}?page_size=4")
    assert seen == [item.pk for item in items]
    assert pages == 3


def test_pages_hold_50_items_by_default_and_at_most_500(reviewer_api):
    for _ in range(51):
        make_item()
    assert len(reviewer_api.get(LIST_URL).json()["results"]) == 50
    assert len(reviewer_api.get(f"{LIST_URL}?page_size=100000").json()["results"]) == 51


def test_listing_costs_the_same_few_queries_whatever_the_page_size(
    reviewer_api, admin_user, django_assert_max_num_queries
):
    for _ in range(30):
        make_item(status=Status.ACCEPTED, categorization="person", reviewer=admin_user)
    # Authentication and the role check, then one query for the page: no query per item.
    with django_assert_max_num_queries(4):
        response = reviewer_api.get(f"{LIST_URL}?page_size=30")
    assert len(response.json()["results"]) == 30


def test_list_filters_apply(reviewer_api):
    wanted = make_item(source="synthetic", categorization="nation", ifd=0.3)
    make_item(source="synthetic", categorization="person", ifd=0.3)
    make_item(source="synthetic", categorization="nation")
    response = reviewer_api.get(
        LIST_URL, {"source": "synthetic", "categorization": "nation,social", "max_ifd": "0.5"}
    )
    assert [i["id"] for i in response.json()["results"]] == [wanted.pk]


def test_filters_survive_pagination(reviewer_api):
    wanted = [make_item(source="translated") for _ in range(5)]
    make_item(source="manual")
    seen, _ = walk(reviewer_api, f"{LIST_URL}?source=translated&page_size=2")
    assert seen == [item.pk for item in wanted]


def test_text_and_harm_category_search_through_the_api(reviewer_api):
    wanted = make_item(output="关于网络安全的回答", origin={"harm_categories": ["Cybercrime"]})
    make_item(origin={"harm_categories": ["Cybercrime"]})
    response = reviewer_api.get(LIST_URL, {"q": "网络安全", "harm_category": "Cybercrime"})
    assert [i["id"] for i in response.json()["results"]] == [wanted.pk]


def test_bad_filter_values_get_400_naming_each_parameter(reviewer_api):
    response = reviewer_api.get(
        LIST_URL, {"min_ifd": "lots", "status": "finished", "updated_after": "soon"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"min_ifd", "status", "updated_after"}


def test_item_detail_includes_the_revision_history(reviewer_api, admin_user):
    item = make_item()
    item = item_edit(
        item_id=item.pk, user=admin_user, version=item.version, changes={"output": "新的回答"}
    )
    item_change_status(item_id=item.pk, status=Status.IN_REVIEW, user=admin_user, reason="look")
    body = reviewer_api.get(detail_url(item.pk)).json()
    assert body["output"] == "新的回答"
    assert body["version"] == 3
    history = [(r["field"], r["new"], r["user"], r["version"]) for r in body["revisions"]]
    assert history == [
        ("output", "新的回答", admin_user.username, 2),
        ("status", "in_review", admin_user.username, 3),
    ]
    assert body["revisions"][1]["old"] == "candidate"
    assert body["revisions"][1]["reason"] == "look"
    assert body["revisions"][0]["created_at"]


def test_a_missing_item_is_404(reviewer_api):
    assert reviewer_api.get(detail_url(987654)).status_code == 404
