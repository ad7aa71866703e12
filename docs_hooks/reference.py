"""MkDocs hook: the reference pages generated from the code at build time.

Settings (``conf.SETTINGS``), error codes, system checks, signals and the HTTP API (the
drf-spectacular schema) are rendered into pages that exist only in the built site, so they
cannot drift from the code. A setting, error code, check or signal without its documentation
entry stops the build (``ReferenceError``), and so does ``mkdocs build --strict`` in
tests/test_docs.py.

Hand-written pages take the error contract's data (code lists, close codes, reference rows)
from the same table through ``{{ ... }}`` placeholders, expanded here (render.py says which).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docs_hooks import render  # noqa: E402

GENERATED = {
    "reference/settings.md": render.settings_page,
    "reference/errors.md": render.errors_page,
    "reference/checks.md": render.checks_page,
    "reference/signals.md": render.signals_page,
    "reference/http-api.md": render.http_api_page,
}


def on_config(config, **kwargs):
    render.setup_django()
    return config


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    for path, build in GENERATED.items():
        files.append(File.generated(config, path, content=build()))
    files.append(File.generated(config, "reference/openapi.yaml", content=render.openapi_yaml()))
    return files


def on_page_markdown(markdown, page, config, files, **kwargs):
    return render.expand_placeholders(markdown, where=page.file.src_path)
