"""The reliability suite's switches: the `soak` marker and the hypothesis profiles.

Fast versions of every test run in the normal suite. Long versions carry
``@pytest.mark.soak`` and are deselected unless ``SHORTSCI_SOAK=1`` (``make soak`` sets it);
the fuzz tests then use the ``soak`` hypothesis profile instead of ``reliability``.
``HYPOTHESIS_PROFILE=soak`` picks the long profile without the soak tests.

The profiles are applied per test (``@profile()``), not loaded globally, so the rest of the
suite keeps hypothesis's own defaults.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

SOAK = os.environ.get("SHORTSCI_SOAK") == "1"

_COMMON = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# CI explores the same examples every run (a red build is then a real change, not luck);
# the soak profile draws new ones each time.
settings.register_profile("reliability", _COMMON, max_examples=30, derandomize=True)
settings.register_profile("soak", _COMMON, max_examples=2_000)


def profile() -> settings:
    """The hypothesis settings for this run: ``soak`` when asked for, else ``reliability``."""
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("soak" if SOAK else "reliability")
    return settings.get_profile(name if name in ("soak", "reliability") else "reliability")


def pytest_configure(config: pytest.Config) -> None:
    """Register the `soak` marker (the project runs with ``--strict-markers``)."""
    config.addinivalue_line(
        "markers", "soak: long reliability runs, only with SHORTSCI_SOAK=1 (make soak)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the soak tests unless ``SHORTSCI_SOAK=1``."""
    if SOAK:
        return
    soak = [item for item in items if item.get_closest_marker("soak") is not None]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if item.get_closest_marker("soak") is None]
