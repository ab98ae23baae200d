"""The plugin manager: discovery, activation, tracing and per-plugin state.

Plugins are distributions that declare an entry point in the ``trl_reasoning`` group::

    [project.entry-points.trl_reasoning]
    hapo = "trl_reason_hapo.plugin"

The entry point names a module. Hook implementations at module level that register things
(``register_trainers``, ``register_rewards``, ``register_commands``, ``register_eval_options``) are collected from
every installed plugin. Everything else acts only when a recipe names the plugin under ``plugins:``: the manager
then builds ``module.Plugin(config)`` (``config`` is an instance of ``Plugin.Config``, a dataclass validated like
the rest of the recipe) and registers that object. A module without a ``Plugin`` class is itself registered
when named, and accepts no config.

Environment variables (as in simonw/llm and datasette):

* ``TRL_REASONING_LOAD_PLUGINS=a,b``: load only these installed plugins (empty string: none).
* ``TRL_REASONING_DISABLE_PLUGINS=a,b``: never load these.
* ``TRL_REASONING_TRACE_PLUGINS=1``: print every hook call, its arguments and its result.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import types
from importlib import metadata
from typing import Any, Iterable

import pluggy

from trl_reasoning.versions import version_of
from trl_reasoning import hookspecs
from trl_reasoning.config.schema import ConfigError, build_dataclass
from trl_reasoning.plugins.composition import RESERVED_PREFIX, removed_by_composition
from trl_reasoning.plugins.tracing import install_tracing

ENTRY_POINT_GROUP = "trl_reasoning"
CORE_PLUGIN = "builtin"
CORE_PLUGIN_MODULE = "trl_reasoning.trainers.builtin"
REGISTRATION_HOOKS = ("register_trainers", "register_rewards", "register_commands", "register_eval_options")


# The method plugins that come with trl-reasoning (plugins/<name>/ in the repository): entry-point name ->
# distribution. `pip install "trl-reasoning[methods]"` installs them all (tests/distribution keep this complete).
BUILTIN_PLUGINS = {
    "correctness": "trl-reason-correctness", "fastcurl": "trl-reason-fastcurl",
    "format_reward": "trl-reason-format-reward", "hapo": "trl-reason-hapo", "inra": "trl-reason-inra",
    "one_shot": "trl-reason-one-shot", "pcl": "trl-reason-pcl", "ppo": "trl-reason-ppo",
    "questa": "trl-reason-questa", "trra": "trl-reason-trra",
}


def install_hint(name: str) -> str:
    """How to install the plugin ``name``: a built-in method by its distribution (or from the checkout's
    ``plugins/`` folder, where there is one); any other plugin by the distribution that provides it."""
    if name in BUILTIN_PLUGINS:
        from pathlib import Path

        checkout = Path(__file__).resolve().parent.parent / "plugins" / name
        local = f"; from this checkout: pip install -e {checkout}" if (checkout / "pyproject.toml").is_file() else ""
        return (f"{name!r} is a built-in method that is not installed: pip install {BUILTIN_PLUGINS[name]} "
                f"(every method: pip install \"trl-reasoning[methods]\"{local}).")
    return ("Install the distribution that provides it, `pip install <distribution>` (the plugin's documentation "
            "names it), and check that `trl-reason plugins` lists it.")


class PluginError(Exception):
    """A plugin could not be loaded, configured or called. The message names the plugin."""


@dataclasses.dataclass
class InstalledPlugin:
    name: str
    module: Any
    entry_point: str  # "name = value" as declared
    distribution: str | None
    version: str | None

    @property
    def plugin_class(self):
        return getattr(self.module, "Plugin", None)

    @property
    def config_class(self):
        cls = self.plugin_class
        return getattr(cls, "Config", None) if cls is not None else None


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {item.strip() for item in value.split(",") if item.strip()}


def _new_pluggy() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    install_tracing(pm)  # prints every hook call with its values when TRL_REASONING_TRACE_PLUGINS is set
    return pm


def hook_names() -> set[str]:
    """The names of every trl_reasoning hook (the spec functions of ``hookspecs``)."""
    return {n for n, f in vars(hookspecs).items() if hasattr(f, hookspecs.PROJECT_NAME + "_spec")}


class PluginManager:
    """Installed plugins (for registration hooks) and the active ones of a run (for every other hook).

    ``installed`` holds every discovered plugin module; ``hook`` calls only the active plugins. The core's own
    plugin (``trl_reasoning.trainers.builtin``: the ``grpo``/``sft`` trainers, ``boxed_integer``) is installed by the
    composition root (``run.prepare``, the CLI, ``trl_reasoning.testing``) with ``install_core()``, or with
    ``core=True``; it never needs naming in a recipe.
    """

    def __init__(self, extra_modules: Iterable[tuple[str, Any]] = (), discover: bool = True, core: bool = False):
        self.installed: dict[str, InstalledPlugin] = {}
        self._registry = _new_pluggy()
        self._active_pm = _new_pluggy()
        self.active: dict[str, Any] = {}
        self.composition: dict[str, str] = {}  # hook -> the one plugin whose implementation acts (recipe `compose:`)
        self._removed: dict[str, list[Any]] = {}  # hook -> plugin objects `compose:` switched off for it
        # (hook, only) -> (pluggy caller, firstresult), and hook -> acting implementers' names: built on first use,
        # forgotten by _changed() whenever the active plugins or the composition change
        self._callers: dict[tuple[str, str | None], tuple[Any, bool]] = {}
        self._implementers: dict[str, tuple[str, ...]] = {}
        self._trainers: dict[str, tuple[type, type]] | None = None
        self._rewards: dict[str, Any] | None = None
        if core:
            self.install_core()
        if discover:
            self._discover()
        for name, module in extra_modules:
            self._install(InstalledPlugin(name, module, f"{name} = {getattr(module, '__name__', name)}", None, None))

    def install_core(self) -> None:
        """Install the core's own plugin (the ``grpo``/``sft`` trainers, ``boxed_integer``), by dotted name: the
        plugin system does not import the trainers it offers."""
        if CORE_PLUGIN not in self.installed:
            module = importlib.import_module(CORE_PLUGIN_MODULE)
            self._install(InstalledPlugin(CORE_PLUGIN, module, f"{CORE_PLUGIN} = {CORE_PLUGIN_MODULE}",
                                          "trl-reasoning", _version("trl-reasoning")))
            self._trainers = self._rewards = None  # its registrations count from now on

    # -- discovery -----------------------------------------------------------------------------------------------

    def _discover(self) -> None:
        only = _env_list("TRL_REASONING_LOAD_PLUGINS")
        disabled = _env_list("TRL_REASONING_DISABLE_PLUGINS") or set()
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in disabled or (only is not None and ep.name not in only):
                continue
            if ep.name in self.installed:
                continue  # the same distribution seen twice on sys.path
            try:
                module = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} (entry point '{ep.name} = {ep.value}') failed to import: "
                    f"{type(exc).__name__}: {exc}. Fix or uninstall it, or skip it with "
                    f"TRL_REASONING_DISABLE_PLUGINS={ep.name}"
                ) from exc
            dist = getattr(ep, "dist", None)
            self._install(InstalledPlugin(ep.name, module, f"{ep.name} = {ep.value}",
                                          dist.name if dist else None, dist.version if dist else None))

    def install(self, name: str, plugin: Any, *, activate_config: dict | None = None) -> InstalledPlugin:
        """Install ``plugin`` under ``name`` as if an entry point declared it (tests, notebooks): a module (with a
        ``Plugin`` class or hook functions) or a ``Plugin`` class. With ``activate_config`` it is activated too,
        the config validated like a recipe's ``plugins.<name>``."""
        if name in self.installed:
            raise ValueError(f"a plugin named {name!r} is already installed in this PluginManager")
        if isinstance(plugin, types.ModuleType):
            module = plugin
        elif inspect.isclass(plugin):
            module = types.ModuleType(f"trl_reasoning_installed_plugin_{name}")
            module.Plugin = plugin
        else:
            raise TypeError(f"install({name!r}): give a module or a Plugin class; register a built object with "
                            "register_active")
        installed = InstalledPlugin(name, module, f"{name} = {module.__name__}", None, None)
        self._install(installed)
        self._trainers = self._rewards = None  # its registration hooks count from now on
        self._changed()
        if activate_config is not None:
            self.activate({name: activate_config})
        return installed

    def uninstall(self, name: str) -> None:
        """Undo ``install`` (and activation): the plugin is gone from both registries."""
        self.unregister(name)
        installed = self.installed.pop(name, None)
        if installed is not None and self._registry.is_registered(installed.module):
            self._registry.unregister(installed.module)
        self._trainers = self._rewards = None
        self._changed()

    def _install(self, plugin: InstalledPlugin) -> None:
        self.installed[plugin.name] = plugin
        try:
            self._registry.register(plugin.module, name=plugin.name)
            self._check_names(plugin.name, plugin.module)
            if plugin.plugin_class is not None:
                self._check_names(plugin.name, plugin.plugin_class)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"plugin {plugin.name!r} ({plugin.entry_point}) could not be registered: {exc}") from exc

    @staticmethod
    def _check_names(name: str, obj: Any) -> None:
        """Fail at start-up on a hook implementation that matches no hookspec (a misspelled hook never fires)."""
        known = hook_names()
        for attr in dir(obj):
            value = getattr(obj, attr, None)
            opts = getattr(value, hookspecs.PROJECT_NAME + "_impl", None)
            if opts is not None and attr not in known:
                import difflib

                close = difflib.get_close_matches(attr, sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise PluginError(f"plugin {name!r} implements {attr!r}, which is not a trl_reasoning hook{hint}")

    # -- activation ----------------------------------------------------------------------------------------------

    def activate(self, plugins: dict[str, dict | None], path: str = "plugins") -> None:
        """Build and register the plugins a recipe names, each from its validated config."""
        try:
            self._activate(plugins, path)
        finally:
            self._changed()  # also after a failure: the plugins registered before it stay registered

    def _activate(self, plugins: dict[str, dict | None], path: str) -> None:
        for name, raw in plugins.items():
            if name.startswith(RESERVED_PREFIX):
                raise ConfigError(f"{path}.{name}", f"names starting with {RESERVED_PREFIX!r} are reserved for the "
                                                    "core's own features (set them through their recipe keys, e.g. "
                                                    "trainer.group_filter); rename or remove this entry")
            if name not in self.installed or name == CORE_PLUGIN:
                known = sorted(n for n in self.installed if n != CORE_PLUGIN)
                import difflib

                close = difflib.get_close_matches(name, known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"{path}.{name}",
                    f"no installed plugin is named {name!r}.{hint} Installed plugins: "
                    f"{', '.join(known) or '(none)'}. {install_hint(name)}",
                )
            plugin = self.installed[name]
            raw = dict(raw or {})
            cls = plugin.plugin_class
            if cls is None:
                if raw:
                    raise ConfigError(f"{path}.{name}", f"plugin {name!r} takes no configuration")
                instance = plugin.module
            else:
                config = build_dataclass(cls.Config, raw, f"{path}.{name}") if plugin.config_class else None
                try:
                    instance = cls(config) if plugin.config_class else cls()
                except ConfigError:
                    raise
                except Exception as exc:
                    raise PluginError(f"plugin {name!r} ({plugin.entry_point}) failed to start: "
                                      f"{type(exc).__name__}: {exc}") from exc
            self._active_pm.register(instance, name=name)
            self.active[name] = instance
        self._active_pm.check_pending()

    def register_active(self, name: str, instance: Any) -> None:
        """Activate an already-built plugin object (tests and the core's own features, named ``core:...``)."""
        self._check_names(name, instance)
        try:
            self._active_pm.register(instance, name=name)
            self.active[name] = instance
            self._active_pm.check_pending()
            self._apply_composition()
        finally:
            self._changed()

    def unregister(self, name: str) -> None:
        if name in self.active:
            self._active_pm.unregister(self.active.pop(name))
            self._apply_composition()

    def set_composition(self, compose: dict[str, str] | None) -> None:
        """Call only the named plugin's implementation of each composed ``one`` hook (recipe ``compose:``; checked by
        ``plugins.composition.check_composition`` first)."""
        self.composition = dict(compose or {})
        self._apply_composition()

    def _apply_composition(self) -> None:
        self._removed = {hook: [self.active[n] for n in names if n in self.active]
                         for hook, names in removed_by_composition(self.all_hooks_view(), self.composition).items()}
        self._changed()

    def _changed(self) -> None:
        """Forget the cached callers and implementer lists: every change of the active plugins or of the
        composition goes through here (activate, register_active, unregister, set_composition, install,
        uninstall), so the next call sees it."""
        self._callers.clear()
        self._implementers.clear()

    def all_hooks_view(self) -> "_RawView":
        """This manager as ``check_composition`` reads it: every active implementation, composed or not."""
        return _RawView(self)

    @property
    def hook(self):
        """Hooks of the active plugins; call with keyword arguments only. A hook that ``compose:`` gives to one
        plugin calls only that plugin's implementation."""
        return _ComposedHooks(self) if self._removed else self._active_pm.hook

    def caller(self, hook_name: str, only: str | None = None):
        """The pluggy hook caller of ``hook_name`` (composed), or of one plugin's implementation only (``only``);
        calls through it are traced like any hook call. Built once per active set (a step calls each hook several
        times) and cached until the active plugins or the composition change."""
        return self._cached_caller(hook_name, only)[0]

    def _cached_caller(self, hook_name: str, only: str | None) -> tuple[Any, bool]:
        key = (hook_name, only)
        cached = self._callers.get(key)
        if cached is None:
            caller = self._build_caller(hook_name, only)  # an unknown hook raises AttributeError, never cached
            cached = self._callers[key] = (caller, bool(caller.spec is not None
                                                        and caller.spec.opts.get("firstresult")))
        return cached

    def _build_caller(self, hook_name: str, only: str | None):
        if only is None:
            removed = self._removed.get(hook_name)
            if not removed:
                return getattr(self._active_pm.hook, hook_name)
            return self._active_pm.subset_hook_caller(hook_name, remove_plugins=removed)
        others = [plugin for name, plugin in self.active.items() if name != only]
        return self._active_pm.subset_hook_caller(hook_name, remove_plugins=others)

    # -- registries filled by registration hooks -------------------------------------------------------------------

    def trainers(self) -> dict[str, tuple[type, type]]:
        if self._trainers is None:
            found: dict[str, tuple[type, type]] = {}

            def register(name, trainer_class, config_class):
                found[name] = (trainer_class, config_class)

            self._registry.hook.register_trainers(register=register)
            self._trainers = found
        return self._trainers

    def rewards(self) -> dict[str, Any]:
        if self._rewards is None:
            found: dict[str, Any] = {}

            def register(name, factory):
                found[name] = factory

            self._registry.hook.register_rewards(register=register)
            self._rewards = found
        return self._rewards

    def register_commands(self, subparsers) -> None:
        self._registry.hook.register_commands(subparsers=subparsers)

    def register_eval_options(self, parser) -> dict[str, list[str]]:
        """Let each installed plugin add ``trl-reason eval`` options; returns ``{plugin: [option dests]}`` so the
        eval command can activate a plugin whose options the user sets."""
        owners: dict[str, list[str]] = {}
        for impl in self._registry.hook.register_eval_options.get_hookimpls():
            before = {action.dest for action in parser._actions}
            impl.function(parser=parser)
            owners[impl.plugin_name] = sorted({action.dest for action in parser._actions} - before)
        parser.set_defaults(plugin_option_owners=owners)
        return owners

    # -- per-plugin calls --------------------------------------------------------------------------------------------

    def implementers(self, hook_name: str) -> list[str]:
        """Names of the active plugins whose implementation of ``hook_name`` is called, in registration order."""
        return list(self._implementer_names(hook_name))

    def is_implemented(self, hook_name: str) -> bool:
        """Whether any active plugin's implementation of ``hook_name`` is called (``compose:`` applied); cached
        like ``caller``, so the per-step code can skip a hook nobody implements for the price of a dict lookup.
        An unknown hook name raises ``AttributeError``."""
        return bool(self._implementer_names(hook_name))

    def _implementer_names(self, hook_name: str) -> tuple[str, ...]:
        names = self._implementers.get(hook_name)
        if names is None:
            names = self._implementers[hook_name] = tuple(
                impl.plugin_name for impl in self.caller(hook_name).get_hookimpls())
        return names

    def _call_only(self, plugin_name: str, hook_name: str, kwargs: dict) -> Any:
        caller, firstresult = self._cached_caller(hook_name, plugin_name)
        result = caller(**kwargs)
        if firstresult:
            return result
        return result[0] if result else None

    def call_each(self, hook_name: str, **kwargs) -> dict[str, Any]:
        """Call ``hook_name`` on each active plugin separately: ``{plugin_name: result}`` (non-None results), in
        registration order."""
        results = {}
        for name in self._implementer_names(hook_name):
            result = self._call_only(name, hook_name, kwargs)
            if result is not None:
                results[name] = result
        return results

    def call_one(self, plugin_name: str, hook_name: str, **kwargs) -> Any:
        """Call one plugin's implementation of ``hook_name`` (``None`` when it has none)."""
        if plugin_name not in self._implementer_names(hook_name):
            return None
        return self._call_only(plugin_name, hook_name, kwargs)

    def call_chain(self, hook_name: str, value_key: str, value: Any, **kwargs) -> Any:
        """Call a chained hook in registration order (the recipe's ``plugins:`` order), feeding each non-None
        result into the next call as ``value_key``."""
        for name in self._implementer_names(hook_name):
            result = self._call_only(name, hook_name, {**kwargs, value_key: value})
            if result is not None:
                value = result
        return value

    def describe(self) -> list[dict]:
        """Name, version, distribution and hooks of every installed plugin (for ``trl-reason plugins``)."""
        rows = []
        for name, plugin in sorted(self.installed.items()):
            hooks = set()
            for obj in filter(None, (plugin.module, plugin.plugin_class)):
                for attr in dir(obj):
                    if getattr(getattr(obj, attr, None), hookspecs.PROJECT_NAME + "_impl", None) is not None:
                        hooks.add(attr)
            rows.append({"name": name, "version": plugin.version, "distribution": plugin.distribution,
                         "entry_point": plugin.entry_point, "hooks": sorted(hooks)})
        return rows


_version = version_of


def load_module(dotted: str) -> Any:
    """Import ``package.module:attr`` or ``package.module.attr`` that a recipe names explicitly."""
    module_name, _, attr = dotted.partition(":")
    if not attr:
        module_name, _, attr = dotted.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


class _RawView:
    """A manager's active plugins with every implementation visible (what the composition check reads)."""

    def __init__(self, manager: PluginManager):
        self.active = manager.active
        self.hook = manager._active_pm.hook


class _ComposedHooks:
    """``pm.hook`` when ``compose:`` gives hooks to one plugin: those hooks call only that plugin's implementation."""

    def __init__(self, manager: PluginManager):
        self._manager = manager

    def __getattr__(self, name: str):
        return self._manager.caller(name)
