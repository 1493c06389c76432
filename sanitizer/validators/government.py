"""Validators and example generators: government family (filled in by the catalog work)."""

from __future__ import annotations

from .basic import Generator, Validator

VALIDATORS: dict[str, Validator] = {}
GENERATORS: dict[str, Generator] = {}
