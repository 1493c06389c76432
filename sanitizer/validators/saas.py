"""Validators and example generators: SaaS, observability and productivity tools."""

from __future__ import annotations

from .basic import Generator, Validator

VALIDATORS: dict[str, Validator] = {}
GENERATORS: dict[str, Generator] = {}
