"""What a pipeline run measures about its release: fidelity, utility, anonymity, membership
risk and an optional audit.

These numbers read the real records (members and holdout), so they are *not* private: they go to
the run's ``metrics.json``, never into ``release/``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Mapping

import pandas as pd

from privsynth.core.domain import Domain
from privsynth.core.errors import ConfigError

if TYPE_CHECKING:
    from privsynth.datasets.spec import DatasetSpec
    from privsynth.synthesizers.base import Synthesizer

__all__ = ["Evaluation", "evaluate_release"]


@dataclass(frozen=True)
class Evaluation:
    """What to measure about a release (the ``evaluation`` config group's ``_target_``).

    Args:
        tvd_orders: Orders of the marginal total-variation distances.
        utility: Train-on-synthetic/test-on-real AUC for the dataset's target.
        anonymity: k, l, t of the release on the dataset's quasi-identifiers / sensitive column.
        membership: Distance-to-closest-record and density-ratio membership inference.
        mia_n_eval, mia_bootstrap: Records scored and bootstrap rounds of the attacks.
        audit_trials: An empirical epsilon lower bound over that many fits (0: no audit).
        audit_rows, audit_jobs: Rows the audit fits on, and parallel fits.
        papers: The benchmark papers' metrics (tab_bench's TVD and query error, SynMeter's
            fidelity and query error) of the release against the holdout.
    """

    tvd_orders: tuple = (1, 2, 3)
    utility: bool = True
    anonymity: bool = True
    membership: bool = True
    mia_n_eval: int = 1000
    mia_bootstrap: int = 100
    audit_trials: int = 0
    audit_rows: int = 500
    audit_jobs: int = 1
    papers: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tvd_orders", tuple(int(o) for o in self.tvd_orders))

    @classmethod
    def from_mapping(cls, spec: "Mapping[str, Any] | Evaluation | None") -> "Evaluation":
        if isinstance(spec, Evaluation):
            return spec
        values = {k: v for k, v in dict(spec or {}).items() if k != "_target_"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"evaluation.{unknown[0]}: unknown key; the evaluation takes {sorted(known)}.")
        return cls(**values)


def evaluate_release(members: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, domain: Domain, spec: Evaluation,
                     dataset: "DatasetSpec | None", factory: "Callable[[int], Synthesizer]", seed: int) -> dict[str, Any]:
    """The metrics ``spec`` asks for, of ``synthetic`` against the ``members`` it was fitted on
    and the ``holdout`` (TSTR's test set, the attacks' non-members); ``seed`` seeds the
    evaluators' own (public) randomness."""
    from privsynth import evaluation as ev

    metrics: dict[str, Any] = {}
    if len(members) == 0:  # a split of a tiny table: nothing to compare with (private metrics only)
        metrics["skipped"] = "the split left no members: fidelity, utility and attacks not measured"
        return metrics
    for order in spec.tvd_orders:
        if order <= len(domain):
            metrics[f"tvd_{order}"] = ev.marginal_tvd(members, synthetic, domain, order=order).average
    if len(holdout) == 0:  # no holdout (a table in an engine, or a tiny split): what needs one is not measured
        metrics["skipped"] = "no holdout records: utility (TSTR) and membership attacks not measured"
        spec = dataclasses.replace(spec, utility=False, membership=False)
    if spec.utility and dataset is not None and dataset.target:
        tstr = ev.train_synthetic_test_real(members, holdout, synthetic, domain, target=dataset.target, positive=dataset.positive)
        metrics.update(tstr_auc=tstr.auc_synthetic, trtr_auc=tstr.auc_real)
    qis = list((dataset.quasi_identifiers if dataset else None) or domain.with_role("quasi_identifier"))
    sensitive = (dataset.sensitive if dataset else None) or next(iter(domain.with_role("sensitive")), None)
    if spec.anonymity and qis:
        metrics["k_anonymity"] = ev.k_anonymity(synthetic, qis).k
        if sensitive and not synthetic[sensitive].isna().any():
            metrics["l_diversity"] = ev.l_diversity(synthetic, qis, sensitive).l
            metrics["t_closeness"] = ev.t_closeness(synthetic, qis, sensitive, domain=domain).t
    if domain.rules:
        table = ev.rule_violations(domain, real=members, synthetic=synthetic)
        metrics["rule_violations"] = {row["rule"]: {"real": int(row["real"]), "synthetic": int(row["synthetic"])}
                                      for row in table.to_dict("records")}
    if spec.membership:
        mia = ev.membership_inference(synthetic, members, holdout, domain, n_eval=spec.mia_n_eval, n_bootstrap=spec.mia_bootstrap,
                                      random_state=seed)
        for name, attack in mia.attacks.items():
            metrics[f"mia_{name}_auc"] = attack.auc
            metrics[f"mia_{name}_advantage"] = attack.advantage
    if spec.papers:
        target, task = (dataset.target, None) if dataset is not None else (None, None)
        tvd = ev.tab_bench_tvd(holdout, synthetic, domain, target=target, task=task)
        metrics.update(tab_bench_tvd_1=tvd.one_way, tab_bench_tvd_2=tvd.two_way,
                       tab_bench_query=ev.tab_bench_query_error(holdout, synthetic, domain, seed=seed),
                       synmeter_query_3=ev.synmeter_query_error(holdout, synthetic, domain, n_way=min(3, len(domain)), seed=seed))
        if len(synthetic) >= len(holdout):
            metrics.update({f"synmeter_{k}": v for k, v in
                            ev.synmeter_fidelity(holdout, synthetic, domain, seed=seed, pairs=False).items()})
    if spec.audit_trials:
        audited = ev.audit(factory, members.iloc[: spec.audit_rows], domain, n_trials=spec.audit_trials, n_jobs=spec.audit_jobs,
                           random_state=seed, progress=False)
        metrics.update(audit_epsilon_lower_bound=audited.epsilon_lower_bound, audit_exceeds_claim=audited.exceeds_claim)
    return metrics
