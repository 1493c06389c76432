"""Validators and example generators: tokens family (cloud, VCS, LLM providers)."""

from __future__ import annotations

from .basic import Generator, Validator

VALIDATORS: dict[str, Validator] = {}
GENERATORS: dict[str, Generator] = {}
