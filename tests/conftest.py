import os

import pytest
from hypothesis import HealthCheck, settings

from fastconv import _dispatch, _schedule

# Every profile is derandomized, so each run checks the same cases. "quick" (the default, what a newcomer runs):
# 60 examples per property. "ci" (CI, FASTCONV_HYPOTHESIS_PROFILE=ci): 500. "dev": 25, unseeded, for a fast pass
# while editing.
settings.register_profile("quick", max_examples=60, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=500, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("FASTCONV_HYPOTHESIS_PROFILE", "quick"))

VARIANTS = _dispatch.available_variants()


@pytest.fixture(params=VARIANTS)
def variant(request):
    """Run the test on each compiled SIMD variant this CPU supports (the portable baseline included)."""
    with _dispatch.use_variant(request.param):
        yield request.param


@pytest.fixture(autouse=True)
def split_even_tiny_images(monkeypatch):
    """Calls below fastconv._schedule.WORK_PER_THREAD run on one thread, and pieces have at least MIN_PIECE_WORK;
    the tests' images are small, so lower both to make every call with threads > 1 really split its rows into
    pieces across threads (the code a large image takes)."""
    monkeypatch.setattr(_schedule, "WORK_PER_THREAD", 1)
    monkeypatch.setattr(_schedule, "MIN_PIECE_WORK", 1)
