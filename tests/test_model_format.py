"""Model files written by every format version load in this one (docs/model-format.md).

``tests/fixtures/models/format<N>/`` hold files written by the code of format version N
(``make_fixtures.py``); they are never rewritten. Files whose synthesizer layout an older
privsynth wrote and this one cannot read are refused with a message saying to refit.
"""

from pathlib import Path

import pytest
from recorded_rows import differences

import privsynth as ps
from privsynth import IntegrityError
from privsynth.core import io as model_io

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "models"
DEEP = ("dpvae", "dpgan", "dptransformer", "dpdiffusion")
CURRENT = sorted((FIXTURES / f"format{model_io.FORMAT_VERSION}").glob("*.privsynth"))


def test_every_synthesizer_has_a_fixture_of_the_current_format():
    assert {p.stem for p in CURRENT} == set(ps.synthesizers.ALL_NAMES)


@pytest.mark.parametrize("path", CURRENT, ids=[p.stem for p in CURRENT])
def test_current_format_loads_verifies_and_samples_the_same_rows(path):
    if path.stem in DEEP:
        pytest.importorskip("torch")
    model = ps.load(path)
    assert ps.verify(model.certificate_).ok and model.certificate_.valid
    expected = path.with_name(f"{path.stem}.sample.csv").read_text()
    assert differences(model.sample(20, random_state=0), expected) == []  # the same public seed, the same rows (floats to 1e-5)


READABLE_FORMAT1 = ("privbayes", "dpgaussiancopula")
REFIT_FORMAT1 = ("independent", "dpvae", "dpgan")  # layouts changed by issues #9 (n_hat) and #10 (DP-SGD redesign)


@pytest.mark.parametrize("name", READABLE_FORMAT1)
def test_format1_files_still_load(name):
    model = ps.load(FIXTURES / "format1" / f"{name}.privsynth")
    assert ps.verify(model.certificate_).ok and model.signed_by_ is None
    out = model.sample(50, random_state=0)
    ps.core.validate(out, model.domain_)


@pytest.mark.parametrize("name", REFIT_FORMAT1)
def test_format1_files_of_changed_layouts_are_refused_with_a_reason(name):
    with pytest.raises(IntegrityError, match="cannot read .* refit the model"):
        ps.load(FIXTURES / "format1" / f"{name}.privsynth")


def test_a_future_format_version_is_refused(tmp_path, monkeypatch, census):
    data, domain = census
    model = ps.synthesizers.IndependentMarginals(epsilon=1.0, random_state=0).fit(data, domain)
    monkeypatch.setattr(model_io, "FORMAT_VERSION", 99)
    path = model.save(tmp_path / "future.privsynth")
    monkeypatch.undo()
    with pytest.raises(IntegrityError, match="version 99 is not supported .* upgrade privsynth"):
        ps.load(path)


def test_a_future_synthesizer_layout_is_refused(tmp_path, monkeypatch, census):
    data, domain = census
    model = ps.synthesizers.PrivBayes(epsilon=1.0, random_state=0, progress=False).fit(data, domain)
    monkeypatch.setattr(type(model), "state_version", 7)
    path = model.save(tmp_path / "newer.privsynth")
    monkeypatch.undo()
    with pytest.raises(IntegrityError, match="layout 7,.* reads layouts up to 1: upgrade privsynth"):
        ps.load(path)



DATABASES = sorted(FIXTURES.glob("database*/*.privsynth"))


@pytest.mark.parametrize("path", DATABASES, ids=[f"{p.parent.name}/{p.stem}" for p in DATABASES])
def test_database_models_load_verify_and_sample_the_same_tables(path):
    model = ps.relational.load(path)
    assert ps.verify(model.certificate_).ok and ps.relational.verify_database(model.certificate_).ok
    for name, frame in model.sample(20, random_state=0).items():
        expected = path.with_name(f"{path.stem}.{name}.sample.csv").read_text()
        assert differences(frame, expected) == [], name


def test_there_is_a_database_fixture_of_the_current_format():
    assert (FIXTURES / f"database{model_io.FORMAT_VERSION}" / "bank.privsynth").is_file()
