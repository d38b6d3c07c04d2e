"""Configuration drift: intended (rendered) against actual (live or backed up), per feature."""
