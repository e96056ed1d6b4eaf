"""Rebuild models/census.privsynth and keys/demo-release.pub (run from this folder).

The model is PrivBayes at epsilon 1 on privsynth's synthetic census table (no real person in
it), signed with a fresh Ed25519 key. The private key is written to a temporary folder and
deleted: the demo only ever needs the public half. Run: python make_model.py
"""

import shutil
import tempfile
from pathlib import Path

import privsynth as ps

here = Path(__file__).resolve().parent
data, domain = ps.datasets.make_census(5000, random_state=0)
model = ps.synthesizers.PrivBayes(epsilon=1.0).fit(data, domain)
tmp = Path(tempfile.mkdtemp())
try:
    key, pub, key_id = ps.core.signing.generate_keypair(tmp / "demo-release")
    model.save(here / "models" / "census.privsynth", sign_key=key)
    shutil.copy(pub, here / "keys" / "demo-release.pub")
    print("signed by", key_id)
finally:
    shutil.rmtree(tmp)
