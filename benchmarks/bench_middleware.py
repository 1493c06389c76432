"""Middleware benchmark: what the sanitizer adds to each model call of an agent.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.bench_middleware            # full run
    .venv/bin/python -m benchmarks.bench_middleware --quick    # fewer repetitions, no NER

A scripted 20-turn agent conversation (each turn adds a user message, an assistant tool call
and a tool result with customer records: about 1 KB) is sent turn by turn, the whole history
each time, as an agent does. Per call it times what the SDK wrapper adds — sanitizing the
request and restoring the reply — with the conversation cache (each message sanitized once
per session) and without it (the whole history re-sanitized every call), rules only and with
NER; in CPU time of the process (about what an idle machine would take; the wall time, which
other processes on a shared machine inflate, is reported next to it). For streams it times
the delay added to the first streamed token (the first content chunk through the streaming
restorer) and how many characters the restorer held back; and, end to end through litellm
against the local stub model, the time to the first token with and without the wrapper.
Goals: p50 ≤ 5 ms per call without NER, ≤ 30 ms with; the cached cost grows (at most)
linearly with the turns.

Prints a summary and writes ``benchmarks/results/middleware.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from sanitizer.engine import Sanitizer
from sanitizer.examples import expand
from sanitizer.messages import MessageCache

RESULTS = Path(__file__).resolve().parent / "results" / "middleware.json"
TURNS = 20
FIRST = ["Maria", "John", "Aisha", "Li", "Oliver", "Sofia", "Lucas", "Emma", "Noah", "Mia"]
LAST = ["Gonzalez", "Smith", "Khan", "Wei", "Brown", "Rossi", "Martin", "Novak", "Berg", "Kim"]
FILLER = ("The customer asked about the renewal of the annual plan and whether the discount "
          "from last quarter still applies. Please check the order history, confirm the "
          "billing address and prepare a short summary for the account manager. ")


def conversation(seed: str = "bench_middleware") -> list[list[dict[str, Any]]]:
    """The messages each of the 20 turns adds (the system prompt comes with turn 1)."""
    rng = random.Random(seed)
    turns: list[list[dict[str, Any]]] = []
    key = expand("{github_token:ghp}", rng).text
    for turn in range(1, TURNS + 1):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        email = expand("{lower:6}.{lower:5}@{lower:7}.com", rng).text
        phone = "+1 415-555-" + expand("{digits:4}", rng).text
        record = {
            "name": name, "email": email, "phone": phone,
            "card": expand("{card:visa}", rng).text,
            "address": f"{rng.randint(1, 999)} Market Street, San Francisco, CA 94103",
            "orders": [{"id": f"ORD-{rng.randint(100000, 999999)}",
                        "amount_usd": round(rng.uniform(10, 900), 2),
                        "created_at": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T08:15:00Z"}
                       for _ in range(3)],
            "notes": FILLER[:160],
        }
        added: list[dict[str, Any]] = []
        if turn == 1:
            added.append({"role": "system", "content": "You are a support agent. CRM API key: "
                          f"{key}. Use the tools."})
        added += [
            {"role": "user", "content": f"Turn {turn}: please look at {name} <{email}>, "
                                        f"phone {phone}. {FILLER}"},
            {"role": "assistant", "content": "Looking it up.", "tool_calls": [
                {"id": f"call_{turn}", "type": "function", "function": {
                    "name": "lookup_customer",
                    "arguments": json.dumps({"email": email, "include_orders": True})}}]},
            {"role": "tool", "tool_call_id": f"call_{turn}", "content": json.dumps(record)},
        ]
        turns.append(added)
    return turns


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def slope(ys: Sequence[float]) -> float:
    """Least-squares growth per turn (ms per turn)."""
    xs = list(range(1, len(ys) + 1))
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def reply_for(sanitized_last: str) -> Any:
    import litellm

    return litellm.ModelResponse(choices=[{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": f"Done. I checked {sanitized_last[:160]} — all good."}}])


def run_conversation(sanitizer: Sanitizer, session: str, cached: bool
                     ) -> list[tuple[float, float]]:
    """(wall, CPU) milliseconds the wrapper adds to each of the 20 calls: sanitizing the
    request (in the wrapper's worker thread, under its time limit, as in real use) and
    restoring the reply. CPU time is this process's, all threads (the NER runtimes have
    their own); it does not count what other processes on a shared machine take."""
    from sanitizer.adapters.litellm_sdk import SanitizedSession

    chat = SanitizedSession(sanitizer, session)
    history: list[dict[str, Any]] = []
    out: list[tuple[float, float]] = []
    for added in conversation():
        history += added
        if not cached:
            chat.cache = MessageCache(os.urandom(32))  # nothing remembered: the whole history
        wall, cpu = time.perf_counter(), time.process_time()
        request = chat.sanitize_request({"messages": history})
        wall_sanitized, cpu_sanitized = time.perf_counter(), time.process_time()
        response = reply_for(str(request["messages"][-3]["content"]))
        wall_restore, cpu_restore = time.perf_counter(), time.process_time()
        chat.restore_response(response)
        wall_end, cpu_end = time.perf_counter(), time.process_time()
        out.append(((wall_sanitized - wall + wall_end - wall_restore) * 1000,
                    (cpu_sanitized - cpu + cpu_end - cpu_restore) * 1000))
    return out


def measure_calls(sanitizer: Sanitizer, label: str, repeats: int,
                  say: Callable[[str], None], uncached_repeats: int | None = None
                  ) -> dict[str, Any]:
    run_conversation(sanitizer, f"{label}-warm-up", cached=True)  # compile, load models
    result: dict[str, Any] = {}
    for cached in (True, False):
        count = repeats if cached or uncached_repeats is None else uncached_repeats
        runs = [run_conversation(sanitizer, f"{label}-{cached}-{r}", cached)
                for r in range(count)]
        key = "cached" if cached else "uncached"
        row: dict[str, Any] = {}
        for clock, index in (("cpu", 1), ("wall", 0)):
            per_turn = [statistics.median(run[t][index] for run in runs) for t in range(TURNS)]
            samples = [x[index] for run in runs for x in run]
            row[clock] = {
                "p50_ms": round(percentile(samples, 50), 3),
                "p95_ms": round(percentile(samples, 95), 3),
                "mean_ms": round(statistics.fmean(samples), 3),
                "conversation_total_ms": round(sum(per_turn), 1),
                "growth_ms_per_turn": round(slope(per_turn), 4),
                "per_turn_ms": [round(x, 3) for x in per_turn],
            }
        row["samples"] = count * TURNS
        result[key] = row
        cpu, wall = row["cpu"], row["wall"]
        say(f"  {label:<6} {key:<9} CPU p50 {cpu['p50_ms']:8.2f} ms  p95 {cpu['p95_ms']:8.2f} ms"
            f"  20 turns {cpu['conversation_total_ms']:8.1f} ms  growth "
            f"{cpu['growth_ms_per_turn']:7.3f} ms/turn   (wall p50 {wall['p50_ms']:.2f} ms)")
    cached_total = result["cached"]["cpu"]["conversation_total_ms"]
    result["speed_up_of_cache"] = round(result["uncached"]["cpu"]["conversation_total_ms"]
                                        / cached_total, 1) if cached_total else None
    return result


def detector_breakdown(sanitizer: Sanitizer) -> dict[str, float]:
    """Where a turn's time goes: each detector over the texts one turn adds (original view
    only), and the conversation cache's bookkeeping for a 20-turn history, in ms per turn."""
    from sanitizer.detect import BatchDetector

    texts = [str(m.get("content") or "") for turn in conversation() for m in turn]
    texts += [c["function"]["arguments"] for turn in conversation() for m in turn
              for c in m.get("tool_calls") or []]
    out: dict[str, float] = {}
    for detector in sanitizer.detectors:
        start = time.process_time()
        if isinstance(detector, BatchDetector):
            detector.detect_batch(texts)
        else:
            for text in texts:
                detector.detect(text)
        out[detector.name] = round((time.process_time() - start) * 1000 / TURNS, 3)
    cache = MessageCache(os.urandom(32))
    history = [m for turn in conversation() for m in turn]
    for message in history:
        cache.put("b", message, message)
    start = time.process_time()
    for _ in range(10):
        for message in history:
            cache.lookup("b", message)
    out["cache lookups (61 messages)"] = round((time.process_time() - start) * 100, 3)
    return out


