"""PNG figures (matplotlib, Agg backend): F1 per entity per system for each dataset, speed
against quality, leak rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colours(systems: list[str]) -> dict[str, Any]:
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    return {name: cmap(i % 10) for i, name in enumerate(systems)}


def _all_systems(results: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for dataset in results["datasets"].values():
        names += [s for s in dataset["systems"] if s not in names]
    return names


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def f1_per_entity(results: dict[str, Any], name: str, path: Path) -> Path:
    plt = _pyplot()
    dataset = results["datasets"][name]
    systems = list(dataset["systems"])
    colours = _colours(_all_systems(results))
    labels = list(dataset["labels"])
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(labels) + 3), 4.2))
    for i, system in enumerate(systems):
        values = [dataset["systems"][system]["per_label"][label]["f1"] for label in labels]
        xs = [x + (i - (len(systems) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, values, width, label=system, color=colours[system])
    gold = {label: next(iter(dataset["systems"].values()))["per_label"][label]["gold"]
            for label in labels} if systems else {}
    ax.set_xticks(range(len(labels)), [f"{label}\n({gold.get(label, 0)})" for label in labels],
                  fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1 (overlap)")
    ax.set_title(f"{name}: F1 per entity (gold count in brackets)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(4, len(systems)), loc="upper center",
              bbox_to_anchor=(0.5, -0.18), frameon=False)
    return _save(plt, fig, path)


def speed_vs_quality(results: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    datasets = list(results["datasets"])
    colours = _colours(_all_systems(results))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.6 * len(datasets), 4.2),
                             squeeze=False)
    for ax, name in zip(axes[0], datasets, strict=True):
        for system, r in results["datasets"][name]["systems"].items():
            speed = r.get("chars_per_s")
            if not speed:
                continue
            ax.scatter(speed, r["micro"]["f1"], color=colours[system], s=50, label=system)
            ax.annotate(system, (speed, r["micro"]["f1"]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.margins(x=0.25)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("chars/s (log)")
        ax.set_ylabel("micro F1 (overlap)")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Speed vs quality (up and right is better)")
    return _save(plt, fig, path)


def leak_rate(results: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    datasets = list(results["datasets"])
    systems = _all_systems(results)
    colours = _colours(systems)
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(6.0, 2.2 * len(datasets) + 2), 4.2))
    for i, system in enumerate(systems):
        xs, values = [], []
        for x, name in enumerate(datasets):
            r = results["datasets"][name]["systems"].get(system)
            if r is not None and r.get("leak_rate") is not None:
                xs.append(x + (i - (len(systems) - 1) / 2) * width)
                values.append(r["leak_rate"])
        ax.bar(xs, values, width, label=system, color=colours[system])
    ax.set_xticks(range(len(datasets)), datasets, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("leak rate (lower is better)")
    ax.set_title("Planted values surviving the redacted output")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(4, len(systems)), loc="upper center",
              bbox_to_anchor=(0.5, -0.1), frameon=False)
    return _save(plt, fig, path)


def write_plots(results: dict[str, Any], out: Path) -> list[Path]:
    """Every figure into ``out``; returns the paths written."""
    paths = [f1_per_entity(results, name, out / f"f1_per_entity_{name}.png")
             for name in results["datasets"]]
    paths.append(speed_vs_quality(results, out / "speed_vs_quality.png"))
    paths.append(leak_rate(results, out / "leak_rate.png"))
    return paths
