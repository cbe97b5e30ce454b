"""People's accounts and sessions without a server: the 0600 accounts file with scrypt hashes,
`jijiu users add|list|disable`, sessions that expire on an injected clock, the failed-login
counter, and what each rank may call (issue 20 item 4)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dispatch import cli
from dispatch.sessions import LoginThrottle, SessionBook
from dispatch.tokens import Role, TokenBook
from dispatch.users import Rank, UserBook, rank_allows

PASSWORD = "correct horse battery"


class Clock:
    """A clock the test moves by hand: no sleeping."""

    def __init__(self, now_s: float = 1_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_cli_adds_lists_and_disables_people_in_a_private_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`users add` with a password file writes jijiu-users.json beside the tokens file with
    mode 0600, holding an scrypt hash and salt, never the password; `list` shows the name and
    role; `disable` marks it and a check then fails."""
    tokens = tmp_path / "tokens.json"
    secret = tmp_path / "pw.txt"
    secret.write_text(PASSWORD + "\n")
    base = ["--tokens", str(tokens)]
    assert (
        cli.main(
            [
                "users",
                "add",
                "wang.fang",
                "--role",
                "dispatcher",
                "--password-file",
                str(secret),
                *base,
            ]
        )
        == 0
    )
    users = tmp_path / "jijiu-users.json"
    assert mode(users) == 0o600
    text = users.read_text()
    assert PASSWORD not in text and "scrypt:16384:8:1" in text and '"hash"' in text
    assert cli.main(["users", "list", *base]) == 0
    assert "wang.fang" in capsys.readouterr().out.split("\n")[-2]
    assert UserBook(users).check("wang.fang", PASSWORD) is not None
    assert cli.main(["users", "disable", "wang.fang", *base]) == 0
    assert cli.main(["users", "list", *base]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == [
        "wang.fang",
        "dispatcher",
        "disabled",
    ]
    assert UserBook(users).check("wang.fang", PASSWORD) is None
    assert mode(users) == 0o600


def test_the_cli_refuses_a_taken_name_a_short_password_and_an_unknown_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit code 2 with one line on stderr for each; the file keeps the first account only."""
    base = ["--users", str(tmp_path / "people.json")]
    good, short = tmp_path / "good", tmp_path / "short"
    good.write_text(PASSWORD)
    short.write_text("1234567")
    assert (
        cli.main(["users", "add", "a", "--role", "supervisor", "--password-file", str(good), *base])
        == 0
    )
    assert (
        cli.main(["users", "add", "A", "--role", "call_taker", "--password-file", str(good), *base])
        == 2
    )
    assert (
        cli.main(
            ["users", "add", "b", "--role", "call_taker", "--password-file", str(short), *base]
        )
        == 2
    )
    assert cli.main(["users", "disable", "nobody", *base]) == 2
    assert [u.name for u in UserBook(tmp_path / "people.json").all()] == ["a"]
    assert len(capsys.readouterr().err.strip().splitlines()) == 3


def test_hashes_are_salted_per_person(tmp_path: Path) -> None:
    """Two people with the same password get different salts and hashes."""
    book = UserBook(tmp_path / "u.json")
    book.add("a", Rank.DISPATCHER, PASSWORD)
    book.add("b", Rank.DISPATCHER, PASSWORD)
    records = book._records
    assert records["a"]["salt"] != records["b"]["salt"]
    assert records["a"]["hash"] != records["b"]["hash"]


def test_a_check_fails_alike_for_a_wrong_password_an_unknown_name_and_a_disabled_account(
    tmp_path: Path,
) -> None:
    """All three give None; the right password gives the account with its rank."""
    book = UserBook(tmp_path / "u.json")
    book.add("a", Rank.CALL_TAKER, PASSWORD)
    book.add("gone", Rank.DISPATCHER, PASSWORD)
    book.disable("gone")
    assert (
        book.check("a", PASSWORD) is not None and book.check("a", PASSWORD).rank is Rank.CALL_TAKER
    )  # type: ignore[union-attr]
    assert book.check("a", PASSWORD + "!") is None
    assert book.check("nobody", PASSWORD) is None
    assert book.check("gone", PASSWORD) is None


def test_a_session_expires_ttl_after_the_login_and_ends_at_logout(tmp_path: Path) -> None:
    """With a 100 s ttl: the token works at 99.9 s and not at 100 s (fixed, however busy);
    a second session survives a reopen of the file (a restart) and ends when revoked."""
    users = UserBook(tmp_path / "u.json")
    users.add("a", Rank.DISPATCHER, PASSWORD)
    clock = Clock()
    sessions = SessionBook(tmp_path / "s.json", users, ttl_s=100.0, clock=clock)
    token, expires_at_s = sessions.issue("a")
    assert expires_at_s == clock.now_s + 100.0
    clock.now_s += 99.9
    assert sessions.user_of(token) is not None
    clock.now_s += 0.1
    assert sessions.user_of(token) is None
    second, _ = sessions.issue("a")
    assert mode(tmp_path / "s.json") == 0o600 and second not in (tmp_path / "s.json").read_text()
    reopened = SessionBook(tmp_path / "s.json", users, ttl_s=100.0, clock=clock)
    assert reopened.user_of(second) is not None
    assert reopened.revoke(second) and reopened.user_of(second) is None


def test_a_disabled_accounts_session_stops_at_its_next_use(tmp_path: Path) -> None:
    """Disabling the account (as `jijiu users disable` does, another process writing the
    file) ends its live session in the server's book."""
    users = UserBook(tmp_path / "u.json")
    users.add("a", Rank.SUPERVISOR, PASSWORD)
    sessions = SessionBook(tmp_path / "s.json", users, clock=Clock())
    token, _ = sessions.issue("a")
    assert sessions.user_of(token) is not None
    UserBook(tmp_path / "u.json").disable("a")
    assert sessions.user_of(token) is None


def test_the_token_book_knows_people_and_keeps_the_shared_token_as_service(tmp_path: Path) -> None:
    """A session token is (dispatcher, name) with the account's rank; the shared dispatcher
    token is (dispatcher, "") of rank service; a unit has no rank."""
    book = TokenBook.open(tmp_path / "tokens.json")
    book.ensure_units(["ALS01"])
    users = UserBook(tmp_path / "u.json")
    users.add("li.lei", Rank.CALL_TAKER, PASSWORD)
    book.sessions = SessionBook(tmp_path / "s.json", users, clock=Clock())
    token, _ = book.sessions.issue("li.lei")
    assert book.role_of(token) == (Role.DISPATCHER, "li.lei")
    assert book.rank_of((Role.DISPATCHER, "li.lei")) is Rank.CALL_TAKER
    assert book.role_of(book.dispatcher) == (Role.DISPATCHER, "")
    assert book.rank_of((Role.DISPATCHER, "")) is Rank.SERVICE
    assert book.rank_of((Role.UNIT, "ALS01")) is None
    assert book.role_of("not-a-token-at-all") is None


def test_the_failed_login_counter_blocks_after_five_until_the_window_passes() -> None:
    """Five failures for one (name, address) block it, not another address; 900 s after the
    first failure it may try again; a success clears the count."""
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    key, other = ("a", "10.0.0.1"), ("a", "10.0.0.2")
    for _ in range(4):
        throttle.failed(key)
    assert throttle.retry_after_s(key) is None
    throttle.failed(key)
    assert throttle.retry_after_s(key) == 900.0 and throttle.retry_after_s(other) is None
    clock.now_s += 900.0
    assert throttle.retry_after_s(key) is None
    throttle.failed(other)
    throttle.succeeded(other)
    assert throttle._failures == {}


@pytest.mark.parametrize(
    ("rank", "method", "route", "allowed"),
    [
        (Rank.CALL_TAKER, "POST", "/api/v1/incidents/{incident_id}/triage", True),
        (Rank.CALL_TAKER, "POST", "/api/v1/calls/manual", True),
        (Rank.CALL_TAKER, "GET", "/api/v1/incidents", True),
        (Rank.CALL_TAKER, "POST", "/api/v1/incidents/{incident_id}/assignment", False),
        (Rank.CALL_TAKER, "POST", "/api/v1/incidents/{incident_id}/cancel", False),
        (Rank.CALL_TAKER, "GET", "/api/v1/incidents/{incident_id}/caller", False),
        (Rank.CALL_TAKER, "GET", "/api/v1/audit", False),
        (Rank.DISPATCHER, "POST", "/api/v1/incidents/{incident_id}/assignment", True),
        (Rank.DISPATCHER, "GET", "/api/v1/incidents/{incident_id}/caller", True),
        (Rank.SUPERVISOR, "GET", "/api/v1/audit", True),
    ],
)
def test_what_each_rank_may_call(rank: Rank, method: str, route: str, allowed: bool) -> None:
    """A call-taker reads (not numbers or the audit) and changes calls, triage, place and
    notes only; a dispatcher and above may call every dispatcher route."""
    assert rank_allows(rank, method, route) is allowed
