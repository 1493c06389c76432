"""Benchmarks: detection quality and speed against labelled corpora and vanilla Presidio.

Run ``python -m benchmarks.bench_detection`` from the repository root; see README.md.
"""
