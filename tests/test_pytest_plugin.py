"""The pytest plugin (privsynth/pytest_plugin.py): from the demo project in examples/, and on small
projects built here whose model files break the trust policy -- the test body must never run."""

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import privsynth as ps
from privsynth.core.signing import generate_keypair
from privsynth.synthesizers import IndependentMarginals

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo-project"


def test_the_demo_project_tests_use_the_plugin():
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v"], cwd=DEMO, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("privsynth: model files need a valid certificate; epsilon <= 1; delta <= 0.0001; signed by one of 1 trusted key(s)"
            in done.stdout)
    assert "4 passed" in done.stdout


@pytest.fixture(scope="module")
def models(tmp_path_factory, census):
    """A signed model (key A, epsilon 1), the same at epsilon 3, and an invalid one (inferred domain)."""
    data, domain = census
    root = tmp_path_factory.mktemp("models")
    key_a, pub_a, _ = generate_keypair(root / "a")
    _, pub_b, _ = generate_keypair(root / "b")
    IndependentMarginals(epsilon=1.0, random_state=0).fit(data, domain).save(root / "eps1.privsynth", sign_key=key_a)
    IndependentMarginals(epsilon=3.0, random_state=0).fit(data, domain).save(root / "eps3.privsynth", sign_key=key_a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inferred = ps.Domain.infer(data)
        IndependentMarginals(epsilon=1.0, random_state=0).fit(data, inferred).save(root / "invalid.privsynth", sign_key=key_a)
    IndependentMarginals(epsilon=0.5, delta=0.49, noise="gaussian").fit(data, domain, allow_large_delta=True).save(
        root / "delta.privsynth", sign_key=key_a)
    return {"dir": root, "a": pub_a, "b": pub_b}


BODY = """
import pytest
from pathlib import Path

@pytest.mark.privsynth(model="{model}", n=40, seed=1)
def test_body(synthetic_data):
    Path("ran").write_text("the test body ran")
    assert len(synthetic_data) == 40
"""


def _run(pytester, models, model, *args):
    pytester.makepyfile(test_it=BODY.format(model=model))
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "--privsynth-model-dir", str(models["dir"]), *args)


def test_a_trusted_model_gives_the_test_its_rows(pytester, models):
    result = _run(pytester, models, "eps1.privsynth", "--privsynth-trusted-key", str(models["a"]), "--privsynth-max-epsilon", "1")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "ran").exists()


@pytest.mark.parametrize("model, args, reason", [
    ("eps1.privsynth", ["--privsynth-trusted-key", "KEY_B"], "not among the trusted keys"),
    ("eps3.privsynth", ["--privsynth-max-epsilon", "1"], "over max_epsilon=1"),
    ("invalid.privsynth", [], "invalid certificate"),
    ("missing.privsynth", [], "No privsynth model file"),
    ("delta.privsynth", ["--privsynth-max-epsilon", "1"], "over max_delta=0.0001"),
], ids=["untrusted-signer", "over-max-epsilon", "invalid-certificate", "missing-file", "over-max-delta"])
def test_a_refused_model_is_an_error_before_the_test_body_runs(pytester, models, model, args, reason):
    args = [str(models["b"]) if a == "KEY_B" else a for a in args]
    result = _run(pytester, models, model, *args)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{reason}*"])
    assert not (pytester.path / "ran").exists()


def test_a_larger_max_delta_accepts_a_large_delta(pytester, models):
    _run(pytester, models, "delta.privsynth", "--privsynth-max-delta", "0.5").assert_outcomes(passed=1)


def test_allow_invalid_accepts_an_invalid_certificate(pytester, models):
    _run(pytester, models, "invalid.privsynth", "--privsynth-allow-invalid").assert_outcomes(passed=1)


def test_ini_options_set_the_policy_relative_to_the_ini_file(pytester, models):
    (pytester.path / "keys").mkdir()
    (pytester.path / "keys" / "b.pub").write_bytes(Path(models["b"]).read_bytes())
    pytester.makeini(f"[pytest]\nprivsynth_model_dir = {models['dir']}\nprivsynth_trusted_keys =\n    keys/b.pub\n"
                     "privsynth_max_epsilon = 5\n")
    pytester.makepyfile(test_it=BODY.format(model="eps1.privsynth"))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["privsynth: model files need a valid certificate; epsilon <= 5; delta <= 0.0001; "
                                 "signed by one of 1 trusted key(s)",
                                 "*not among the trusted keys*"])
    result.assert_outcomes(errors=1)


def test_samples_are_cached_per_session_and_copied_per_test(pytester, models):
    pytester.makepyfile(test_it="""
import pytest

@pytest.mark.privsynth(model="eps1.privsynth", n=30, seed=2, conditions="age >= 40")
def test_one(synthetic_data, privsynth_cache):
    assert (synthetic_data["age"] >= 40).all()
    synthetic_data["age"] = -1

@pytest.mark.privsynth("eps1.privsynth", n=30, seed=2, conditions="age >= 40")
def test_two(synthetic_data, privsynth_cache, privsynth_sample):
    assert (synthetic_data["age"] >= 40).all()  # not the frame test_one changed
    assert len(privsynth_cache._samples) == 1 and len(privsynth_cache._models) == 1
    other = privsynth_sample("eps1.privsynth", n=30, seed=3)
    assert not other.equals(synthetic_data) and len(privsynth_cache._samples) == 2
    assert privsynth_sample("eps1.privsynth", n=30, seed=2, conditions="age >= 40").equals(synthetic_data)
""")
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--privsynth-model-dir", str(models["dir"])).assert_outcomes(passed=2)


def test_the_fixture_without_a_marker_says_how_to_mark_the_test(pytester, models):
    pytester.makepyfile(test_it="def test_x(synthetic_data):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*@pytest.mark.privsynth(model=*"])
    result.assert_outcomes(errors=1)


def test_the_marker_is_registered(pytester):
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.privsynth(model, n=1000, seed=0, conditions=None)*"])


def test_the_plugins_default_max_delta_is_the_librarys():
    """The plugin keeps its own copy (it imports privsynth only when a test asks for data)."""
    from privsynth.privacy.budget import MAX_DELTA
    from privsynth.pytest_plugin import _MAX_DELTA

    assert _MAX_DELTA == MAX_DELTA
