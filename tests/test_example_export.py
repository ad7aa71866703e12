"""The example's CSV export follows OWASP's CSV-injection rules: every field in double quotes,
and user text that a spreadsheet could run as a formula — at its start, after whitespace, after
a separator a spreadsheet may split on — is prefixed with a single quote."""

import csv
import io

import pytest

from django_doubletoken.models import DeviceSession
from example_project.api import spreadsheet_safe

from .helpers import access_token, bearer


@pytest.mark.parametrize("text", [
    "=1+1", "+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "\n=1+1", "\0=1+1",
    " =1+1", "\u00a0=1+1", "  +cmd",  # after leading whitespace
    "a;=1+1", "a,=1+1", "a\t=1+1", "a|=1+1", "a\n@x", "a; -2+3",  # after a separator
    '=HYPERLINK("http://evil")',
])
def test_formula_like_text_is_neutralised(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("value", [
    "laptop", "Bob's phone", "a=1", "x-y", "user@example.com", "", "a; b", "1+1", None, 42,
])
def test_plain_values_pass_unchanged(value):
    assert spreadsheet_safe(value) == value


pytestmark = pytest.mark.django_db


def test_the_export_quotes_every_field_and_neutralises_formulas(api, user, login):
    labels = [" =1+1", "a;=1+1", 'say "hi"', "laptop"]
    pairs = [login(device="device") for _ in labels]
    for pair, label in zip(pairs, labels, strict=True):  # as stored, whitespace included
        DeviceSession.objects.filter(pk=pair["session_id"]).update(device=label)
    response = api.get("/api/export/", **bearer(access_token(pairs[-1], remaining=60)))
    assert response.status_code == 200
    text = response.content.decode()
    lines = text.splitlines()
    assert lines[0] == '"id","client","device","ip","created_at","last_used_at"'
    assert all(line.startswith('"') and line.endswith('"') for line in lines), text
    rows = list(csv.reader(io.StringIO(text)))
    assert [row[2] for row in rows[1:]] == ["' =1+1", "'a;=1+1", 'say "hi"', "laptop"]
    assert '"say ""hi"""' in text  # a quote inside a field is doubled
