"""The labelled corpora from outside the project, and user files in the same format.

* ``presidio_synth_v2`` — synthetic sentences of microsoft/presidio-research; scored on the
  core labels (:data:`~.labels.PRESIDIO_GOLD_MAP`).
* ``gitleaks_rules`` — the true- and false-positive samples of gitleaks' rules; ``positive``
  records carry SECRET spans, a ``negative`` record (gitleaks' own false-positive sample)
  becomes one BENIGN span over its text, ``positive_nospan`` records are scored per text.
* user files (``--data FILE``) — labels as in :data:`~.labels.USER_GOLD_MAP` (the benchmark
  labels, BENIGN, or presidio's spellings); other labels are dropped and counted.

The corpora are read from ``--data-dir``, else from ``../shared/data`` beside the checkout
(``shared/`` next to ``main/``), else from ``../shared/data`` relative to the working folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..errors import InputError
from .labels import (
    BENCH_LABELS,
    BENIGN,
    CORE_LABELS,
    GITLEAKS_GOLD_MAP,
    PRESIDIO_GOLD_MAP,
    SECRET,
    USER_GOLD_MAP,
)
from .records import Dataset, Record, Span, read_jsonl, spread

PRESIDIO_FILE = "presidio_synth_v2.jsonl"
GITLEAKS_FILE = "gitleaks_rules.jsonl"
PRESIDIO = "presidio_synth_v2"
GITLEAKS = "gitleaks_rules"

_MIT = """\
Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE."""

PRESIDIO_LICENCE = ("MIT licence. presidio-research — Copyright (c) Microsoft Corporation."
                    f"\n\n{_MIT}")
GITLEAKS_LICENCE = f"MIT licence. gitleaks — Copyright (c) 2019 Zachary Rice.\n\n{_MIT}"


def data_dir_candidates() -> list[Path]:
    """Where the corpora are looked for when ``--data-dir`` is not given."""
    checkout = Path(__file__).resolve().parents[2]      # …/main when run from a checkout
    return [checkout.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]


def find_data_dir(path: str | Path | None = None) -> Path | None:
    """``path`` if given (it must hold at least one corpus), else the first default folder
    that does; ``None`` when no corpus is found."""
    if path is not None:
        folder = Path(path)
        if not folder.is_dir():
            raise InputError(f"--data-dir {folder}: not a folder")
        if not any((folder / f).is_file() for f in (PRESIDIO_FILE, GITLEAKS_FILE)):
            raise InputError(f"--data-dir {folder}: holds neither {PRESIDIO_FILE} nor "
                             f"{GITLEAKS_FILE}")
        return folder
    for folder in data_dir_candidates():
        if (folder / PRESIDIO_FILE).is_file() or (folder / GITLEAKS_FILE).is_file():
            return folder
    return None


def load_presidio(folder: Path, limit: int | None = None) -> Dataset:
    records, dropped = read_jsonl(folder / PRESIDIO_FILE, PRESIDIO_GOLD_MAP)
    return Dataset(
        name=PRESIDIO,
        records=spread(records, limit),
        labels=CORE_LABELS,
        description="synthetic English sentences with names, addresses, cards, IBANs, …",
        source="microsoft/presidio-research data/synth_dataset_v2.json, commit 7622dec1",
        development="used to develop and choose the defaults of the NER detector (spaCy + "
                    "Rampart backends, context rules): not held out for `sanitizer`",
        licence=PRESIDIO_LICENCE,
        label_map=PRESIDIO_GOLD_MAP,
        dropped=dict(dropped),
    )


def _gitleaks_record(record: Record, positives: set[str]) -> Record:
    """A negative sample is one benign span over its whole text — unless the very same text
    is also a positive sample (gitleaks tells the two apart by file path or rule, which no
    content-based detector sees): then it is scored as nothing."""
    text = record.text.strip()
    if record.kind == "negative" and text and text not in positives:
        return replace(record, spans=(*record.spans, Span(0, len(record.text), BENIGN)))
    return record


def load_gitleaks(folder: Path, limit: int | None = None) -> Dataset:
    records, dropped = read_jsonl(folder / GITLEAKS_FILE, GITLEAKS_GOLD_MAP)
    positives = {r.text.strip() for r in records if r.kind != "negative"}
    return Dataset(
        name=GITLEAKS,
        records=[_gitleaks_record(r, positives) for r in spread(records, limit)],
        labels=(SECRET,),
        description="the true- and false-positive samples of gitleaks' 221 rules (a negative "
                    "whose text is also a positive sample is not counted as a negative)",
        source="gitleaks/gitleaks cmd/generate/config/rules/*.go, commit b58d3f10",
        development="used to develop the secret rules of `recognizers/` (coverage of secret "
                    "formats): not held out for `sanitizer-rules` / `sanitizer`; gitleaks "
                    "itself scores ~100% by construction",
        licence=GITLEAKS_LICENCE,
        label_map=GITLEAKS_GOLD_MAP,
        dropped=dict(dropped),
    )


def load_user_file(path: Path, limit: int | None = None, name: str | None = None) -> Dataset:
    if not path.is_file():
        raise InputError(f"--data {path}: no such file")
    records, dropped = read_jsonl(path, USER_GOLD_MAP)
    present = {s.label for r in records for s in r.spans}
    labels = tuple(label for label in BENCH_LABELS if label in present)
    return Dataset(
        name=name or path.stem,
        records=spread(records, limit),
        labels=labels,
        description=f"user file {path.name}",
        source=str(path),
        development="supplied by the user (unknown to this project)",
        label_map=USER_GOLD_MAP,
        dropped=dict(dropped),
        round_trip=True,
    )


def unique_names(paths: Sequence[Path], taken: set[str]) -> list[str]:
    """A dataset name per user file: its stem, suffixed when two collide."""
    names: list[str] = []
    for path in paths:
        base = path.stem or "data"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        names.append(name)
    return names
