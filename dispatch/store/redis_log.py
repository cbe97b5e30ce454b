"""The Redis event log: a stream of records, an idempotency hash and a seq counter.

One Lua script does an append (idempotency check, next seq, XADD, HSET) so no other client sees
half of one. Redis only makes a write durable before it replies when the server runs with
`appendonly yes` and `appendfsync always`; the log checks both when it opens and refuses to run
otherwise (`allow_unsafe=True` is for a developer's throwaway Redis). Commands are never retried
by the client: a retried append that had in fact run would write the record twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dispatch.errors import Fenced, StoreError
from dispatch.store.eventlog import (
    MAX_FEED_READ,
    Entry,
    FeedRecord,
    Record,
    check_batch,
    check_feed,
    check_feed_name,
    check_feed_read,
    decode_body,
)
from dispatch.store.redis_keys import DEFAULT_PREFIX, Keys

# KEYS: events stream, idem hash, seq counter, refused-batch flag. ARGV: at_s, body, idem key
# ("" for none). Returns {1, seq} when written, {0, fields of the earlier entry} for a known key.
# The counter is set after XADD succeeds, so a failed XADD leaves nothing behind (no gap, no
# orphan key). The flag is set by FEED_LUA when it refuses a batch: EXEC runs every command
# of a transaction even after one fails, so the events of that batch must refuse themselves.
APPEND_LUA = """
if redis.call('EXISTS', KEYS[4]) == 1 then
  return redis.error_reply('batch refused')
end
if ARGV[3] ~= '' then
  local old = redis.call('HGET', KEYS[2], ARGV[3])
  if old then
    local entry = redis.call('XRANGE', KEYS[1], old .. '-0', old .. '-0')
    if #entry == 0 then
      return redis.error_reply('idempotency key points at missing seq ' .. old)
    end
    return {0, entry[1][2]}
  end
end
local seq = tonumber(redis.call('GET', KEYS[3]) or '0') + 1
redis.call('XADD', KEYS[1], seq .. '-0', 'seq', seq, 'at_s', ARGV[1], 'body', ARGV[2],
           'key', ARGV[3])
redis.call('SET', KEYS[3], seq)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[3], seq)
end
return {1, seq}
"""
# KEYS: the refused-batch flag, then one feed stream per record. ARGV: per record seq, at_s,
# body. Checks every record first (each seq is one more than its stream's last, or than the
# record before it in this batch) and writes only if all pass; else it sets the flag, which
# the batch's event scripts check and the transaction's last command deletes.
FEED_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('batch refused')
end
local nxt = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local want = nxt[key]
  if want == nil then
    local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    want = 1
    if #top > 0 then want = tonumber(string.match(top[1][1], '^(%d+)')) + 1 end
  end
  local seq = tonumber(ARGV[3 * i - 5])
  if seq ~= want then
    redis.call('SET', KEYS[1], '1')
    return redis.error_reply('feed ' .. key .. ' expects seq ' .. want .. ', not ' .. seq)
  end
  nxt[key] = seq + 1
end
for i = 2, #KEYS do
  redis.call('XADD', KEYS[i], ARGV[3 * i - 5] .. '-0', 'at_s', ARGV[3 * i - 4],
             'body', ARGV[3 * i - 3])
end
return #KEYS - 1
"""
# KEYS: the refused-batch flag, the fencing token. ARGV: the writer's token. First in a fenced
# batch: a writer whose token is not the current one (a newer lease holder exists) refuses the
# whole batch, as a refused feed record does.
FENCE_LUA = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  redis.call('SET', KEYS[1], '1')
  return redis.error_reply('fenced: a newer writer holds the lease')
