"""State shared by replicas through Redis: per-key concurrency gates and single-use tokens."""
