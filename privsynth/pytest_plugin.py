"""pytest plugin: realistic test data from certified privsynth model files.

Installed with privsynth (entry point ``pytest11``), so any project whose tests run in an
environment with privsynth can write::

    import pytest

    @pytest.mark.privsynth(model="models/customers.privsynth", n=500, seed=0, conditions="age >= 18")
    def test_scoring_handles_adults(synthetic_data):
        assert score(synthetic_data).between(0, 1).all()

    def test_two_samples(privsynth_sample):
        young = privsynth_sample("models/customers.privsynth", n=200, conditions="age < 30")
        old = privsynth_sample("models/customers.privsynth", n=200, conditions="age >= 60")

    @pytest.mark.privsynth(model="models/bank.privsynth", n=100)   # a database model (privsynth.relational)
    def test_statements_join(synthetic_data):
        accounts, customers = synthetic_data["accounts"], synthetic_data["customers"]
        assert accounts["customer_id"].isin(customers["customer_id"]).all()

**Trust is checked before the test runs** (when its fixture is set up, so a refused model is an
*error* of that test, never a pass or a skip): the model file must verify (checksums,
signature), be signed by one of the trusted keys when any are configured, spend at most
``max_epsilon`` and hold at ``max_delta`` or less (both recomputed from the certificate's
ledger, not read from its claim; ``max_delta`` defaults to 1e-4) and, by default, carry a valid
certificate. Configure in ``pytest.ini`` / ``pyproject.toml``
(``[tool.pytest.ini_options]``) or on the command line:

============================  ===================================  =============================================
ini option                    command line                         meaning
============================  ===================================  =============================================
``privsynth_trusted_keys``    ``--privsynth-trusted-key PUB``      public keys (``privsynth keygen``); when set,
                              (repeatable)                         every model must be signed by one of them
``privsynth_max_epsilon``     ``--privsynth-max-epsilon E``        refuse models that spend more
``privsynth_max_delta``       ``--privsynth-max-delta D``          refuse models whose guarantee needs a larger
                                                                   delta (default 1e-4)
``privsynth_require_valid``   ``--privsynth-allow-invalid``        refuse invalid certificates (default: true)
``privsynth_model_dir``       ``--privsynth-model-dir DIR``        where relative model paths start (default:
                                                                   the directory of the ini file, else rootdir)
============================  ===================================  =============================================

Model files are loaded once per session and samples cached per ``(model, n, seed,
conditions)``; every test gets its own copy of the frame, so a test that changes its data
cannot change another's. ``seed`` is a *public* sampling seed (default 0: the same rows on
every run and machine); ``seed=None`` draws fresh rows and is not cached. ``conditions`` are
extra rules in the language of the domain's business rules (:mod:`privsynth.core.rules`),
enforced by rejection (:meth:`privsynth.synthesizers.base.Synthesizer.sample`).

privsynth itself is imported only when a test asks for synthetic data, so the plugin costs
nothing to projects that do not use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import pytest

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SyntheticDataCache"]

_MARKER = "privsynth"
_MAX_DELTA = 1e-4  # privsynth.privacy.budget.MAX_DELTA, not imported: the plugin imports privsynth only when a test asks
_HELP_MARKER = ("privsynth(model, n=1000, seed=0, conditions=None): the synthetic_data fixture samples n rows from the "
                "certified model file (trust checked first; see privsynth.pytest_plugin)")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("privsynth", "synthetic test data from certified privsynth models")
    group.addoption("--privsynth-trusted-key", action="append", dest="privsynth_trusted_keys", metavar="PUB", default=None,
                    help="public key (.pub of `privsynth keygen`) whose signature a model file must carry; repeatable")
    group.addoption("--privsynth-max-epsilon", type=float, dest="privsynth_max_epsilon", default=None, metavar="E",
                    help="refuse model files that spend more than E (recomputed from the certificate)")
    group.addoption("--privsynth-max-delta", type=float, dest="privsynth_max_delta", default=None, metavar="D",
                    help="refuse model files whose guarantee holds only at a delta above D (default 1e-4)")
    group.addoption("--privsynth-allow-invalid", action="store_true", dest="privsynth_allow_invalid",
                    help="accept model files whose certificate is not valid (no DP guarantee)")
    group.addoption("--privsynth-model-dir", dest="privsynth_model_dir", default=None, metavar="DIR",
                    help="directory that relative model paths start from")
    parser.addini("privsynth_trusted_keys", "public keys whose signature a model file must carry (one per line)", type="linelist")
    parser.addini("privsynth_max_epsilon", "refuse model files that spend more epsilon", default="")
    parser.addini("privsynth_max_delta", "refuse model files whose guarantee needs a larger delta (default 1e-4)", default="")
    parser.addini("privsynth_require_valid", "refuse model files whose certificate is not valid", type="bool", default=True)
    parser.addini("privsynth_model_dir", "directory that relative model paths start from", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _HELP_MARKER)


def _number_option(config: pytest.Config, name: str, default: float | None) -> float | None:
    """A number from the command line, else the ini file, else ``default``."""
    value = config.getoption(name)
    if value is not None:
        return float(value)
    text = str(config.getini(name)).strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise pytest.UsageError(f"{name} must be a number, got {text!r}.") from None


def _base_dir(config: pytest.Config) -> Path:
    return Path(config.inipath).parent if config.inipath else Path(config.rootpath)


class SyntheticDataCache:
    """The session's trust policy, loaded models and samples (one per pytest session).

    Args:
        trusted_keys: Public key files; when any, every model must be signed by one of them.
        max_epsilon: Refuse models that spend more (``None``: no limit).
        max_delta: Refuse models whose guarantee holds only at a larger delta (``None``: no limit).
        require_valid: Refuse models whose certificate is not valid.
        model_dir: Directory that relative model paths start from.

    Example:
        >>> cache = SyntheticDataCache(trusted_keys=[], max_epsilon=None, require_valid=True, model_dir=Path("."))
        >>> cache.describe()
        'privsynth: model files need a valid certificate; any epsilon; delta <= 0.0001; signatures checked, no trusted keys configured'
    """

    def __init__(self, *, trusted_keys: Sequence[Path], max_epsilon: float | None, require_valid: bool, model_dir: Path,
                 max_delta: float | None = _MAX_DELTA) -> None:
        self.trusted_keys = list(trusted_keys)
        self.max_epsilon = max_epsilon
        self.max_delta = max_delta
        self.require_valid = require_valid
        self.model_dir = model_dir
        self._models: dict[Path, Any] = {}
        self._samples: dict[tuple, Any] = {}

    @classmethod
    def from_config(cls, config: pytest.Config) -> "SyntheticDataCache":
        base = _base_dir(config)
        keys = config.getoption("privsynth_trusted_keys") or config.getini("privsynth_trusted_keys") or []
        root = Path(config.invocation_params.dir) if config.getoption("privsynth_trusted_keys") else base
        max_eps = _number_option(config, "privsynth_max_epsilon", None)
        max_delta = _number_option(config, "privsynth_max_delta", _MAX_DELTA)
        model_dir = config.getoption("privsynth_model_dir") or str(config.getini("privsynth_model_dir") or "")
        return cls(trusted_keys=[(root / k) for k in keys], max_epsilon=max_eps, max_delta=max_delta,
                   require_valid=bool(config.getini("privsynth_require_valid")) and not config.getoption("privsynth_allow_invalid"),
                   model_dir=(base / model_dir) if model_dir else base)

    def describe(self) -> str:
        """One line for the pytest header: the trust policy in force."""
        keys = (f"signed by one of {len(self.trusted_keys)} trusted key(s)" if self.trusted_keys
                else "signatures checked, no trusted keys configured")
        valid = "need a valid certificate" if self.require_valid else "may have an invalid certificate"
        eps = "any epsilon" if self.max_epsilon is None else f"epsilon <= {self.max_epsilon:g}"
        delta = "any delta" if self.max_delta is None else f"delta <= {self.max_delta:g}"
        return f"privsynth: model files {valid}; {eps}; {delta}; {keys}"

    def model(self, path: str | Path) -> Any:
        """The model file at ``path`` (relative to ``model_dir``), loaded once under the trust
        policy; a refusal is remembered and raised again for every test that asks."""
        full = (self.model_dir / path).resolve()
        if full not in self._models:
            from privsynth.relational import is_database_model
            from privsynth.relational import load as load_database
            from privsynth.synthesizers.model_file import load

            if not full.is_file():
                self._models[full] = FileNotFoundError(
                    f"No privsynth model file at {str(full)!r} (model={str(path)!r}, relative to {str(self.model_dir)!r}; set "
                    "privsynth_model_dir or pass an absolute path).")
            else:
                try:
                    loader = load_database if is_database_model(full) else load
                    self._models[full] = loader(full, trusted_keys=self.trusted_keys or None, max_epsilon=self.max_epsilon,
                                              max_delta=self.max_delta, require_valid=self.require_valid)
                except Exception as exc:  # the same refusal for every test that uses this model
                    self._models[full] = exc
        found = self._models[full]
        if isinstance(found, BaseException):
            raise found
        return found

    def sample(self, model: str | Path, n: int = 1000, *, seed: int | None = 0, conditions: Any = None) -> Any:
        """``n`` rows of ``model`` for public ``seed`` under ``conditions``; a fresh copy each call.
        A database model gives ``{table: DataFrame}`` for ``n`` persons, keys consistent for a seed."""
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int (a public sampling seed) or None, got {seed!r}.")
        synth = self.model(model)
        if hasattr(synth, "schema_"):  # a database model
            if conditions is not None:
                raise pytest.UsageError("conditions apply to single-table models; a database model samples whole persons.")
            key = ((self.model_dir / model).resolve(), int(n), seed, None)
            if seed is None:
                return synth.sample(n, random_state=None)
            if key not in self._samples:
                self._samples[key] = synth.sample(n, random_state=seed)
            return {name: frame.copy() for name, frame in self._samples[key].items()}
        if seed is None:
            return synth.sample(n, random_state=None, conditions=conditions)
        key = ((self.model_dir / model).resolve(), int(n), seed, _frozen(conditions))
        if key not in self._samples:
            self._samples[key] = synth.sample(n, random_state=seed, conditions=conditions)
        return self._samples[key].copy()


def _frozen(conditions: Any) -> Any:
    if conditions is None or isinstance(conditions, str):
        return conditions
    return tuple(_frozen(c) if isinstance(c, list) else (repr(c) if isinstance(c, dict) else c) for c in conditions)


def pytest_report_header(config: pytest.Config) -> str:
    return SyntheticDataCache.from_config(config).describe()


@pytest.fixture(scope="session")
def privsynth_cache(pytestconfig: pytest.Config) -> SyntheticDataCache:
    """The session's :class:`SyntheticDataCache` (trust policy, loaded models, samples)."""
    return SyntheticDataCache.from_config(pytestconfig)


