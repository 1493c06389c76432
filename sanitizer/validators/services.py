"""Validators and example generators: payments and messaging services."""

from __future__ import annotations

from .basic import Generator, Validator

VALIDATORS: dict[str, Validator] = {}
GENERATORS: dict[str, Generator] = {}
