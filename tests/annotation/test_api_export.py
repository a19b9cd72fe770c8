import json
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from annotation.models import ExportLog, Status
from tests.factories import make_item, make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/export/"


def accepted(**fields):
    fields.setdefault("categorization", "person")
    return make_item(status=Status.ACCEPTED, **fields)


def records_of(response) -> list[dict]:
    data = b"".join(response.streaming_content).decode("utf-8")
    if response["Content-Type"].startswith("application/x-ndjson"):
        return [json.loads(line) for line in data.splitlines()]
    return json.loads(data)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_anonymous_requests_are_refused_with_401(anon_api, fmt):
    response = anon_api.get(URL, {"format": fmt})
    assert response.status_code == 401
    assert not ExportLog.objects.exists()


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_reviewers_may_not_export(reviewer_api, fmt):
    assert reviewer_api.get(URL, {"format": fmt}).status_code == 403


def test_the_export_streams_json_as_an_attachment(admin_api):
    accepted()
    response = admin_api.get(URL, {"format": "json"})
    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="vad-export-')
    assert response["Content-Disposition"].endswith('.json"')
    assert len(records_of(response)) == 1


def test_the_export_streams_json_lines(admin_api):
    accepted()
    response = admin_api.get(URL, {"format": "jsonl"})
    assert response.streaming is True
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response["Content-Disposition"].endswith('.jsonl"')


def test_json_is_the_default_format(admin_api):
    accepted()
    response = admin_api.get(URL)
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert isinstance(records_of(response), list)


def test_json_and_jsonl_give_the_same_records_with_exactly_the_five_keys(admin_api):
    for n in range(4):
        accepted(input=f"上下文 {n}" if n % 2 else "", categorization="nation")
    as_json = records_of(admin_api.get(URL, {"format": "json"}))
    as_jsonl = records_of(admin_api.get(URL, {"format": "jsonl"}))
    assert as_json == as_jsonl
    assert len(as_json) == 4
    assert all(
        list(r) == ["instruction", "input", "output", "source", "categorization"] for r in as_json
    )


def test_only_accepted_items_in_id_order_unless_asked(admin_api):
    first = accepted()
    rejected = make_item(status=Status.REJECTED, categorization="social")
    second = accepted()
    default = records_of(admin_api.get(URL, {"format": "jsonl"}))
    assert [r["instruction"] for r in default] == [first.instruction, second.instruction]
    both = records_of(admin_api.get(URL, {"format": "jsonl", "status": "accepted,rejected"}))
    assert [r["instruction"] for r in both] == [
        first.instruction,
        rejected.instruction,
        second.instruction,
    ]


def test_include_meta_adds_the_meta_key(admin_api, admin_user):
    item = accepted(reviewer=admin_user, ifd=0.5, origin={"license": "Apache-2.0"})
    (record,) = records_of(admin_api.get(URL, {"format": "json", "include": "meta"}))
    assert list(record)[-1] == "meta"
    assert record["meta"]["id"] == item.pk
    assert record["meta"]["reviewer"] == admin_user.username
    assert record["meta"]["license"] == "Apache-2.0"


def test_filters_apply(admin_api):
    wanted = accepted(source="translated", categorization="social", ifd=0.3)
    accepted(source="translated", categorization="social")
    accepted(source="manual", categorization="social", ifd=0.3)
    response = admin_api.get(
        URL, {"format": "jsonl", "source": "translated", "categorization": "social", "max_ifd": 1}
    )
    assert [r["instruction"] for r in records_of(response)] == [wanted.instruction]


def test_non_ascii_is_sent_unescaped_and_text_exactly_as_stored(admin_api):
    accepted(instruction="  为什么要尊老爱幼？\n", output="因为……\t")
    response = admin_api.get(URL, {"format": "jsonl"})
    data = b"".join(response.streaming_content)
    assert "为什么要尊老爱幼".encode() in data
    assert b"\\u" not in data
    record = json.loads(data)
    assert (record["instruction"], record["output"]) == ("  为什么要尊老爱幼？\n", "因为……\t")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"format": "csv"}, {"format"}),
        ({"include": "everything"}, {"include"}),
        ({"min_ifd": "x", "updated_after": "tomorrow"}, {"min_ifd", "updated_after"}),
        ({"categorization": "family", "status": "done"}, {"categorization", "status"}),
    ],
)
def test_bad_parameters_get_400_naming_them(admin_api, params, named):
    response = admin_api.get(URL, params)
    assert response.status_code == 400
    assert set(response.json()) == named
    assert not ExportLog.objects.exists()


def test_each_export_is_logged_with_who_what_and_how_many(admin_api, admin_user):
    accepted()
    accepted()
    response = admin_api.get(URL, {"format": "jsonl", "source": "manual"})
    log = ExportLog.objects.get()
    assert log.completed is False  # nothing has been sent yet
    b"".join(response.streaming_content)
    log.refresh_from_db()
    assert (log.user, log.format, log.count, log.completed) == (admin_user, "jsonl", 2, True)
    assert log.filters == {"source": "manual", "status": "accepted"}


@pytest.mark.django_db(transaction=True)
def test_a_real_http_client_with_a_token_reads_the_stream(live_server):
    admin = make_user(role="admin")
    token = Token.objects.create(user=admin)
    items = [accepted(output=f"回答 {n} " + "字" * 2000) for n in range(60)]
    request = urllib.request.Request(
        f"{live_server.url}{URL}?format=jsonl",
        headers={"Authorization": f"Token {token.key}"},
    )
    pieces = []
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
        while piece := response.read(16 * 1024):
            pieces.append(piece)
    lines = b"".join(pieces).decode("utf-8").splitlines()
    assert [json.loads(line)["output"] for line in lines] == [item.output for item in items]
    assert ExportLog.objects.get().count == 60


def test_the_format_parameter_wins_over_the_accept_header(admin_api):
    accepted()
    response = admin_api.get(URL, {"format": "jsonl"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
