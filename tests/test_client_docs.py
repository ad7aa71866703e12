"""The Python client page's DPoP and step-up examples (docs/how-to/python-client.md), run as a
reader would paste them against the live server (tests/test_docs_examples.py runs the page's
first examples the same way)."""

from __future__ import annotations

import time

import pytest
import requests

from django_doubletoken.client import RequestsAuth, StepUpRequired, TokenStore

from .helpers import access_claims, craft
from .test_docs_examples import _as_reader, blocks

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = "how-to/python-client.md"


def _block(marker: str) -> str:
    (found,) = [code for code in blocks(PAGE) if marker in code]
    return found


def test_the_dpop_example_binds_the_session(live_server, user, password, settings, capsys):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP": "optional"}
    namespace: dict = {}
    exec(_as_reader(_block("dpop=True"), live_server.url, password), namespace)
    store = namespace["store"]
    assert store.bound and capsys.readouterr().out.split() == ["True", store.dpop.thumbprint]
    # The token the example holds is useless without its key.
    stolen = requests.get(f"{live_server.url}/api/me/", timeout=10,
                          headers={"Authorization": f"Bearer {store.access}"})
    assert stolen.status_code == 401


def test_the_step_up_example_changes_the_password(live_server, user, password):
    fresh = TokenStore.login(live_server.url, "alice", password)
    pair = {"access": fresh.access, "session_id": fresh.session_id}
    # Signed in an hour ago: the example project's password view asks for a step-up.
    store = TokenStore(craft(access_claims(pair, auth_time=int(time.time()) - 3600)),
                       fresh.refresh, base_url=live_server.url)
    session = requests.Session()
    session.auth = RequestsAuth(store)
    with pytest.raises(StepUpRequired):
        session.post(f"{live_server.url}/api/password/", json={})

    code = _as_reader(_block("StepUpRequired"), live_server.url, password).replace(
        'getpass("Confirm your password: ")', repr(password))
    namespace = {"session": session, "store": store}
    exec(code, namespace)
    new = "a much longer passphrase, 42 times"
    namespace["change_password"](password, new)

    user.refresh_from_db()
    assert user.check_password(new)
    assert store.session_id == fresh.session_id  # the same session, still signed in
    assert session.get(f"{live_server.url}/api/me/").status_code == 200
