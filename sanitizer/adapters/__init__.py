"""Adapters that put a Sanitizer on the boundary of other software (litellm SDK and proxy,
Hermes Agent). Each imports its host library lazily."""