end
return 1
"""
# KEYS: lease, fence. ARGV: holder, ttl ms. The lease if free, with the next fencing token.
ACQUIRE_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
"""
# KEYS: lease, fence. ARGV: holder, ttl ms, token. Extend the lease while no newer writer took
# it: ours, or expired while Redis was away and nobody took it since (the token is still ours,
# so nobody else can have written).
RENEW_LUA = """
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return 0
end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# KEYS: lease. ARGV: holder. Give the lease up at a clean stop (a standby takes over at once).
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
BATCH = 500  # stream entries per XRANGE
REQUIRED = {"appendonly": "yes", "appendfsync": "always"}


class RedisLog:
    """An event log in one Redis database, under one key prefix."""

    def __init__(
        self, client: redis.Redis, prefix: str = DEFAULT_PREFIX, *, allow_unsafe: bool = False
    ) -> None:
        self.keys = Keys(prefix)
        self._client = client
        self._append = client.register_script(APPEND_LUA)
        self._feed = client.register_script(FEED_LUA)
        self._fence = client.register_script(FENCE_LUA)
        self._acquire = client.register_script(ACQUIRE_LUA)
        self._renew = client.register_script(RENEW_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self.token: int | None = None  # the fencing token appends carry, once leading
        self.wait_replicas = 0  # replicas that must hold a batch before it is acknowledged
        self.wait_ms = 1000
        try:
            if not allow_unsafe:
                self._check_durable()
            self._client.script_load(APPEND_LUA)
            self._client.script_load(FEED_LUA)
        except redis.RedisError as exc:
            client.close()
            raise StoreError(f"event log Redis cannot be used: {exc}") from exc
        except StoreError:
            client.close()
            raise

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        allow_unsafe: bool = False,
        connect_timeout_s: float = 2.0,
        timeout_s: float = 10.0,  # one fsync'd write on a slow disk, with room to spare
    ) -> RedisLog:
        """`redis://host:port/db?prefix=p:`; the prefix query parameter is ours, not redis-py's."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = dict(query).get("prefix", DEFAULT_PREFIX)
        rest = urlencode([(k, v) for k, v in query if k != "prefix"])
        client = redis.Redis.from_url(
            urlunsplit(parts._replace(query=rest)),
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, prefix, allow_unsafe=allow_unsafe)

    @classmethod
    def from_sentinel_url(
        cls,
        url: str,
        *,
        allow_unsafe: bool = False,
        connect_timeout_s: float = 2.0,
        timeout_s: float = 10.0,
    ) -> RedisLog:
        """`redis+sentinel://h1:p1,h2:p2,h3:p3/master?prefix=p:&wait=1&wait_ms=1000`: the
        primary the Sentinels name, found again after a failover on the next connection; an
        append is acknowledged once `wait` replicas have it (Redis `WAIT`, default 1)."""
        parts = urlsplit(url)
        hosts = []
        for item in parts.netloc.rsplit("@", 1)[-1].split(","):
            host, sep, port = item.rpartition(":")
            if not sep or not port.isdigit():
                raise ValueError(f"a Sentinel address is host:port, not {item!r}")
            hosts.append((host.strip("[]"), int(port)))
        name = parts.path.strip("/")
        if not hosts or not name:
            raise ValueError("write redis+sentinel://host:port,host:port/master-name")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            wait, wait_ms = int(query.get("wait", "1")), int(query.get("wait_ms", "1000"))
        except ValueError:
            raise ValueError("wait and wait_ms are whole numbers") from None
        if not (0 <= wait <= 16 and 1 <= wait_ms <= 60_000):
            raise ValueError("wait is 0-16 replicas, wait_ms 1-60000")
        sentinel = redis.Sentinel(
            hosts, socket_timeout=connect_timeout_s, socket_connect_timeout=connect_timeout_s
        )
        client = sentinel.master_for(
            name,
            socket_timeout=timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        log = cls(client, query.get("prefix", DEFAULT_PREFIX), allow_unsafe=allow_unsafe)
        log.wait_replicas, log.wait_ms = wait, wait_ms
        return log

    def append(
        self, at_s: float, event: dict[str, Any], idem_key: str | None = None
    ) -> tuple[Record, bool]:
        return self.append_batch([(at_s, event, idem_key)])[0]

    def append_batch(
        self, entries: Sequence[Entry], feed: Sequence[FeedRecord] = ()
    ) -> list[tuple[Record, bool]]:
        bodies = check_batch(entries)
        feed_bodies = check_feed(feed)
        keys = [self.keys.events, self.keys.idem, self.keys.seq, self.keys.refused]
        try:
            # MULTI/EXEC: one round trip, and Redis fsyncs the AOF once for the whole
            # transaction before it replies. The feed script goes first: a feed record it
            # refuses fails the batch and no event of it is written (see APPEND_LUA).
            pipe = self._client.pipeline(transaction=True)
            token = self.token
            fenced = token is not None
            if token is not None:
                fence_keys = [self.keys.refused, self.keys.fence]
                self._fence(keys=fence_keys, args=[token], client=pipe)
            if feed:
                args: list[Any] = []
                for r, b in zip(feed, feed_bodies, strict=True):
                    args += [r.seq, repr(float(r.at_s)), b]
                streams = [self.keys.feed(r.feed) for r in feed]
                self._feed(keys=[self.keys.refused, *streams], args=args, client=pipe)
            for (at_s, _, idem_key), body in zip(entries, bodies, strict=True):
                self._append(keys=keys, args=[repr(float(at_s)), body, idem_key or ""], client=pipe)
            if feed or fenced:
                pipe.delete(self.keys.refused)
            replies = pipe.execute()
            if self.wait_replicas:
                held = int(self._client.wait(self.wait_replicas, self.wait_ms))
                if held < self.wait_replicas:  # on the primary only: a failover could lose it
                    raise StoreError(
                        f"event log Redis: {held} of {self.wait_replicas} replicas confirmed"
                    )
        except redis.ResponseError as exc:
            if "fenced" in str(exc):
                raise Fenced("another process holds the event log's lease") from None
            raise StoreError(f"event log Redis: append failed: {exc}") from exc
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: append failed: {exc}") from exc
        if feed or fenced:
            replies = replies[int(fenced) + int(bool(feed)) : -1]
        out = []
        for (at_s, event, idem_key), reply in zip(entries, replies, strict=True):
            if reply[0] == 1:
                out.append((Record(int(reply[1]), float(at_s), event, idem_key), True))
            else:
                out.append((_record(reply[1]), False))
        return out

    def by_key(self, idem_key: str) -> Record | None:
        try:
            seq = self._client.hget(self.keys.idem, idem_key)
            if seq is None:
                return None
            entries = self._client.xrange(self.keys.events, f"{int(seq)}-0", f"{int(seq)}-0")
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: {exc}") from exc
        if not entries:
            raise StoreError(f"event log Redis: key {idem_key!r} points at missing seq {seq!r}")
        return _record(entries[0][1])

    # --- the writer's lease (dispatch.store.lease) ----------------------------------------------
    def acquire(self, holder: str, ttl_ms: int) -> int | None:
        """Take the lease if it is free: the new fencing token (appends carry it from now on),
        or None when another process holds it."""
        try:
            token = int(
                self._acquire(keys=[self.keys.lease, self.keys.fence], args=[holder, ttl_ms])
            )
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: lease: {exc}") from exc
        if token == 0:
            return None
        self.token = token
        return token

    def renew(self, holder: str, ttl_ms: int) -> bool:
        """Extend our lease; False when it is no longer ours (expired and taken, or fenced)."""
        if self.token is None:
            return False
        keys = [self.keys.lease, self.keys.fence]
        try:
            return bool(self._renew(keys=keys, args=[holder, ttl_ms, self.token]))
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: lease: {exc}") from exc

    def release(self, holder: str) -> None:
        """Give the lease up (a clean stop), if it is ours; errors are ignored."""
        with contextlib.suppress(redis.RedisError):
            self._release(keys=[self.keys.lease], args=[holder])

    def read(self, after_seq: int = 0) -> Iterator[Record]:
        start = after_seq + 1
        while True:
            try:
                entries = (
                    self._client.xrange(self.keys.events, f"{start}-0", "+", count=BATCH) or []
                )
            except redis.RedisError as exc:
                raise StoreError(f"event log Redis: read failed: {exc}") from exc
            for _, fields in entries:
                record = _record(fields)
                start = record.seq + 1
                yield record
            if len(entries) < BATCH:
                return

    def read_feed(
        self, feed: str, after_seq: int = 0, limit: int = MAX_FEED_READ
    ) -> list[FeedRecord]:
        check_feed_read(feed, after_seq, limit)
        try:
            entries = self._client.xrange(
                self.keys.feed(feed), f"{after_seq + 1}-0", "+", count=limit
            )
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: read failed: {exc}") from exc
        out = []
        rows: list[Any] = entries or []
        for entry_id, fields in rows:
            try:
                seq = int(_text(entry_id).split("-")[0])
                at_s = float(fields[b"at_s"])
                body = fields[b"body"]
            except (KeyError, ValueError) as exc:
                raise StoreError(f"event log Redis: malformed feed entry: {exc}") from exc
            out.append(FeedRecord(feed, seq, at_s, decode_body(seq, body)))
        return out

    def feed_last_seq(self, feed: str) -> int:
        check_feed_name(feed)
        try:
            top = self._client.xrevrange(self.keys.feed(feed), "+", "-", count=1)
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: {exc}") from exc
        rows: list[Any] = top or []
        return int(_text(rows[0][0]).split("-")[0]) if rows else 0

    # --- snapshots (dispatch.store.snapshot) ---------------------------------------------------
    def put_snapshot(self, last_seq: int, blob: bytes, keep: int = 2) -> None:
        """Store a snapshot in the hash next to the stream; drop all but the `keep` newest."""
        try:
            self._client.hset(self.keys.snapshots, str(last_seq), blob)
            seqs = sorted((int(s) for s in self._client.hkeys(self.keys.snapshots)), reverse=True)
            if len(seqs) > keep:
                self._client.hdel(self.keys.snapshots, *(str(s) for s in seqs[keep:]))
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: snapshot failed: {exc}") from exc

    def snapshot_seqs(self) -> list[int]:
        try:
            fields = self._client.hkeys(self.keys.snapshots)
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: {exc}") from exc
        return sorted((int(s) for s in fields if _text(s).isdigit()), reverse=True)

    def read_snapshot(self, last_seq: int) -> bytes | None:
        try:
            blob = self._client.hget(self.keys.snapshots, str(last_seq))
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: {exc}") from exc
        if blob is None:
            return None
        return blob.encode() if isinstance(blob, str) else bytes(blob)

    def last_seq(self) -> int:
        try:
            value = self._client.get(self.keys.seq)
        except redis.RedisError as exc:
            raise StoreError(f"event log Redis: {exc}") from exc
        return int(value or 0)

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self._client.close()

    def _check_durable(self) -> None:
        """StoreError unless the server fsyncs every write before it replies."""
        for name, want in REQUIRED.items():
            got = {_text(k): _text(v) for k, v in self._client.config_get(name).items()}
            if got.get(name) != want:
                raise StoreError(
                    f"event log Redis has {name}={got.get(name)!r} but needs {name} {want}: "
                    "without it an acknowledged event can be lost in a crash. Start "
                    "redis-server with --appendonly yes --appendfsync always "
                    "(or pass allow_unsafe=True for a throwaway development Redis)"
                )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(fields: Any) -> Record:
    """A record from a stream entry's fields (a dict from XRANGE, a flat list from the script)."""
    if isinstance(fields, list):
        fields = dict(zip(fields[::2], fields[1::2], strict=True))
    try:
        seq = int(fields[b"seq"])
        at_s = float(fields[b"at_s"])
        key = fields[b"key"].decode() or None
        body = fields[b"body"]
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise StoreError(f"event log Redis: malformed stream entry: {exc}") from exc
    return Record(seq, at_s, decode_body(seq, body), key)
