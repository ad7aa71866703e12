"""The settings of a project moving from djangorestframework-simplejwt, as
docs/how-to/simplejwt.md shows them: the how-to's code blocks are copied from this file
(tests/test_simplejwt.py checks they still are) and the exchange is tested under them."""

from datetime import datetime, timedelta, timezone

# --- the project's simplejwt settings, left as they were --------------------------------
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=14),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "SIGNING_KEY": "the-key-simplejwt-has-always-signed-with-0123456789",
    "ALGORITHM": "HS256",
    "AUDIENCE": "https://api.example.com",
    "ISSUER": "https://example.com",
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

# --- what they become -------------------------------------------------------------------
# The day this release goes live: no simplejwt token is issued after it.
SWITCHED_ON = datetime(2027, 3, 1, tzinfo=timezone.utc)

DOUBLETOKEN = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    # simplejwt's refresh lifetime was an idle limit once tokens rotated; so is this one.
    "REFRESH_TOKEN_LIFETIME": SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"],
    # New: the hard end of a session, however often it is refreshed.
    "SESSION_LIFETIME": timedelta(days=90),
    "AUDIENCE": SIMPLE_JWT["AUDIENCE"],
    "ISSUER": SIMPLE_JWT["ISSUER"],
    # refresh/ also exchanges a simplejwt refresh token, once, until the last one issued
    # has expired; after that every simplejwt token is refused.
    "SIMPLEJWT_MIGRATION": {
        "UNTIL": SWITCHED_ON + SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"],
    },
}
