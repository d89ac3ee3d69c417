"""The pool of TPU VM pod slices a sweep runs on, validated from the launcher's config.

A slice is one TPU VM (``v4-8``: one worker) or pod slice (``v4-32``: four workers) that
runs one hpfree run at a time on all of its workers.  With the ``gcloud`` transport a slice
is named like ``gcloud compute tpus tpu-vm`` names it (name, zone, project) and ``workers``
is its number of VMs; with the ``ssh`` transport it lists one ``[user@]host[:port]`` per
worker, worker 0 (JAX's coordinator) first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from hpfree.errors import ConfigError, check

TRANSPORTS = ("gcloud", "ssh")
_HOST = re.compile(r"^(?:(?P<user>[^@\s:]+)@)?(?P<host>[^@\s:]+)(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class Host:
    """One worker reached over plain ssh."""

    host: str
    port: Optional[int] = None
    user: Optional[str] = None

    @classmethod
    def parse(cls, text: str, where: str) -> "Host":
        m = _HOST.match(str(text).strip())
        check(m is not None,
              f"{where}={text!r} is not a host; write [user@]host[:port], e.g. 10.0.0.2:22")
        port = int(m["port"]) if m["port"] else None
        check(port is None or 0 < port < 65536, f"{where}={text!r} has port {port} outside 1..65535")
        return cls(m["host"], port, m["user"])

    def target(self, default_user: Optional[str] = None) -> str:
        user = self.user or default_user
        return f"{user}@{self.host}" if user else self.host


@dataclass(frozen=True)
class Slice:
    name: str
    workers: int
    zone: Optional[str] = None
    project: Optional[str] = None
    hosts: tuple[Host, ...] = ()
    coordinator: Optional[str] = None  # host:port of worker 0 as the other workers reach it
    env: Mapping[str, str] = field(default_factory=dict)


def parse_slices(specs: Iterable[Mapping[str, Any]], transport: str,
                 coordinator_port: int = 8476) -> list[Slice]:
    """Validate the ``slices`` list of the launcher config; one-line :class:`ConfigError`."""
    check(transport in TRANSPORTS,
          f"hydra.launcher.transport={transport!r} is unknown; choose {' or '.join(TRANSPORTS)}")
    specs = list(specs or [])
    check(len(specs) > 0,
          "hydra.launcher.slices is empty; name at least one slice, e.g. "
          "hydra.launcher.slices='[{name:my-v4-32,zone:us-central2-b,workers:4}]'")
    out: list[Slice] = []
    for i, spec in enumerate(specs):
        where = f"hydra.launcher.slices[{i}]"
        name = spec.get("name")
        check(bool(name), f"{where} has no name; every slice needs one")
        hosts = tuple(Host.parse(h, f"{where}.hosts[{j}]")
                      for j, h in enumerate(spec.get("hosts") or []))
        workers = spec.get("workers")
        if transport == "ssh":
            check(len(hosts) > 0, f"{where} ({name}) lists no hosts; the ssh transport needs one "
                                  "[user@]host[:port] per worker, worker 0 first")
            workers = len(hosts) if workers is None else int(workers)
            check(workers == len(hosts),
                  f"{where} ({name}) has workers={workers} but {len(hosts)} hosts; give one host "
                  "per worker")
        else:
            workers = 1 if workers is None else int(workers)
            check(workers >= 1, f"{where} ({name}) has workers={workers}; it must be >= 1")
        coordinator = spec.get("coordinator")
        if coordinator is None and hosts:
            # Slices whose worker 0 share a host (as in the tests) need distinct ports.
            coordinator = f"{hosts[0].host}:{coordinator_port + i}"
        env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
        out.append(Slice(str(name), workers, spec.get("zone"), spec.get("project"), hosts,
                         coordinator, env))
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    check(not dupes, f"hydra.launcher.slices names {', '.join(dupes)} more than once; "
                     "at most one run per slice needs unique names")
    return out
