"""Review packages between oversight bodies (issue 14): signed, encrypted, pseudonymised.

A package is an ASiC-E-style ZIP (``container``) whose encrypted payload carries
findings with their decisions, notes and history, the records they cite, the register
entries they consulted and the provenance of their source batches (``payload``). An
auditor exports one (``export``); an inspector or auditor of the receiving body
verifies and imports it (``receive``), triages the findings with their own decisions,
and may answer with a reply package. Identifiers of data subjects and actors can be
replaced by keyed pseudonyms (``pseudonyms``) that only the sending workspace can
reveal. See docs/exchange.md.

The submodules are imported by name (nothing is imported here), so that the audit
replay can use ``chaincheck`` without the service layer.
"""

__all__: list[str] = []
