"""Report layouts and assets, loaded with importlib.resources (signed-report issue)."""
