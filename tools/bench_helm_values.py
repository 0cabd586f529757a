"""Benchmark of the Helm values engine on a values set of ``--keys`` keys (5,000 by
default).

The set is 50 top-level sections of nested maps and lists, ``--keys`` leaves in all,
with every kind of scalar. Each run times, in one process:

1. ``load``: reading it from YAML with Helm's typing (``yamlio.load_values``);
2. ``set``: parsing the same leaves as one ``--set`` expression per leaf into an empty
   map (``strvals.parse_set``);
3. ``merge``: ``maps.merge_maps`` of the loaded set with the parsed set;
4. ``pipeline``: what ``PATCH /helm_charts`` does with it: the file and the
   expressions through ``user_values`` (load, merge, parse), then the result written
   as YAML (``yamlio.dump``);
5. ``combine``: the stored text read back and merged over a 5,000-key system set, then
   written (what ``GET /helm_charts/{name}`` does).

Printed: each stage's milliseconds per run and the median of the runs.

Usage:
  python tools/bench_helm_values.py [--keys 5000] [--runs 7]
"""

import argparse
import statistics
import time
from collections.abc import Callable

from dcmanager.helm import maps
from dcmanager.helm import strvals
from dcmanager.helm import values
from dcmanager.helm import yamlio

SECTIONS = 50
SCALARS = ("1", "true", "text value", "0o17", "null", "1.5", "v1.2.3", "007")


def build(keys: int) -> tuple[str, list[str]]:
    """The values set as YAML text, and as ``--set`` expressions (one per leaf)."""
    lines, expressions = [], []
    per_section = keys // SECTIONS
    for section in range(SECTIONS):
        lines.append(f"section{section}:")
        for index in range(per_section):
            scalar = SCALARS[index % len(SCALARS)]
            group, leaf = divmod(index, 10)
            if index % 10 == 0:
                lines.append(f"  group{group}:")
            if group % 5 == 4:
                # Every fifth group is a list of maps.
                lines.append(f"  - name: {scalar}" if leaf == 0 else f"    k{leaf}: {scalar}")
                key = f"section{section}.group{group}[0].{'name' if leaf == 0 else f'k{leaf}'}"
            else:
                lines.append(f"    key{leaf}: {scalar}")
                key = f"section{section}.group{group}.key{leaf}"
            expressions.append(f"{key}={scalar}")
    return "\n".join(lines) + "\n", expressions


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def count_leaves(value: object) -> int:
    if isinstance(value, dict):
        return sum(count_leaves(item) for item in value.values())
    if isinstance(value, list):
        return sum(count_leaves(item) for item in value)
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    text, expressions = build(args.keys)
    loaded = yamlio.load_values(text)
    parsed: dict = {}
    for expression in expressions:
        strvals.parse_set(expression, parsed)
    system = values.user_values(values.Inputs(set=expressions))
    stored = yamlio.dump(loaded)
    print(
        f"values set: {count_leaves(loaded)} leaves, {len(text)} bytes of YAML, "
        f"{len(expressions)} --set expressions"
    )

    def set_all() -> None:
        data: dict = {}
        for expression in expressions:
            strvals.parse_set(expression, data)

    def pipeline() -> None:
        inputs = values.Inputs(files=[text], set=expressions)
        yamlio.dump(values.user_values(inputs))

    def combine() -> None:
        yamlio.dump(maps.merge_maps(system, yamlio.load_values(stored)))

    stages = {
        "load": lambda: yamlio.load_values(text),
        "set": set_all,
        "merge": lambda: maps.merge_maps(loaded, parsed),
        "pipeline": pipeline,
        "combine": combine,
    }
    results: dict[str, list[float]] = {name: [] for name in stages}
    for run in range(1, args.runs + 1):
        row = []
        for name, stage in stages.items():
            results[name].append(timed(stage))
            row.append(f"{name} {results[name][-1]:.1f} ms")
        print(f"run {run}: " + ", ".join(row))
    print(
        "median: "
        + ", ".join(f"{name} {statistics.median(times):.1f} ms" for name, times in results.items())
    )


if __name__ == "__main__":
    main()
