"""`privsynth compare`: the fidelity report right after `sample` (issue #22, item 7)."""

import json

import pytest

import privsynth as ps
from privsynth.cli import main


@pytest.fixture(scope="module")
def tables(census):
    real, domain = census
    ruled = ps.Domain.from_dict({**domain.to_dict(), "rules": ["age >= 18"]})
    synth = ps.synthesizers.PrivBayes(epsilon=1.0, random_state=0, progress=False).fit(real, ruled).sample(1500, random_state=1)
    return real, synth, ruled


def test_compare_measures_every_column_associations_and_rules(tables):
    real, synth, domain = tables
    result = ps.evaluation.compare(real, synth, domain)
    assert list(result.columns["column"]) == list(domain.names) and result.columns["tvd"].between(0, 1).all()
    assert 0 < result.tvd_1 < 0.2 and 0 < result.tvd_2 < 0.3
    assert result.association_real.shape == (len(domain), len(domain))
    assert result.rules.iloc[0]["rule"] == "age >= 18" and result.rules.iloc[0]["synthetic"] == 0
    same = ps.evaluation.compare(real, real, domain)
    assert same.tvd_1 == 0 and same.tvd_2 == 0
    json.dumps(result.to_dict())  # plain JSON


def test_the_cli_prints_the_table_and_writes_the_report(tables, tmp_path, capsys):
    real, synth, domain = tables
    real.to_csv(tmp_path / "real.csv", index=False)
    synth.to_csv(tmp_path / "synth.csv", index=False)
    domain.to_file(tmp_path / "d.yaml")
    code = main(["compare", str(tmp_path / "real.csv"), str(tmp_path / "synth.csv"), "--domain", str(tmp_path / "d.yaml"),
                 "--report", str(tmp_path / "r.html")])
    out = capsys.readouterr().out
    assert code == 0 and "average 1-way TVD" in out and "hours-per-week" in out and "age >= 18" in out
    page = (tmp_path / "r.html").read_text()
    assert page.count("<img") == 1 + 3 + len(domain) and "keep it as private" in page
    assert main(["compare", str(tmp_path / "real.csv"), str(tmp_path / "synth.csv"), "--domain", str(tmp_path / "d.yaml"),
                 "--report", str(tmp_path / "r.md")]) == 0
    assert (tmp_path / "r.md").read_text().startswith("# Real vs synthetic")
    assert main(["compare", str(tmp_path / "real.csv"), str(tmp_path / "nope.csv"), "--domain", str(tmp_path / "d.yaml")]) == 2
