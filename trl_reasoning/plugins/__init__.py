"""The plugin system: discovery, activation and per-plugin calls (``manager``), and the plugin scaffold."""
