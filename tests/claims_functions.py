"""ACCESS_TOKEN_CLAIMS functions for tests/test_claims.py: one good, the others each wrong
in one way."""

import datetime


def session_label(user, session):
    return {"device": session.device, "tenant": {"id": 7, "plan": "pro"}, "pk_seen": str(user.pk)}


def reserved(user, session):
    return {"roles": [], "sid": "someone else's"}


def not_json(user, session):
    return {"roles": [], "since": datetime.date(2020, 1, 1)}


def a_tuple(user, session):
    return {"roles": ("admin",)}


def not_a_dict(user, session):
    return ["admin"]


def too_big(user, session):
    return {"roles": [f"group-{n:04d}" for n in range(400)]}
