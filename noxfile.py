"""The support matrix: `nox` runs the suite (everything but the PostgreSQL-marked tests) on
Django 5.2 / Python 3.11 and Django 6.x / Python 3.12 and 3.13, each in its own virtualenv.
`scripts/test` (CI) runs the default cell, 3.11 + Django 5.2, plus the PostgreSQL tests.

    nox                      # the whole matrix
    nox -s "tests-3.12"      # one cell
"""

import nox

MATRIX = {"3.11": "Django>=5.2,<6.0", "3.12": "Django>=6.0,<7.0", "3.13": "Django>=6.0,<7.0"}

nox.options.sessions = ["tests"]


@nox.session(python=list(MATRIX))
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]", MATRIX[session.python])
    session.run("scripts/ensure-redis", "redis://127.0.0.1:6379/0", external=True)
    session.run("python", "-m", "django", "--version")
    session.run(
        "python", "-m", "pytest", "-m", "not postgres", "-p", "no:cacheprovider",
        *session.posargs,
        env={"TEST_REDIS_URL": f"redis://127.0.0.1:6379/{8 + list(MATRIX).index(session.python)}"},
    )
