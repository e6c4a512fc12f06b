"""Fixtures of the review-package tests, loaded by each test module through
``pytest_plugins`` (the helpers they use live in ``exchange_support``, imported plainly,
so that pytest can rewrite this module's assertions)."""

from exchange_support import exchange_keys, pair, pair_template

__all__ = ["exchange_keys", "pair", "pair_template"]
