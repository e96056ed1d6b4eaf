"""Related tables: a schema with keys and per-person contribution bounds, and a synthesizer of
whole databases under person-level DP with one certificate (:class:`RelationalSynthesizer`).

Example:
    >>> import privsynth as ps
    >>> tables, schema = ps.datasets.make_bank(300, random_state=0)
    >>> model = ps.relational.RelationalSynthesizer(epsilon=1.0, random_state=0).fit(tables, schema)
    >>> sorted(model.sample(random_state=0))
    ['accounts', 'customers', 'merchants', 'transactions']
"""

from privsynth.relational.layout import context_columns, model_domain
from privsynth.relational.model_file import DatabaseVerification, is_database_model, load, verify_database
from privsynth.relational.schema import ForeignKey, Schema, TableSpec, count_column
from privsynth.relational.synthesizer import RelationalSynthesizer

__all__ = ["Schema", "TableSpec", "ForeignKey", "count_column", "RelationalSynthesizer", "load", "verify_database",
           "DatabaseVerification", "is_database_model", "model_domain", "context_columns"]
