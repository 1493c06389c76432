"""The same scrub as a Ray Data pipeline, for stores too big for one machine.

    store ──read task──▶ blocks of records ──map_batches(ScrubActor × N)──▶ driver
                                                                  commit + checkpoint

One read task streams the store from the checkpoint on (opened from its picklable
:class:`StoreSpec` where Ray schedules it); an actor pool of ``workers`` actors sanitizes
batches, each actor building its sanitizer (and loading its models) once; the driver gets
the batches back in order (``preserve_order``) and writes and checkpoints them exactly as
the local runner does. Ray's streaming executor applies back-pressure, so memory stays
bounded whatever the store's size.

On a cluster: ``ray start --head`` on one node, ``ray start --address HEAD:6379`` on the
others, then ``sanitizer scrub … --engine ray --ray-address auto --workers N`` on the head
(or ``ray://HEAD:10001`` from outside). Every node needs this package installed, network
access to the store and the master key (``SANITIZER_MASTER_KEY`` or a key file at the same
path); file stores must sit on a path every node sees.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from ..errors import SanitizerError
from . import StoreSpec, open_store
from .base import Json, Record
from .scrub import Batch, Pipeline, batched, item
from .work import EngineSpec, Outcome, Scrubber


class ScrubActor:
    """One sanitizer per actor; a batch of JSON-encoded records in, outcomes out."""

    def __init__(self, spec: EngineSpec) -> None:
        self.scrubber = Scrubber(spec)
        self.scrubber.warm_up()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        encoded = [str(x) for x in batch["record"]]
        records = [Record.from_json(json.loads(x)) for x in encoded]
        outcomes = self.scrubber.run([item(r) for r in records])
        return {"record": encoded,
                "outcome": [json.dumps(o.to_json(), ensure_ascii=False) for o in outcomes]}


def _datasource(spec: StoreSpec, state: Json, size: int) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]
    from ray.data import Datasource, ReadTask
    from ray.data.block import BlockMetadata

    class StoreDatasource(Datasource):  # type: ignore[misc]
        def estimate_inmemory_data_size(self) -> int | None:
            return None

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[Any]:
            def read() -> Iterator[Any]:
                store = open_store(spec)
                try:
                    for chunk in batched(store.records(state), size):
                        yield pa.table({"record": [json.dumps(r.to_json(), ensure_ascii=False)
                                                   for r in chunk]})
                finally:
                    store.close()

            metadata = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None,
                                     input_files=None)
            return [ReadTask(read, metadata)]

    return StoreDatasource()


def ray_pipeline(spec: StoreSpec, engine: EngineSpec, *, workers: int, size: int,
                 address: str | None = None) -> Pipeline:
    def run(state: Any) -> Iterator[Batch]:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        import ray
        from ray.data import ActorPoolStrategy, DataContext

        logging.getLogger("ray").setLevel(logging.WARNING)
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        started_here = not ray.is_initialized()
        if started_here:
            quiet = {"include_dashboard": False, "log_to_driver": False,
                     "logging_level": logging.WARNING}
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=workers, **quiet)
        try:
            context = DataContext.get_current()
            context.execution_options.preserve_order = True
            context.enable_progress_bars = False
            context.print_on_execution_start = False
            # The read task only streams records: it takes no CPU slot, so an actor pool as
            # large as the cluster cannot starve it (which would deadlock the pipeline).
            source = ray.data.read_datasource(_datasource(spec, state, size), num_cpus=0)
            dataset = source.map_batches(
                ScrubActor, fn_constructor_args=(engine,), batch_size=size,
                compute=ActorPoolStrategy(size=workers), batch_format="numpy", num_cpus=1)
            try:
                for batch in dataset.iter_batches(batch_size=size, batch_format="numpy"):
                    records = [Record.from_json(json.loads(str(x))) for x in batch["record"]]
                    outcomes = [Outcome.from_json(json.loads(str(x)))
                                for x in batch["outcome"]]
                    yield records, outcomes
            except Exception as exc:
                cause = getattr(exc, "cause", None)  # RayTaskError wraps the actor's error
                if isinstance(cause, SanitizerError):
                    raise cause from None
                raise
        finally:
            if started_here:
                ray.shutdown()

    return run
