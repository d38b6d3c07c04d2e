"""Safe configuration changes: dry run, apply with pre-change backup, post-check, rollback."""
