"""Algorithm tables and primitive calls: every primitive comes from ``cryptography`` or hashlib."""
