import pytest

from privsynth.core.errors import IntegrityError, TrustError
from privsynth.core.signing import check_signature, generate_keypair, key_id, load_private_key, load_public_key, sign


@pytest.fixture
def pair(tmp_path):
    return generate_keypair(tmp_path / "k")


def test_keys_round_trip_and_the_private_key_is_private(pair):
    private, public, kid = pair
    assert private.stat().st_mode & 0o777 == 0o600
    assert key_id(load_public_key(public)) == kid == key_id(load_private_key(private).public_key())
    raw = load_public_key(public).public_bytes_raw()
    assert key_id(load_public_key(raw)) == kid
    with pytest.raises(FileExistsError):
        generate_keypair(private.with_suffix(""))


def test_sign_and_check(pair, tmp_path):
    private, public, kid = pair
    other = generate_keypair(tmp_path / "other")
    signature = sign(b"payload", private)
    assert check_signature(b"payload", signature, [public]) == kid
    assert check_signature(b"payload", signature, None) == kid  # integrity against the carried key
    assert check_signature(b"payload", None, None) is None
    with pytest.raises(TrustError, match="not signed"):
        check_signature(b"payload", None, [public])
    with pytest.raises(TrustError, match="not among the trusted keys"):
        check_signature(b"payload", signature, [other[1]])
    with pytest.raises(IntegrityError, match="changed after signing"):
        check_signature(b"other payload", signature, [public])
    swapped = {**sign(b"payload", other[0]), "key_id": kid}  # claims my id with another key
    with pytest.raises(IntegrityError, match="tampered"):
        check_signature(b"payload", swapped, [public])
    with pytest.raises(IntegrityError, match="malformed"):
        check_signature(b"payload", {"algorithm": "ed25519"}, [public])


def test_bad_key_files_are_explained(tmp_path):
    (tmp_path / "x.pub").write_text("not a key")
    with pytest.raises(IntegrityError, match="privsynth keygen"):
        load_public_key(tmp_path / "x.pub")
    with pytest.raises(FileNotFoundError):
        load_private_key(tmp_path / "missing.key")
