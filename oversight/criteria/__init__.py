"""Criteria packs, their condition language, and detection."""
