"""Poisson sampling of records for DP-SGD and the pipeline's holdout."""

import numpy as np


def test_a_large_poisson_sample_is_drawn_in_bounded_chunks_with_the_same_draws():
    """Memory for a table of any size is one chunk of draws; the sample is the one-call sample."""
    from privsynth.mechanisms import sampling

    n = 2 * sampling._CHUNK + 12_345
    got = sampling.poisson_sample(n, 0.125, rng=np.random.default_rng(11))
    want = np.flatnonzero(np.random.default_rng(11).random(n) < 0.125)
    np.testing.assert_array_equal(got, want)
    secure = sampling.poisson_sample(n, 0.125, secure=True)
    assert secure.max() < n and abs(len(secure) - n / 8) < 6 * np.sqrt(n * 0.125 * 0.875)