def first_token(sanitizer: Sanitizer, repeats: int) -> dict[str, Any]:
    """What the streaming restorer adds before the first token goes out, over litellm-shaped
    streams of 3-character chunks: processing time (the stream itself costs nothing here) and
    the characters it held back because they could still become a placeholder."""
    import litellm

    from sanitizer.adapters.litellm_sdk import SanitizedSession

    chat = SanitizedSession(sanitizer, "first-token")
    chat.sanitize_request({"messages": conversation()[0]})   # mints the placeholders
    texts = ["Sure, I mailed <EMAIL_ADDRESS_1> and logged the call.",
             "<EMAIL_ADDRESS_1> has been notified.",
             "Hello! The customer asked about the renewal."]
    added: list[float] = []
    per_chunk: list[float] = []
    held: dict[str, int] = {}
    for r in range(repeats):
        text = texts[r % len(texts)]
        chunks = [litellm.ModelResponseStream(choices=[{"index": 0, "delta": {
            "role": "assistant", "content": text[i:i + 3]}}]) for i in range(0, len(text), 3)]
        chunks.append(litellm.ModelResponseStream(choices=[{"index": 0, "delta": {},
                                                            "finish_reason": "stop"}]))
        stream = iter(chat.restore_stream(iter(chunks)))
        start = time.process_time()
        for number, chunk in enumerate(stream):
            if chunk.choices[0].delta.content:
                added.append((time.process_time() - start) * 1e6)
                held[text] = number * 3   # characters in before the first one went out
                break
        last = time.process_time()
        for chunk in stream:
            now = time.process_time()
            per_chunk.append((now - last) * 1e6)
            last = now
            del chunk
    return {"added_us": {"p50": round(percentile(added, 50), 1),
                         "p95": round(percentile(added, 95), 1)},
            "per_chunk_us": {"p50": round(percentile(per_chunk, 50), 1),
                             "p95": round(percentile(per_chunk, 95), 1)},
            "held_back_chars": held, "samples": len(added)}


