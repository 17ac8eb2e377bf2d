"""The password hasher: argon2 round trip, and an unknown stored hash is a failed sign-in, not an error."""

from auth.passwords import Argon2PasswordHasher


def test_round_trip_and_wrong_password():
    hasher = Argon2PasswordHasher()
    stored = hasher.hash("correct horse")
    assert stored.startswith("$argon2")
    assert hasher.verify("correct horse", stored)
    assert not hasher.verify("wrong horse", stored)


def test_a_hash_no_hasher_knows_never_verifies():
    hasher = Argon2PasswordHasher()
    for stored in ("!", "", "$2b$12$not-a-known-hash", "plaintext"):
        assert not hasher.verify("anything", stored)
