"""Local media links: only our signature, only for that id, only until it expires."""

from __future__ import annotations

from chalicelib.media.signing import signature, verify

KEY = b"k" * 32
NOW = 1_790_000_000


def test_a_link_we_signed_verifies_until_it_expires() -> None:
    sig = signature(KEY, "msg_1", NOW + 60)

    assert verify(KEY, "msg_1", str(NOW + 60), sig, now=NOW)
    assert verify(KEY, "msg_1", str(NOW + 60), sig.upper(), now=NOW)
    assert not verify(KEY, "msg_1", str(NOW + 60), sig, now=NOW + 60)  # expired at its second


def test_a_link_for_another_id_another_expiry_or_another_key_is_refused() -> None:
    sig = signature(KEY, "msg_1", NOW + 60)

    assert not verify(KEY, "msg_2", str(NOW + 60), sig, now=NOW)
    assert not verify(KEY, "msg_1", str(NOW + 3600), sig, now=NOW)  # a stretched expiry
    assert not verify(b"x" * 32, "msg_1", str(NOW + 60), sig, now=NOW)
    assert not verify(KEY, "msg_1", str(NOW + 60), sig[:-1] + ("0" if sig[-1] != "0" else "1"), now=NOW)


def test_malformed_parameters_are_refused_without_error() -> None:
    sig = signature(KEY, "msg_1", NOW + 60)

    for expires, presented in [
        (None, sig),
        (str(NOW + 60), None),
        ("-5", sig),
        ("1e9", sig),
        ("9" * 13, sig),
    ]:
        assert not verify(KEY, "msg_1", expires, presented, now=NOW)
    assert not verify(KEY, "msg_1", str(NOW + 60), "short", now=NOW)
    assert not verify(KEY, "m" * 65, str(NOW + 60), sig, now=NOW)