def end_to_end_ttft(sanitizer: Sanitizer, repeats: int) -> dict[str, Any]:
    """Time to the first token through litellm and the local stub, plain vs wrapped."""
    import litellm

    from sanitizer.adapters.litellm_sdk import SanitizedSession
    from sanitizer.stub_model import Reply, StubModel

    history = [m for turn in conversation()[:5] for m in turn]
    stub_text = "Sure, I mailed <EMAIL_ADDRESS_1> and logged the call. " * 3
    timings: dict[str, list[float]] = {"plain": [], "sanitized": []}
    with StubModel(script=lambda _r: Reply(text=stub_text)) as stub:
        kwargs = {"model": "openai/stub", "api_base": stub.base_url, "api_key": "sk-stub",
                  "stream": True}
        chat = SanitizedSession(sanitizer, "ttft")
        chat.completion(messages=history, **kwargs)  # warm: cache filled, clients made
        for _ in range(2):
            list(litellm.completion(messages=history, **kwargs))
        for _ in range(repeats):
            for mode in ("plain", "sanitized"):
                start = time.perf_counter()
                stream = chat.completion(messages=history, **kwargs) if mode == "sanitized" \
                    else litellm.completion(messages=history, **kwargs)
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        timings[mode].append((time.perf_counter() - start) * 1000)
                        break
                for _chunk in stream:
                    pass
    plain, wrapped = (statistics.median(timings[m]) for m in ("plain", "sanitized"))
    return {"plain_p50_ms": round(plain, 2), "sanitized_p50_ms": round(wrapped, 2),
            "added_p50_ms": round(wrapped - plain, 2), "samples": repeats,
            "history_messages": len(history)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no NER")
    parser.add_argument("--no-ner", action="store_true", help="skip the NER measurements")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else 5
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None

    def say(line: str) -> None:
        print(line, flush=True)

    turns = conversation()
    sizes = [len(json.dumps(t)) for t in turns]
    say(f"20-turn agent conversation: {sum(len(t) for t in turns)} messages, "
        f"{statistics.fmean(sizes):.0f} bytes added per turn on average")
    rules = Sanitizer(ner=False, known_values_from_env=False)
    results: dict[str, Any] = {
        "conversation": {"turns": TURNS, "messages": sum(len(t) for t in turns),
                         "bytes_per_turn_mean": round(statistics.fmean(sizes)),
                         "calls": TURNS, "repeats": repeats},
        "added_latency": {},
    }
    say("added latency per call (sanitize the request + restore the reply):")
    results["added_latency"]["rules"] = measure_calls(rules, "rules", repeats, say)
    results["rules_breakdown_ms_per_turn"] = detector_breakdown(rules)
    say("  where a turn goes (rules): " + ", ".join(
        f"{k} {v:.2f} ms" for k, v in results["rules_breakdown_ms_per_turn"].items()))
    if not (args.quick or args.no_ner):
        ner = Sanitizer(known_values_from_env=False)
        results["added_latency"]["ner"] = measure_calls(ner, "ner", max(1, repeats // 2), say,
                                                        uncached_repeats=1)
    results["first_token"] = first_token(rules, 60 if args.quick else 300)
    say(f"first streamed token: +{results['first_token']['added_us']['p50']} µs p50, "
        f"+{results['first_token']['added_us']['p95']} µs p95 CPU (restorer on the first "
        f"content chunk); per chunk {results['first_token']['per_chunk_us']['p50']} µs p50")
    results["first_token"]["end_to_end"] = end_to_end_ttft(rules, 5 if args.quick else 20)
    e2e = results["first_token"]["end_to_end"]
    say(f"end to end via litellm + stub: first token {e2e['plain_p50_ms']} ms plain, "
        f"{e2e['sanitized_p50_ms']} ms wrapped (+{e2e['added_p50_ms']} ms, p50)")
    latency = results["added_latency"]
    goals: dict[str, Any] = {
        "clock": "CPU time of the process (wall time on a shared machine is in 'wall')",
        "p50_rules_cached_le_5ms": latency["rules"]["cached"]["cpu"]["p50_ms"] <= 5.0,
    }
    if "ner" in latency:
        goals["p50_ner_cached_le_30ms"] = latency["ner"]["cached"]["cpu"]["p50_ms"] <= 30.0
    results["goals"] = goals
    results["machine"] = {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count(),
                          "load_average_before": load_before,
                          "load_average_after": os.getloadavg() if hasattr(os, "getloadavg")
                          else None}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    say(f"goals: {goals}")
    say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
