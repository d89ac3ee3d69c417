"""Plug-in registries filled from Python entry points: built-ins and users' packages alike.

hpfree's plug-in points — optimizers, workloads, runners and queue back-ends — are each a
:class:`Registry` bound to an entry-point group::

    [project.entry-points."hpfree.optimizers"]
    my_opt = "my_package.my_opt:SPEC"

The object an entry point names is a *spec* with a ``name`` attribute equal to the entry
point's name; the registry loads every entry point of its group the first time it is asked,
so an installed package's optimizer is found by ``hpfree-train optimizer=my_opt`` without
editing hpfree.  hpfree's own built-ins are declared the same way in its ``pyproject.toml``.

A source checkout that was never installed has no entry-point metadata: then (and only
then) a registry falls back to importing the modules of its own package (``fallback``) and
collecting the specs they define, which are the same objects the entry points name
(``tests/test_plugins.py`` checks the two lists agree).  ``register`` adds a spec by hand
(tests, notebooks).
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib import metadata
from typing import Callable, Generic, Iterable, Optional, TypeVar

from hpfree.errors import ConfigError

T = TypeVar("T")
DISTRIBUTION = "hpfree"


class Registry(Generic[T]):
    """Name → spec for one entry-point group (see the module docstring).

    Args:
      group: the entry-point group, e.g. ``"hpfree.optimizers"``.
      kind: what a spec is, for messages (``"optimizer"``).
      spec_type: the class every spec must be an instance of.
      fallback: the package(s) whose modules define the built-in specs, scanned only when
        hpfree itself is not installed (no entry-point metadata).
    """

    def __init__(self, group: str, kind: str, spec_type: type,
                 fallback: str | tuple[str, ...]) -> None:
        self.group = group
        self.kind = kind
        self.spec_type = spec_type
        self.fallback = (fallback,) if isinstance(fallback, str) else tuple(fallback)
        self._specs: dict[str, T] = {}
        self._sources: dict[str, str] = {}
        self._loaded = False

    # -- filling ------------------------------------------------------------------------
    def register(self, spec: T, source: str = "register()") -> T:
        """Add ``spec`` under ``spec.name``; a second, different spec of that name is an error."""
        if not isinstance(spec, self.spec_type):
            raise ConfigError(f"{source}: a {self.kind} plug-in must be a "
                              f"{self.spec_type.__name__}, got {type(spec).__name__}")
        name = getattr(spec, "name")
        old = self._specs.get(name)
        if old is not None and old is not spec:
            raise ConfigError(f"two {self.kind}s are named {name!r}: {self._sources[name]} "
                              f"and {source}; rename one")
        self._specs[name] = spec
        self._sources[name] = source
        return spec

    def _entry_points(self) -> list[metadata.EntryPoint]:
        return sorted(metadata.entry_points(group=self.group), key=lambda ep: ep.name)

    def _load_entry_point(self, ep: metadata.EntryPoint) -> None:
        source = f"entry point {ep.name} = {ep.value} ({self.group})"
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plug-in: say which, in one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConfigError(f"{self.kind} plug-in {ep.name!r} ({ep.value}) failed to load: "
                              f"{type(exc).__name__}: {first}") from None
        if getattr(obj, "name", None) != ep.name:
            raise ConfigError(f"{source}: the spec is named {getattr(obj, 'name', None)!r}, "
                              f"not {ep.name!r}")
        self.register(obj, source)

    def _scan_fallback(self) -> None:
        for name in self.fallback:
            package = importlib.import_module(name)
            for info in pkgutil.iter_modules(package.__path__):
                try:
                    module = importlib.import_module(f"{name}.{info.name}")
                except ImportError as exc:  # an optional dependency (e.g. algoperf) is absent
                    if (exc.name or "").split(".")[0] == "hpfree":
                        raise
                    continue
                for obj in list(vars(module).values()):
                    if isinstance(obj, type) and obj.__module__ == module.__name__:
                        obj = vars(obj).get("spec")  # a class declared with a decorator
                    if isinstance(obj, self.spec_type):
                        self.register(obj, f"{module.__name__} (uninstalled checkout)")

    def load(self) -> None:
        """Load every entry point of the group (once)."""
        if self._loaded:
            return
        self._loaded = True
        eps = self._entry_points()
        if not any(_distribution(ep) == DISTRIBUTION for ep in eps):
            self._scan_fallback()
        for ep in eps:
            self._load_entry_point(ep)

    # -- asking -------------------------------------------------------------------------
    def all(self) -> dict[str, T]:
        self.load()
        return dict(sorted(self._specs.items()))

    def names(self) -> list[str]:
        return list(self.all())

    def get(self, name: Optional[str]) -> T:
        """The spec for ``name``; a one-line :class:`ConfigError` listing the known names."""
        specs = self.all()
        if name not in specs:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(specs)}")
        return specs[name]

    def source(self, name: str) -> str:
        self.load()
        return self._sources.get(name, "?")

    def where(self, predicate: Callable[[T], bool]) -> list[str]:
        return [n for n, s in self.all().items() if predicate(s)]


def _distribution(ep: metadata.EntryPoint) -> Optional[str]:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None) or (dist.metadata["Name"] if dist is not None else None)
    return None if name is None else str(name).lower().replace("_", "-")


def declared_entry_points(group: str, distribution: str = DISTRIBUTION) -> Iterable[str]:
    """Names ``distribution`` declares in ``group`` (for tests and ``--help``)."""
    return sorted(ep.name for ep in metadata.entry_points(group=group)
                  if _distribution(ep) == distribution)
