"""A real Redis primary, one replica and three `redis-sentinel` processes on loopback ports.

`SentinelSet.start(workdir)` starts them (the data nodes with the production options, `DURABLE`)
and returns once every Sentinel knows the primary and its replica; `url` is the
`redis+sentinel://` URL jijiu takes; `kill_primary` SIGKILLs the primary, and `wait_failover`
waits until the Sentinels name another. Everything is stopped by `stop`. Without
redis-sentinel the test skips locally and fails under CI (`require_service`).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.support.redis_server import DURABLE, RedisServer, free_port
from tests.support.services import require_service

MASTER = "jijiu"


class SentinelSet:
    """Primary, replica and three Sentinels (quorum 2), failover in about two seconds."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-sentinel")
        require_service("redis-sentinel", binary is not None)
        assert binary is not None
        self.sentinels: list[subprocess.Popen[bytes]] = []
        self.sentinel_ports: list[int] = []
        (workdir / "primary").mkdir()
        (workdir / "replica").mkdir()
        self.primary = RedisServer(workdir / "primary", *DURABLE)
        self.replica = RedisServer(
            workdir / "replica", *DURABLE, "--replicaof", "127.0.0.1", str(self.primary.port)
        )
        try:
            for i in range(3):
                port = free_port()
                conf = workdir / f"sentinel-{i}.conf"
                conf.write_text(
                    f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                    f"logfile {workdir / f'sentinel-{i}.log'}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2\n"
                    f"sentinel down-after-milliseconds {MASTER} 1000\n"
                    f"sentinel failover-timeout {MASTER} 5000\n"
                    f"sentinel parallel-syncs {MASTER} 1\n"
                )
                self.sentinels.append(
                    subprocess.Popen(
                        [binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                )
                self.sentinel_ports.append(port)
            self._wait(self._replica_online, 30)
            self._wait(lambda: all(self._knows_replica(p) for p in self.sentinel_ports), 30)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER}"

    def primary_port(self) -> int | None:
        """The primary's port as the first Sentinel that answers says it."""
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
            try:
                host = client.sentinel_get_master_addr_by_name(MASTER)
                return int(host[1]) if host else None
            except redis.RedisError:
                continue
            finally:
                client.close()
        return None

    def kill_primary(self) -> None:
        """SIGKILL the current primary (the node, not a Sentinel)."""
        self.primary.proc.kill()
        self.primary.proc.wait(timeout=10)

    def wait_failover(self, within_s: float = 30.0) -> None:
        """Until the Sentinels name the replica as the primary."""
        self._wait(lambda: self.primary_port() == self.replica.port, within_s)

    def _replica_online(self) -> bool:
        """The primary streams to the replica (so `WAIT 1` can be answered)."""
        client = redis.Redis(port=self.primary.port, socket_timeout=1)
        try:
            info = client.info("replication")
            replica = info.get("slave0")
            return isinstance(replica, dict) and replica.get("state") == "online"
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _knows_replica(self, port: int) -> bool:
        client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
        try:
            replicas = client.sentinel_slaves(MASTER)
            return any(
                int(r.get("port", 0)) == self.replica.port and "s_down" not in r.get("flags", "")
                for r in replicas
            )
        except redis.RedisError:
            return False
        finally:
            client.close()

    @staticmethod
    def _wait(check: object, within_s: float) -> None:
        assert callable(check)
        deadline = time.monotonic() + within_s
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis Sentinel set-up not ready within {within_s} s")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.sentinels:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=10)
        for node in (self.replica, self.primary):
            if node.proc.poll() is None:
                node.stop()
