"""Code from outside the package: a plugin is a Python module that registers methods, metrics, scenarios or datasets
through the package's registries (``register_method``, ``register_metric_group``, ``register_scenario``,
``register_dataset``) when it is imported. Three ways to load one, all before the config is composed:

1. ``plugins=[my_pkg.my_methods]`` on the command line (a module name, or a ``.py`` file path such as
   ``plugins=[examples/my_method.py]``), or the environment variable ``UNLEARN_BENCH_PLUGINS=a,b``;
2. an installed distribution that declares the entry-point group ``unlearn_bench.plugins`` (each entry point names a
   module): imported at every start;
3. no code at all: ``method=external_checkpoint method.path=...`` evaluates a model unlearned elsewhere.

A plugin module may set ``CONF_DIR`` (a folder laid out like ``conf/``: ``method/``, ``data/``, ``train/``, ...):
it is added to Hydra's search path after the package's ``conf/``, so its presets are selectable by name. A
registered method needs no YAML file: ``method=<name>`` composes its ``Config`` defaults.

Every loaded plugin is listed (``python -m unlearn_bench.plugins``) with where it came from and its version, and the
run key covers the source of the method's code (``code_identity``), so editing a method reruns it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from unlearn_bench.errors import ConfigError

PLUGINS_ENV = "UNLEARN_BENCH_PLUGINS"
ENTRY_POINT_GROUP = "unlearn_bench.plugins"
PACKAGE = __name__.split(".")[0]


@dataclass(frozen=True)
class Plugin:
    module: str  # the imported module's name
    source: str  # "plugins=", "UNLEARN_BENCH_PLUGINS" or "entry point <distribution>"
    version: str | None  # the distribution's version where the module belongs to an installed one
    conf_dir: str | None  # its config folder (CONF_DIR), added to Hydra's search path


LOADED: dict[str, Plugin] = {}  # module name -> Plugin, in load order


def parsed_overrides(overrides: Sequence[str]) -> list[Any]:
    """The overrides Hydra's parser accepts, parsed (each a ``hydra.core.override_parser.types.Override``); a
    malformed one is skipped here and reported by Hydra itself when it composes."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser, parsed = OverridesParser.create(), []
    for text in overrides:
        try:
            parsed += parser.parse_overrides([text])
        except OverrideParseException:
            continue
    return parsed


def requested_in(overrides: Sequence[str]) -> list[str]:
    """The plugin names in ``plugins=...`` / ``+plugins=...`` command-line overrides (Hydra's own parser, so
    ``plugins=[a,b]`` and ``plugins=a`` both work)."""
    names: list[str] = []
    for override in parsed_overrides([o for o in overrides if o.lstrip("+~").split("=", 1)[0] == "plugins"]):
        value = override.value()
        names += [str(v) for v in value] if isinstance(value, list) else [str(value)] if value else []
    return names


def requested_in_env() -> list[str]:
    return [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]


def load(names: Iterable[str], source: str = "plugins=") -> list[Plugin]:
    """Import each plugin (a module name or a ``.py`` path) once; ConfigError (exit 2) naming it when it cannot be
    imported. A file path puts its folder on ``sys.path`` and imports it by its stem, so child processes (spawned
    method isolation, launchers) import the same module by name."""
    loaded = []
    for name in names:
        module_name = name
        if name.endswith(".py"):
            path = Path(name).resolve()
            if not path.is_file():
                raise ConfigError(f"plugins={name!r}: no such file")
            if str(path.parent) not in sys.path:
                sys.path.insert(0, str(path.parent))
            module_name = path.stem
        if module_name in LOADED:
            loaded.append(LOADED[module_name])
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise ConfigError(f"plugins={name!r} cannot be imported ({err}); give an importable module name (on "
                              "PYTHONPATH or installed) or a path to a .py file") from err
        loaded.append(_remember(module, source))
    return loaded


def load_entry_points() -> list[Plugin]:
    """Import the modules of every installed distribution's ``unlearn_bench.plugins`` entry points."""
    loaded = []
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.module in LOADED:
            continue
        module = importlib.import_module(entry.module)
        dist = entry.dist.name if entry.dist is not None else "?"
        loaded.append(_remember(module, f"entry point {dist}"))
    return loaded


