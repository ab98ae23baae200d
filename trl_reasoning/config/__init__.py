"""Configuration: the recipe schema, its typed checks and errors, the recipe catalog and secret redaction."""
