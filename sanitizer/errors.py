"""The one error tree of the project.

Every message is safe to print: it may name files, line numbers, rule ids and entity
types, never a sensitive value or the text it came from.
"""

from __future__ import annotations


class SanitizerError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(SanitizerError):
    """A rule catalog, policy or option is invalid (names the file and the rule or key)."""


class InputError(SanitizerError):
    """The input itself cannot be processed (malformed JSON, wrong type, too large)."""


class Blocked(SanitizerError):
    """Sanitizing failed or the policy forbids the content: nothing was sent."""


class VaultError(SanitizerError):
    """The token vault cannot be reached or refused an operation."""


class AuditError(SanitizerError):
    """The audit log cannot be written or failed verification."""
