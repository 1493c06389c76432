"""Redaction benchmark: this project and its peers side by side (``sanitizer bench``).

The pieces, one job each:

* :mod:`.records`      spans, records, datasets; JSON Lines reading with line-numbered errors
* :mod:`.labels`       benchmark labels and the explicit gold/prediction label maps
* :mod:`.datasets`     the labelled corpora in ``../shared/data`` and user files
* :mod:`.agent_corpus` the generated agent-traffic corpus (templates, fixed seed)
* :mod:`.systems`      the ``System`` protocol, this project's two systems, the registry
* :mod:`.peers`        adapters for Presidio, detect-secrets, scrubadub, LLM Guard, gitleaks
* :mod:`.metrics`      overlap/strict P/R/F1, leak rate, benign-kept rate, percentiles
* :mod:`.measure`      wall/CPU time and peak RSS
* :mod:`.roundtrip`    restore rate under model rewriting of placeholders
* :mod:`.runner`       runs every system on every dataset, builds ``results.json``
* :mod:`.report`       ``report.md``;  :mod:`.plots` the PNG figures

Nothing heavy is imported here: peers load their libraries when they are built.
"""
