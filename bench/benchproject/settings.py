"""Settings of the benchmark project, chosen by environment variables set by ``bench/run.py``.

BENCH_STACK       "ours" (DoubleTokenAuthentication + SlidingTokenMiddleware, revocation check
                  on), "ours_stateless" (the same with DOUBLETOKEN["REVOCATION_CHECK"] = False),
                  "ours_cached" (the same as "ours" with DOUBLETOKEN["CLIENT_SIDE_CACHE"] = True)
                  or "simplejwt" (JWTAuthentication, no middleware of ours; its
                  JWTStatelessUserAuthentication on /simplejwt/stateless-me/). Each stack runs in
                  its own gunicorn, so neither pays for the other's middleware.
BENCH_REDIS_URL   the benchmark's own redis-server (never the shared one).
BENCH_DB          "postgres" (BENCH_PG_NAME on 127.0.0.1:5432) or "sqlite" (BENCH_SQLITE_PATH).
BENCH_DB_POOL     set: Django's psycopg connection pool instead of persistent connections (for
                  a view that queries the database under uvicorn; bench/asgi_path.py).
BENCH_CACHE       "django-redis" (the default) or "valkey": django-valkey's ValkeyCache, with its
                  natively async AsyncValkeyCache on the same server and keys as
                  DOUBLETOKEN["ASYNC_CACHE_ALIAS"] (the ASGI path awaits valkey-py's asyncio
                  client instead of running the cache call in a thread; bench/asgi_path.py).

Everything else is identical across stacks: same apps, same schema, same database, same
renderer and parser, persistent database connections, a fast password hasher.
"""

import os
from datetime import timedelta

STACK = os.environ.get("BENCH_STACK", "ours")
if STACK not in ("ours", "ours_stateless", "ours_cached", "simplejwt"):
    raise RuntimeError(
        f"BENCH_STACK must be ours, ours_stateless, ours_cached or simplejwt, not {STACK!r}"
    )

SECRET_KEY = "bench-only-secret-key-0123456789abcdef0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_doubletoken",
    "adrf",
]

# The only difference between the stacks' request paths is the authentication (and for ours
# the sliding middleware, which is part of what is measured).
MIDDLEWARE = (
    ["django_doubletoken.middleware.SlidingTokenMiddleware"] if STACK != "simplejwt" else []
)

ROOT_URLCONF = "benchproject.urls"
WSGI_APPLICATION = "benchproject.wsgi.application"

if os.environ.get("BENCH_DB", "postgres") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("BENCH_PG_NAME", "bench_doubletoken"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            # Persistent connections, as in production: without them every request that
            # touches the database (simplejwt's user SELECT) would pay a new connection.
            "CONN_MAX_AGE": 600,
        }
    }
    if os.environ.get("BENCH_DB_POOL"):
        # Under ASGI each request's sync code runs in a thread of its own, and a persistent
        # connection per thread soon exceeds max_connections; Django's advice for ASGI is its
        # psycopg connection pool instead (CONN_MAX_AGE must then be 0).
        DATABASES["default"].update(CONN_MAX_AGE=0, OPTIONS={"pool": {"min_size": 2,
                                                                        "max_size": 8}})
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE_PATH", "/tmp/bench_doubletoken.sqlite3"),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30},
            "CONN_MAX_AGE": 600,
        }
    }

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_KIND = os.environ.get("BENCH_CACHE", "django-redis")
if CACHE_KIND == "django-redis":
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
elif CACHE_KIND == "valkey":
    _VALKEY_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
    CACHES = {
        "default": {
            "BACKEND": "django_valkey.cache.ValkeyCache",
            "LOCATION": REDIS_URL.replace("redis://", "valkey://", 1),
            "OPTIONS": _VALKEY_OPTIONS,
        },
        # django-valkey keeps one pool per URL for both caches; the query gives the async
        # cache a pool of asyncio connections of its own.
        "async": {
            "BACKEND": "django_valkey.async_cache.cache.AsyncValkeyCache",
            "LOCATION": REDIS_URL.replace("redis://", "valkey://", 1) + "?client_name=async",
            "OPTIONS": _VALKEY_OPTIONS,
        },
    }
else:
    raise RuntimeError(f"BENCH_CACHE must be django-redis or valkey, not {CACHE_KIND!r}")

# Login is dominated by password hashing; a fast hasher isolates the token work (scenario 5).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS: list = []

_AUTHENTICATION = {
    "ours": "django_doubletoken.authentication.DoubleTokenAuthentication",
    "ours_stateless": "django_doubletoken.authentication.DoubleTokenAuthentication",
    "ours_cached": "django_doubletoken.authentication.DoubleTokenAuthentication",
    "simplejwt": "rest_framework_simplejwt.authentication.JWTAuthentication",
}[STACK]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [_AUTHENTICATION],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only for both stacks: no browsable-API negotiation cost on either side.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

ACCESS_LIFETIME = timedelta(minutes=15)

DOUBLETOKEN = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "SESSION_LIFETIME": timedelta(days=30),
    "SLIDING_THRESHOLD": timedelta(minutes=5),
    "GRACE_PERIOD": timedelta(seconds=30),
    "SIGNING_KEY": "bench-doubletoken-signing-key-0123456789abcdef",
    # On for "ours", as a project runs it: counted in the login's one cache round trip. The
    # bench's users each log in from an address of their own (X-Forwarded-For, see
    # CLIENT_IP_HEADER), few enough per minute that none is refused. Off for the others
    # (scenario 5b: "ours_stateless" differs from "ours" only in what requests check).
    "LOGIN_THROTTLE_RATE": (
        os.environ.get("BENCH_LOGIN_THROTTLE_RATE", "1000/min") if STACK == "ours" else None
    ),
    # bench/lua/bench.lua sends each user's login from its own address.
    "CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR",
    "REVOCATION_CHECK": STACK != "ours_stateless",
    "CLIENT_SIDE_CACHE": STACK == "ours_cached",
    # Scenario 6's sessions are bound to a DPoP key (a profile of their own: the web
    # profile's bearer path is unchanged).
    "CLIENT_PROFILES": {"web": {}, "dpop": {"DPOP": "optional"}},
}
if CACHE_KIND == "valkey":
    DOUBLETOKEN["ASYNC_CACHE_ALIAS"] = "async"
if os.environ.get("BENCH_LAST_USED_SECONDS"):
    DOUBLETOKEN["LAST_USED_UPDATE_INTERVAL"] = timedelta(
        seconds=float(os.environ["BENCH_LAST_USED_SECONDS"])
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "SIGNING_KEY": "bench-simplejwt-signing-key-0123456789abcdef0123",
}

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
