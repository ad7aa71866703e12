"""schemathesis, driven by the app's own OpenAPI schema, against a live server: no server
errors, and every response matches the schema (status codes, content types, bodies)."""

import subprocess
import sys

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
])


def test_schemathesis_finds_no_server_error(live_server, user, password, tmp_path):
    base = live_server.url
    login = requests.post(f"{base}/api/auth/login/",
                          json={"username": "alice", "password": password}, timeout=10).json()
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/schema/",
         "--checks", CHECKS, "--max-examples", "40", "--seed", "1",
         "--header", f"Authorization: Bearer {login['access']}",
         # The app's endpoints; logout would end the very session the run authenticates with.
         "--include-path-regex", "^/api/auth/", "--exclude-path-regex", "logout",
         "--report", "junit", "--report-dir", str(tmp_path),
         "--no-color"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,  # its example database
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "No issues found" in output or " passed" in output, output[-3000:]
