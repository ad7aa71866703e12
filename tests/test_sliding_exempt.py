"""Per-view opt-out of sliding: ``sliding_exempt`` in every form a view takes."""

import asyncio
import csv
import io

import pytest

from django_doubletoken.decorators import sliding_exempt
from django_doubletoken.sliding import is_sliding_exempt

from .helpers import access_token, bearer

pytestmark = pytest.mark.django_db

HEADER = "NEW_HTTP_AUTHORIZATION"
EXEMPT = ["/exempt/plain/", "/exempt/api-view/", "/exempt/api-class/", "/exempt/django-class/",
          "/exempt/viewset/", "/api/export/"]


@pytest.mark.parametrize("path", EXEMPT)
def test_exempt_views_never_get_a_new_token(path, api, user, login, counting_cache):
    pair = login()
    near = access_token(pair, remaining=60)
    counting_cache.calls.clear()
    response = api.get(path, **bearer(near))
    assert response.status_code == 200
    assert HEADER not in response and "Access-Control-Expose-Headers" not in response
    # DRF views still authenticate (one round trip); plain views are not even looked at.
    assert "add" not in counting_cache.calls and len(counting_cache.calls) <= 1
    # The same token still slides on a view that did not opt out.
    assert api.get("/whoami-pk/", **bearer(near))[HEADER]


def test_exempt_drf_views_still_authenticate(api, user, login):
    pair = login()
    assert api.get("/exempt/api-class/", **bearer(pair["access"])).json() == {"pk": user.pk}
    refused = api.get("/exempt/api-class/", HTTP_AUTHORIZATION="Bearer garbage")
    assert refused.status_code == 401 and refused.json()["code"] == "token_invalid"


def test_exempt_async_view(async_client, user, login):
    pair = login()
    headers = {"Authorization": f"Bearer {access_token(pair, remaining=60)}"}

    async def go(path):
        return await async_client.get(path, headers=headers)

    assert HEADER not in asyncio.run(go("/exempt/async/"))
    assert asyncio.run(go("/async-plain/"))[HEADER]


def test_example_export_is_a_csv_of_the_users_devices(api, user, other_user, login):
    login(device="=HYPERLINK(\"http://evil\")")
    pair = login(device="laptop")
    login(username="bob", device="bob's phone")
    response = api.get("/api/export/", **bearer(access_token(pair, remaining=60)))
    assert response.status_code == 200 and HEADER not in response
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["id", "client", "device", "ip", "created_at", "last_used_at"]
    assert [row[2] for row in rows[1:]] == ["'=HYPERLINK(\"http://evil\")", "laptop"]
    assert api.get("/api/export/").status_code == 401


def test_is_sliding_exempt_reads_functions_and_classes():
    def view(request):
        return None

    assert not is_sliding_exempt(view) and not is_sliding_exempt(None)
    assert is_sliding_exempt(sliding_exempt(view))

    class Plain:
        pass

    def as_view(request):
        return None

    as_view.view_class = sliding_exempt(Plain)
    assert is_sliding_exempt(as_view)
