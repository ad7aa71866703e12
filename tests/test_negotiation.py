"""The app's DRF views remember DRF's content negotiation: the same answers as DRF's own, for
every Accept header and format, asked once or again; a project's own negotiation class is
used as it is."""

import pytest
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer

from django_doubletoken import negotiation

pytestmark = pytest.mark.django_db

VERIFY = "/api/auth/verify/"


@pytest.fixture(autouse=True)
def nothing_remembered():
    negotiation._answers.clear()
    yield
    negotiation._answers.clear()


def _verify(api, path=VERIFY, **headers):
    return api.post(path, {"token": "not-a-token"}, format="json", **headers)


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("application/json; indent=4", "application/json"),
        ("text/html", "text/html; charset=utf-8"),
        ("text/html;q=0.5, application/json", "application/json"),
    ],
)
def test_every_accept_header_gets_drfs_answer_each_time(api, accept, content_type):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    first, again = _verify(api, **headers), _verify(api, **headers)
    assert first.status_code == again.status_code == 401
    assert first["Content-Type"] == again["Content-Type"] == content_type
    if content_type == "application/json":  # the browsable API's page holds a CSRF token
        assert first.content == again.content
    assert len(negotiation._answers) == 1


def test_each_accept_header_is_remembered_apart(api):
    kinds = ["application/json", "text/html", "*/*", "text/html"]
    answers = [_verify(api, HTTP_ACCEPT=accept)["Content-Type"] for accept in kinds]
    assert answers == ["application/json", "text/html; charset=utf-8", "application/json",
                       "text/html; charset=utf-8"]
    assert len(negotiation._answers) == 3


def test_the_indent_asked_for_is_kept_from_the_remembered_answer(api):
    for _ in range(2):
        body = _verify(api, HTTP_ACCEPT="application/json; indent=4").content.decode()
        assert body.startswith('{\n    "detail"')


def test_a_format_in_the_url_outranks_the_remembered_accept_answer(api):
    assert _verify(api, HTTP_ACCEPT="text/html")["Content-Type"].startswith("text/html")
    as_json = _verify(api, f"{VERIFY}?format=json", HTTP_ACCEPT="text/html")
    assert as_json["Content-Type"] == "application/json"


def test_what_drf_refuses_is_refused_every_time_and_not_remembered(api):
    for _ in range(2):
        assert _verify(api, HTTP_ACCEPT="image/png").status_code == 406
        assert _verify(api, f"{VERIFY}?format=yaml").status_code == 404
    assert negotiation._answers == {}


def test_the_memory_is_bounded(api, monkeypatch):
    monkeypatch.setattr(negotiation, "MAX_REMEMBERED", 3)
    for indent in range(5):
        _verify(api, HTTP_ACCEPT=f"application/json; indent={indent}")
    assert 1 <= len(negotiation._answers) <= 3


class OnlyJSON(BaseContentNegotiation):
    calls = 0

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        type(self).calls += 1
        renderer = next(r for r in renderers if isinstance(r, JSONRenderer))
        return renderer, renderer.media_type


def test_a_projects_own_negotiation_class_is_used(rf):
    from django_doubletoken.views import VerifyView

    view = type("OwnNegotiationVerify", (VerifyView,), {"content_negotiation_class": OnlyJSON})
    OnlyJSON.calls = 0
    for _ in range(2):
        request = rf.post(VERIFY, {"token": "x"}, content_type="application/json",
                          HTTP_ACCEPT="text/html")
        response = view.as_view()(request)
        response.render()
        assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert OnlyJSON.calls == 2
    assert negotiation._answers == {}
