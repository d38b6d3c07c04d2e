"""Configuration backups: running configs, scrubbed, committed to git once per run."""
