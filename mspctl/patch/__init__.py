"""Patch management: baselines as code, compliance scans and patch windows (see docs/patch.md)."""
