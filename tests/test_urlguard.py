"""The outbound URL guard: schemes, loopback, private and link-local targets, names, allowlists."""

from __future__ import annotations

import pytest

from chalicelib.urlguard import Allowlist, UnsafeURLError, URLPolicy, check_url

PUBLIC = URLPolicy()


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    return lambda host: table.get(host, [])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.pdf",
        "http://127.1.2.3:8080/",
        "http://localhost/cv.pdf",
        "http://api.localhost/cv.pdf",
        "http://[::1]/a",
        "http://[::ffff:127.0.0.1]/a",
        "http://2130706433/a",  # 127.0.0.1 written as one number
        "http://0x7f.1/a",
    ],
)
def test_loopback_targets_are_refused_by_default(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_url(url, PUBLIC, resolve=resolver({}))


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/file",
        "http://172.16.3.4/file",
        "http://192.168.1.1/file",
        "http://100.64.0.1/file",
        "http://0.0.0.0/file",
        "http://[fe80::1]/file",
        "http://[fd00::1]/file",
        "http://[::ffff:169.254.169.254]/file",
        "http://224.0.0.1/file",
    ],
)
def test_private_link_local_and_reserved_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="private"):
        check_url(url, PUBLIC, resolve=resolver({}))


def test_a_name_that_resolves_to_a_private_address_is_refused() -> None:
    resolve = resolver({"files.corp.example": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(UnsafeURLError, match="private"):
        check_url("https://files.corp.example/cv.pdf", PUBLIC, resolve=resolve)


def test_a_name_that_resolves_to_public_addresses_passes() -> None:
    resolve = resolver({"cdn.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})
    url = "https://cdn.example.com/cv.pdf?x=1"
    assert check_url(url, PUBLIC, resolve=resolve) == url


def test_a_name_that_does_not_resolve_passes_for_the_fetcher_to_report() -> None:
    assert check_url("https://nowhere.invalid/a", PUBLIC, resolve=resolver({}))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a", "https"),
        ("file:///etc/passwd", "https"),
        ("gopher://example.com/", "https"),
        ("https:///nohost", "no host"),
        ("https://user:pw@example.com/", "password"),
        ("https://exa mple.com/", "not a valid host"),
        ("https://example.com:99999/", "not valid"),
    ],
)
def test_malformed_or_non_http_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError, match=reason):
        check_url(url, PUBLIC, resolve=resolver({"example.com": ["93.184.216.34"]}))


def test_overlong_urls_are_refused() -> None:
    with pytest.raises(UnsafeURLError, match="longer"):
        check_url("https://example.com/" + "a" * 3000, PUBLIC, resolve=resolver({}))


def test_the_allowlist_lets_named_hosts_and_networks_through() -> None:
    policy = URLPolicy(allowlist=Allowlist.parse("files.intranet.example, 10.20.0.0/16,192.168.1.10"))
    resolve = resolver({"files.intranet.example": ["10.99.0.1"], "nas.example": ["10.20.3.4"]})
    assert check_url("http://files.intranet.example/a", policy, resolve=resolve)
    assert check_url("http://nas.example/a", policy, resolve=resolve)
    assert check_url("http://192.168.1.10/a", policy, resolve=resolve)
    with pytest.raises(UnsafeURLError):
        check_url("http://192.168.1.11/a", policy, resolve=resolve)


def test_the_allowlist_refuses_entries_that_are_neither_names_nor_networks() -> None:
    with pytest.raises(ValueError, match="neither"):
        Allowlist.parse("ok.example,bad host!")
    assert Allowlist.parse(None) == Allowlist()
    assert Allowlist.parse(" , ") == Allowlist()


def test_https_only_policies_refuse_http_except_to_loopback_when_allowed() -> None:
    strict = URLPolicy(allow_http=False)
    dev = URLPolicy(allow_http=False, allow_loopback=True, loopback_http_only=True)
    resolve = resolver({"crm.example.com": ["93.184.216.34"]})
    with pytest.raises(UnsafeURLError, match="https"):
        check_url("http://crm.example.com/hook", strict, resolve=resolve)
    with pytest.raises(UnsafeURLError, match="https"):
        check_url("http://crm.example.com/hook", dev, resolve=resolve)
    assert check_url("http://127.0.0.1:9000/hook", dev, resolve=resolve)
    assert check_url("http://localhost:9000/hook", dev, resolve=resolve)
    assert check_url("https://crm.example.com/hook", strict, resolve=resolve)


def test_private_targets_pass_when_the_policy_allows_them() -> None:
    policy = URLPolicy(allow_private=True, allow_loopback=True)
    assert check_url("http://10.0.0.1/a", policy, resolve=resolver({}))
    assert check_url("http://127.0.0.1/a", policy, resolve=resolver({}))
