"""A Redis event log to and from a backup's SQLite file (`dispatch.store.backup`).

Chosen over BGSAVE + copying the RDB file: a stream dump needs no access to the Redis
server's disk, reads only jijiu's keys under its prefix, and lands in the same file format as a
SQLite backup, so a backup of either backend restores into either.

`dump` takes one atomic cut first (a script reads the seq counter and the newest entry of every
feed stream in one step; an append is one MULTI/EXEC, so it is wholly before or after the cut),
then pages through the streams with XRANGE up to the cut while the server goes on appending.
`load` refuses a prefix that holds records unless forced, and any prefix whose writer's lease is
held (a server is running on it); forced, it deletes every key under the prefix but the fencing
token (so a stale writer stays fenced), then writes the records back with their own seqs.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dispatch.errors import StoreError
from dispatch.store.backup_files import BackupRefused
from dispatch.store.eventlog import decode_body
from dispatch.store.redis_keys import DEFAULT_PREFIX, Keys

PAGE = 1000  # stream entries per XRANGE, rows per MULTI on load
# KEYS: the seq counter. ARGV: the SCAN pattern of the feed streams. Returns the last seq, then
# each feed stream's key and newest entry id: one cut, as a script runs atomically.
CUT_LUA = """
local out = {redis.call('GET', KEYS[1]) or '0'}
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    if #top > 0 then
      table.insert(out, key)
      table.insert(out, top[1][1])
    end
  end
until cursor == '0'
return out
"""


def client_of(url: str) -> tuple[redis.Redis, Keys]:
    """A client and the key names for `redis://host:port/db?prefix=p:` (as RedisLog reads it)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = dict(query).get("prefix", DEFAULT_PREFIX)
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    client = redis.Redis.from_url(
        urlunsplit(parts._replace(query=rest)),
        socket_connect_timeout=2.0,
        socket_timeout=30.0,
        retry=Retry(NoBackoff(), 0),
    )
    return client, Keys(prefix)


def glob_escape(text: str) -> str:
    """`text` as a literal in a Redis MATCH pattern."""
    return "".join("\\" + c if c in "\\*?[]" else c for c in text)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def dump(url: str, db: sqlite3.Connection) -> None:
    """Copy the log's records and feeds up to one cut into `db` (a `new_log_file`)."""
    client, keys = client_of(url)
    try:
        cut = client.register_script(CUT_LUA)
        reply = cut(keys=[keys.seq], args=[glob_escape(keys.feed("")) + "*"])
        last_seq = int(reply[0])
        feeds = {_text(k): _text(v) for k, v in zip(reply[1::2], reply[2::2], strict=True)}
        db.execute("BEGIN")
        _dump_events(client, keys, last_seq, db)
        for key, top in sorted(feeds.items()):
            _dump_feed(client, key, key[len(keys.feed("")) :], top, db)
        db.execute("COMMIT")
    except redis.RedisError as exc:
        raise StoreError(f"event log Redis: backup failed: {exc}") from exc
    finally:
        client.close()


def _dump_events(client: redis.Redis, keys: Keys, last_seq: int, db: sqlite3.Connection) -> None:
    start = 1
    while start <= last_seq:
        page: Any = client.xrange(keys.events, f"{start}-0", f"{last_seq}-0", count=PAGE) or []
        rows = []
        for _, fields in page:
            seq = int(fields[b"seq"])
            body = fields[b"body"].decode()
            decode_body(seq, body)  # a record that is not JSON stops the backup here
            rows.append((seq, float(fields[b"at_s"]), fields[b"key"].decode() or None, body))
        db.executemany("INSERT INTO events (seq, at_s, idem_key, body) VALUES (?, ?, ?, ?)", rows)
        if len(page) < PAGE:
            return
        start = rows[-1][0] + 1


def _dump_feed(client: redis.Redis, key: str, name: str, top: str, db: sqlite3.Connection) -> None:
    start = "-"
    while True:
        page: Any = client.xrange(key, start, top, count=PAGE) or []
        rows = []
        for entry_id, fields in page:
            seq = int(_text(entry_id).split("-")[0])
            body = fields[b"body"].decode()
            decode_body(seq, body)
            rows.append((name, seq, float(fields[b"at_s"]), body))
        db.executemany("INSERT INTO feed (feed, seq, at_s, body) VALUES (?, ?, ?, ?)", rows)
        if len(page) < PAGE:
            return
        start = f"{rows[-1][1] + 1}-0"


def load(url: str, db: sqlite3.Connection, force: bool) -> None:
    """Write the records and feeds of the backup file `db` into the Redis log at `url`."""
    client, keys = client_of(url)
    try:
        if client.exists(keys.lease):
            raise BackupRefused(f"a server holds the writer's lease on {keys.prefix}: stop it")
        held = int(client.get(keys.seq) or 0) or int(client.xlen(keys.events))
        if held and not force:
            raise BackupRefused(f"the Redis log {keys.prefix} holds records (use --force)")
        if force:
            doomed = [k for k in client.scan_iter(match=glob_escape(keys.prefix) + "*")]
            doomed = [k for k in doomed if _text(k) != keys.fence]
            for i in range(0, len(doomed), PAGE):
                client.delete(*doomed[i : i + PAGE])
        _load_events(client, keys, db)
        _load_feeds(client, keys, db)
        last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        client.set(keys.seq, int(last))  # last: a half-done load is an empty-looking log
    except redis.RedisError as exc:
        raise StoreError(f"event log Redis: restore failed: {exc}") from exc
    finally:
        client.close()


def _load_events(client: redis.Redis, keys: Keys, db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT seq, at_s, idem_key, body FROM events ORDER BY seq")
    while page := rows.fetchmany(PAGE):
        pipe = client.pipeline(transaction=True)
        for seq, at_s, idem_key, body in page:
            fields = {"seq": seq, "at_s": repr(float(at_s)), "body": body, "key": idem_key or ""}
            pipe.xadd(keys.events, fields, id=f"{seq}-0")  # type: ignore[arg-type]
            if idem_key:
                pipe.hset(keys.idem, idem_key, seq)
        pipe.execute()


def _load_feeds(client: redis.Redis, keys: Keys, db: sqlite3.Connection) -> None:
    rows = db.execute("SELECT feed, seq, at_s, body FROM feed ORDER BY feed, seq")
    while page := rows.fetchmany(PAGE):
        pipe = client.pipeline(transaction=True)
        for name, seq, at_s, body in page:
            fields = {"at_s": repr(float(at_s)), "body": body}
            pipe.xadd(keys.feed(name), fields, id=f"{seq}-0")  # type: ignore[arg-type]
        pipe.execute()
