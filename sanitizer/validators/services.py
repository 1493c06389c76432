"""Validators and example generators: services family (SaaS, payments, packages)."""

from __future__ import annotations

from .basic import Generator, Validator

VALIDATORS: dict[str, Validator] = {}
GENERATORS: dict[str, Generator] = {}
