"""context-sanitizer."""