def load_all(overrides: Sequence[str] = ()) -> list[Plugin]:
    """Every plugin a run asks for: installed entry points, ``UNLEARN_BENCH_PLUGINS``, then ``plugins=`` overrides.
    Called by the command line and ``compose_config`` before composing, and by the runner for the config's own
    ``plugins`` (a launcher's worker process composes nothing)."""
    return [*load_entry_points(), *load(requested_in_env(), PLUGINS_ENV), *load(requested_in(overrides))]


def _remember(module: types.ModuleType, source: str) -> Plugin:
    conf_dir = getattr(module, "CONF_DIR", None)
    if conf_dir is not None and not Path(conf_dir).is_dir():
        raise ConfigError(f"plugin {module.__name__!r}: CONF_DIR={str(conf_dir)!r} is not a folder")
    plugin = Plugin(module.__name__, source, distribution_version(module.__name__),
                    str(Path(conf_dir).resolve()) if conf_dir is not None else None)
    LOADED[module.__name__] = plugin
    if plugin.conf_dir:
        _add_search_path_plugin()
    return plugin


def distribution_version(module_name: str) -> str | None:
    """``"<distribution> <version>"`` of the installed distribution that ships ``module_name``'s top-level
    package; None for a module that is only on ``sys.path``."""
    top = module_name.split(".")[0]
    dists = metadata.packages_distributions().get(top, [])
    return f"{dists[0]} {metadata.version(dists[0])}" if dists else None


def _add_search_path_plugin() -> None:
    """Put the loaded plugins' config folders on Hydra's search path (a Hydra SearchPathPlugin, registered once)."""
    from hydra.core.plugins import Plugins
    from hydra.plugins.search_path_plugin import SearchPathPlugin

    class PluginConfigs(SearchPathPlugin):
        def manipulate_search_path(self, search_path: Any) -> None:
            for plugin in LOADED.values():
                if plugin.conf_dir:
                    search_path.append(provider=f"plugin {plugin.module}", path=f"file://{plugin.conf_dir}")

    registry = Plugins.instance()
    if not any(cls.__name__ == "PluginConfigs" for cls in registry.discover(SearchPathPlugin)):
        registry.register(PluginConfigs)


def code_identity(obj: type) -> dict[str, Any]:
    """What a run key needs to know about a class's code: the SHA-256 of the source file of every module that
    defines the class or one of its bases, and of every module of the same top-level package whose functions,
    classes or submodules the class's module imports from its own package or from unlearn_bench (one level: e.g. a
    method's shared helpers and the training loop), keyed by module name; with the distribution's version where
    installed. Not covered: modules imported further down, compiled extensions and the libraries (their versions
    are in the record)."""
    modules: set[types.ModuleType] = set()
    for cls in inspect.getmro(obj):
        module = sys.modules.get(cls.__module__)
        if module is not None and getattr(module, "__file__", None):
            modules.add(module)
    roots = {obj.__module__.split(".")[0], PACKAGE}
    for value in vars(sys.modules[obj.__module__]).values():
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        module = sys.modules.get(name) if isinstance(name, str) else None
        if module is not None and getattr(module, "__file__", None):
            modules.add(module)
    files = {m.__name__: source_digest(m) for m in sorted(modules, key=lambda m: m.__name__)
             if m.__name__.split(".")[0] in roots}
    return {"module": obj.__module__, "version": distribution_version(obj.__module__), "files": files}


SOURCE_DIGESTS: dict[str, str] = {}  # module name -> SHA-256 of its file when this process first hashed it


def source_digest(module: types.ModuleType) -> str:
    """The SHA-256 of ``module``'s source file, taken once per process (close to when it was imported): a file
    edited while a sweep runs does not give the sweep's later jobs a key for code they are not running."""
    if module.__name__ not in SOURCE_DIGESTS:
        SOURCE_DIGESTS[module.__name__] = hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()
    return SOURCE_DIGESTS[module.__name__]


def origin(module_name: str) -> str:
    """Where a registered thing comes from: ``unlearn_bench`` or ``plugin <module> (<source>)``."""
    if module_name.split(".")[0] == PACKAGE:
        return PACKAGE
    plugin = next((p for name, p in LOADED.items() if module_name == name or module_name.startswith(f"{name}.")),
                  None)
    return f"plugin {plugin.module} ({plugin.source})" if plugin else f"module {module_name}"