@pytest.fixture
def privsynth_sample(privsynth_cache: SyntheticDataCache) -> Callable[..., pd.DataFrame]:
    """``privsynth_sample(model, n=1000, seed=0, conditions=None)``: a DataFrame sampled from a
    trusted model file (cached per session; each call returns its own copy)."""
    return privsynth_cache.sample


@pytest.fixture
def synthetic_data(request: pytest.FixtureRequest, privsynth_cache: SyntheticDataCache) -> Any:
    """The DataFrame that the test's ``@pytest.mark.privsynth(model=..., n=..., seed=..., conditions=...)`` asks for
    (for a database model: ``{table: DataFrame}`` of ``n`` persons and their linked rows)."""
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses the synthetic_data fixture without a model; mark it "
                                "@pytest.mark.privsynth(model='path/to/model.privsynth', n=1000).")
    kwargs = dict(marker.kwargs)
    if marker.args:
        kwargs.setdefault("model", marker.args[0])
    unknown = sorted(set(kwargs) - {"model", "n", "seed", "conditions"})
    if "model" not in kwargs or unknown:
        raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.privsynth takes model (required), n, seed and conditions"
                                + (f"; unknown: {unknown}" if unknown else "; model is missing") + ".")
    return privsynth_cache.sample(kwargs.pop("model"), **kwargs)
