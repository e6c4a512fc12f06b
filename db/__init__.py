"""The encrypted store: SQLCipher connections, key slots and schema migrations.

No Qt and no domain policy here; `oversight` builds on these pieces.
"""
