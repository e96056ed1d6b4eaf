import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from privsynth.core.errors import IntegrityError
from privsynth.core.io import _canonical_zip, read_bundle, write_bundle


@pytest.fixture
def bundle(tmp_path):
    path = tmp_path / "m.privsynth"
    write_bundle(path, documents={"model": {"a": 1, "b": [1.5, "x"]}}, arrays={"p": np.linspace(0, 1, 50)})
    return path


def _rewrite(src, dst, mutate):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        members = {n: zin.read(n) for n in zin.namelist()}
        for name, data in mutate(members).items():
            zout.writestr(name, data)


def test_round_trip(bundle):
    docs, arrays = read_bundle(bundle)
    assert docs["model"] == {"a": 1, "b": [1.5, "x"]}
    np.testing.assert_array_equal(arrays["p"], np.linspace(0, 1, 50))


def test_one_byte_changed_is_refused(bundle, tmp_path):
    raw = bytearray(bundle.read_bytes())
    failures = 0
    for offset in range(len(raw)):
        corrupt = bytearray(raw)
        corrupt[offset] ^= 0x01
        path = tmp_path / f"c{offset}.privsynth"
        path.write_bytes(bytes(corrupt))
        with pytest.raises(IntegrityError):
            read_bundle(path)
        failures += 1
    assert failures == len(raw)


def test_writing_is_deterministic(bundle, tmp_path):
    again = write_bundle(tmp_path / "again.privsynth", documents={"model": {"a": 1, "b": [1.5, "x"]}},
                         arrays={"p": np.linspace(0, 1, 50)})
    assert again.read_bytes() == bundle.read_bytes()


def test_member_changed_with_valid_zip_is_refused(bundle, tmp_path):
    dst = tmp_path / "t.privsynth"

    def mutate(m):
        m["model.json"] = json.dumps({"a": 2, "b": [1.5, "x"]}).encode()
        return m

    _rewrite(bundle, dst, mutate)
    with pytest.raises(IntegrityError, match="sha256"):
        read_bundle(dst)


def test_zip_containing_a_pickle_is_refused(bundle, tmp_path):
    dst = tmp_path / "p.privsynth"

    def mutate(m):
        m["payload.bin"] = pickle.dumps({"evil": True})
        return m

    _rewrite(bundle, dst, mutate)
    with pytest.raises(IntegrityError, match="pickle"):
        read_bundle(dst)


def test_object_array_in_npz_is_refused(bundle, tmp_path):
    """An npz whose array needs pickle is refused even when the manifest matches."""
    import hashlib

    buf = io.BytesIO()
    np.savez(buf, p=np.array([{"x": 1}], dtype=object), allow_pickle=True)
    dst = tmp_path / "o.privsynth"

    def mutate(m):
        m["arrays.npz"] = buf.getvalue()
        manifest = json.loads(m["manifest.json"])
        manifest["files"]["arrays.npz"] = hashlib.sha256(buf.getvalue()).hexdigest()
        m["manifest.json"] = json.dumps(manifest).encode()
        return m

    with zipfile.ZipFile(bundle) as z:
        members = mutate({n: z.read(n) for n in z.namelist()})
    dst.write_bytes(_canonical_zip(members))  # an attacker can write the canonical layout too
    with pytest.raises(IntegrityError, match="plain array"):
        read_bundle(dst)


def test_added_member_and_unknown_version_are_refused(bundle, tmp_path):
    extra = tmp_path / "e.privsynth"
    _rewrite(bundle, extra, lambda m: {**m, "notes.json": b"{}"})
    with pytest.raises(IntegrityError, match="manifest"):
        read_bundle(extra)

    future = tmp_path / "f.privsynth"

    def bump(m):
        manifest = json.loads(m["manifest.json"])
        manifest["format_version"] = 99
        m["manifest.json"] = json.dumps(manifest).encode()
        return m

    _rewrite(bundle, future, bump)
    with pytest.raises(IntegrityError, match="version 99"):
        read_bundle(future)


def test_not_a_model_file(tmp_path):
    text = tmp_path / "x.privsynth"
    text.write_text("hello")
    with pytest.raises(IntegrityError, match="not a valid"):
        read_bundle(text)
    plain = tmp_path / "z.zip"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("a.txt", "b")
    with pytest.raises(IntegrityError, match="no manifest"):
        read_bundle(plain)
    with pytest.raises(IntegrityError, match="does not exist"):
        read_bundle(tmp_path / "missing")


def test_object_arrays_cannot_be_written(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        write_bundle(tmp_path / "x", documents={}, arrays={"a": np.array([None, 1], dtype=object)})


def test_version_1_files_still_read(tmp_path, monkeypatch):
    import privsynth.core.io as io_module

    monkeypatch.setattr(io_module, "FORMAT_VERSION", 1)
    path = write_bundle(tmp_path / "v1.privsynth", documents={"model": {"a": 1}}, arrays={"x": np.arange(3)})
    monkeypatch.undo()
    assert json.loads(zipfile.ZipFile(path).read("manifest.json"))["format_version"] == 1
    assert read_bundle(path)[0]["model"] == {"a": 1}


def test_signature_covers_every_member(tmp_path):
    from privsynth.core.io import open_bundle
    from privsynth.core.signing import check_signature, generate_keypair

    key, pub, kid = generate_keypair(tmp_path / "k")
    path = write_bundle(tmp_path / "s.privsynth", documents={"model": {"a": 1}}, arrays={"x": np.arange(3)}, sign_key=key)
    bundle = open_bundle(path)
    assert check_signature(bundle.manifest, bundle.signature, [pub]) == kid
    manifest = json.loads(bundle.manifest)
    assert set(manifest["files"]) == {"model.json", "arrays.npz"}  # the signed manifest hashes every other member
    with pytest.raises(IntegrityError, match="changed after signing"):
        check_signature(bundle.manifest + b" ", bundle.signature, [pub])
