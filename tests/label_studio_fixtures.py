"""The ``label_studio`` fixture: a client for the live server at $LABEL_STUDIO_URL / $LABEL_STUDIO_API_KEY.

Without those variables the tests that use it are skipped, or fail under CI (CI set): there a missing
server is a broken setup, not a reason to skip. Start one with ``scripts/label_studio.sh start`` and
``set -a; . .label-studio/env; set +a``.
"""

from __future__ import annotations

import os

import pytest

from autolabel.review.label_studio_client import KEY_ENV, URL_ENV, LabelStudio

MARKER = "label_studio: needs a live Label Studio server (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY)"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (when this module is loaded as a plugin)."""
    config.addinivalue_line("markers", MARKER)


@pytest.fixture(scope="session")
def label_studio() -> LabelStudio:
    """A checked client for the live Label Studio server; skip (or fail under CI) when none is configured."""
    missing = [name for name in (URL_ENV, KEY_ENV) if not os.environ.get(name)]
    if missing:
        reason = (
            f"Label Studio server absent: {' and '.join(missing)} unset "
            "(start one: scripts/label_studio.sh start; set -a; . .label-studio/env; set +a)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    client = LabelStudio.from_env()
    client.check()  # a down server or a bad token fails here, with LabelStudioError's advice
    return client
