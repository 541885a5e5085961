"""The batch auto-label job: the run loop, its backends (local, Ray), the lock, the label-file ledger and
the exports rebuilt from its records."""
