"""Runs the benchmark cases and reports them: one table, the targets, a plot.

``python -m bench [--quick] [--rounds N] [--out DIR]``

For every case of bench/cases.py it measures framecryptor's single-frame API, batch API
(1 and 2 threads), the pure-Python baseline (bench/pyref.py) and the raw OpenSSL AES-GCM
limit, in the same process and interleaved round by round (so machine noise hits every
implementation alike), and reports the median over the rounds. It prints:

- the results table: frames/s and MB/s per case, API and operation, the ratio to the
  pure-Python baseline and the share of the OpenSSL limit;
- the targets of issue 4, measured;
- every codec's encrypt+decrypt round trip beside the baseline (issue 2);
- RSS before/after a 1M-frame loop through each API;

and writes ``DIR/performance.md`` (the tables, for the README), ``DIR/results.json`` (every
round) and ``DIR/throughput.png`` (throughput vs frame size).

MB/s counts plaintext frame bytes (10^6 bytes). A round trip is one encrypt plus one
decrypt of a frame: its rate is 1 / (1/encrypt rate + 1/decrypt rate), and its OpenSSL limit
is the same combination of the two AES-GCM passes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import json
import math
import os
import platform
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import framecryptor as fc

from . import cases, memory

DEFAULT_OUT = Path(__file__).resolve().parent / "results"

IMPL_LABELS = {
    "single": "framecryptor, single-frame API",
    "batch": "framecryptor, batch API, 1 thread",
    "batch2": "framecryptor, batch API, 2 threads",
    "pyref": "pure Python (cryptography)",
    "limit": "OpenSSL limit (raw AES-GCM loop, framecryptor's libcrypto)",
    "aesgcm": "reference: one AESGCM call per frame (cryptography's OpenSSL)",
    "limit2": "reference: OpenSSL limit on 2 threads",
}


# -- measurement ----------------------------------------------------------------------------


@dataclasses.dataclass
class Series:
    """Rounds of one operation on one case: seconds per frame in each round."""

    case: cases.Case
    impl: str
    op: str  # "encrypt" | "decrypt"
    per_frame: list[float] = dataclasses.field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.per_frame)

    @property
    def rate(self) -> float:
        """Frames per second (median round)."""
        return 1.0 / self.seconds

    @property
    def spread(self) -> float:
        """Interquartile range of the rounds relative to the median (noise)."""
        if len(self.per_frame) < 4:
            return (max(self.per_frame) - min(self.per_frame)) / self.seconds
        q = statistics.quantiles(self.per_frame, n=4)
        return (q[2] - q[0]) / self.seconds


def _calibrate(op: Callable[[], object], target: float) -> int:
    """Calls of op per round so that a round lasts about target seconds."""
    op()  # warm-up
    t = time.perf_counter()
    op()
    once = max(time.perf_counter() - t, 1e-7)
    return max(1, math.ceil(target / once))


def measure(
    setups: Sequence[cases.Setup],
    impls: Sequence[str],
    ops: Sequence[str],
    rounds: int,
    round_time: float,
    progress: Callable[[str], None],
) -> list[Series]:
    """Measures every (setup, impl, op), interleaved: each round runs every operation once."""
    jobs = []
    for s in setups:
        for impl in impls:
            for op in ops:
                fn = s.operation(impl, op)
                jobs.append(
                    (Series(s.case, impl, op), fn, _calibrate(fn, round_time), s.frames_per_call(impl))
                )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: collections would land on whichever operation runs then
    try:
        for r in range(rounds):
            progress(f"round {r + 1}/{rounds}")
            # rotate the order each round: no operation always runs right after the same one
            shift = r % len(jobs)
            for series, fn, loops, count in jobs[shift:] + jobs[:shift]:
                t = time.perf_counter()
                for _ in range(loops):
                    fn()
                series.per_frame.append((time.perf_counter() - t) / (loops * count))
    finally:
        if gc_was_enabled:
            gc.enable()
    return [j[0] for j in jobs]


class Results:
    """Lookup of measured series by (case, impl, op), with derived round-trip rates."""

    def __init__(self, series: Sequence[Series]) -> None:
        self.series = list(series)
        self._by = {(s.case, s.impl, s.op): s for s in series}

    def rate(self, case: cases.Case, impl: str, op: str) -> float:
        if op == "round trip":
            return 1.0 / (1.0 / self.rate(case, impl, "encrypt") + 1.0 / self.rate(case, impl, "decrypt"))
        return self._by[(case, impl, op)].rate

    def has(self, case: cases.Case, impl: str) -> bool:
        return (case, impl, "encrypt") in self._by

    def spread(self, case: cases.Case, impl: str, op: str) -> float:
        if op == "round trip":
            return max(self.spread(case, impl, "encrypt"), self.spread(case, impl, "decrypt"))
        return self._by[(case, impl, op)].spread


# -- formatting -----------------------------------------------------------------------------


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def results_table(res: Results, case_list: Sequence[cases.Case]) -> str:
    rows = []
    plan = [
        ("single", ("encrypt", "decrypt", "round trip")),
        ("batch", ("encrypt", "decrypt")),
        ("batch2", ("encrypt", "decrypt")),
        ("pyref", ("encrypt", "decrypt", "round trip")),
        ("limit", ("encrypt", "decrypt", "round trip")),
        ("aesgcm", ("encrypt", "decrypt")),
        ("limit2", ("encrypt", "decrypt")),
    ]
    for case in case_list:
        for impl, ops in plan:
            for op in ops:
                rate = res.rate(case, impl, op)
                vs_py = rate / res.rate(case, "pyref", op)
                vs_limit = rate / res.rate(case, "limit", op)
                rows.append(
                    [
                        case.label,
                        IMPL_LABELS[impl],
                        op,
                        _num(rate),
                        _num(rate * case.size / 1e6),
                        f"{vs_py:.2f}×",
                        f"{100 * vs_limit:.0f}%",
                    ]
                )
    return markdown_table(
        ["case", "API", "operation", "frames/s", "MB/s", "× pure Python", "% of OpenSSL limit"],
        rows,
        "lllrrrr",
    )


@dataclasses.dataclass
class Target:
    text: str
    value: float
    goal: float
    unit: str  # "×" or "%"

    @property
    def met(self) -> bool:
        return self.value >= self.goal

    def row(self) -> list[str]:
        def fmt(v: float) -> str:
            return f"{v:.2f}×" if self.unit == "×" else f"{100 * v:.0f}%"

        return [self.text, fmt(self.value), "≥ " + fmt(self.goal), "yes" if self.met else "**no**"]


def targets(res: Results) -> list[Target]:
    by_name = {c.name: c for c in cases.TARGET_CASES}
    opus, vp8, vp8k, h264, h264k = (
        by_name[n]
        for n in ("opus-160", "vp8-delta-1200", "vp8-key-50000", "h264-delta-1200", "h264-key-50000")
    )
    out = []
    for c in (opus, vp8, h264):
        out.append(
            Target(
                f"single-frame encrypt+decrypt, {c.label}: × pure Python",
                res.rate(c, "single", "round trip") / res.rate(c, "pyref", "round trip"),
                3.0,
                "×",
            )
        )
    out.append(
        Target(
            f"single-frame encrypt+decrypt, {h264k.label}: share of the OpenSSL limit",
            res.rate(h264k, "single", "round trip") / res.rate(h264k, "limit", "round trip"),
            0.70,
            "%",
        )
    )
    for c, goal in ((opus, 0.60), (vp8k, 0.85), (h264k, 0.85)):
        for op in ("encrypt", "decrypt"):
            out.append(
                Target(
                    f"batch, 1 thread, {c.label} {op}: share of the OpenSSL limit",
                    res.rate(c, "batch", op) / res.rate(c, "limit", op),
                    goal,
                    "%",
                )
            )
    for c in (vp8k, h264k):
        for op in ("encrypt", "decrypt"):
            control = res.rate(c, "limit2", op) / res.rate(c, "limit", op)
            out.append(
                Target(
                    f"batch, 2 threads vs 1 thread, {c.label} {op} (OpenSSL limit itself: {control:.2f}×)",
                    res.rate(c, "batch2", op) / res.rate(c, "batch", op),
                    1.7,
                    "×",
                )
            )
    return out


def targets_table(ts: Sequence[Target]) -> str:
    return markdown_table(["target", "measured", "goal", "met"], [t.row() for t in ts], "lrrl")


def codecs_table(res: Results) -> str:
    rows = []
    for c in cases.CODEC_CASES:
        ours = res.rate(c, "single", "round trip")
        py = res.rate(c, "pyref", "round trip")
        limit = res.rate(c, "limit", "round trip")
        rows.append(
            [
                c.label,
                _num(ours),
                _num(ours * c.size / 1e6),
                _num(py),
                f"{ours / py:.2f}×",
                f"{100 * ours / limit:.0f}%",
            ]
        )
    return markdown_table(
        [
            "case (encrypt+decrypt)",
            "framecryptor round trips/s",
            "MB/s",
            "pure Python round trips/s",
            "× pure Python",
            "% of OpenSSL limit",
        ],
        rows,
        "lrrrrr",
    )


def memory_table(loops: Sequence[memory.LoopResult]) -> str:
    rows = [
        [
            r.name,
            f"{r.frames:,}",
            f"{r.rss_after_warmup / 2**20:.1f} MiB",
            f"{r.rss_after / 2**20:.1f} MiB",
            f"{r.growth / 2**10:+,.0f} KiB",
        ]
        for r in loops
    ]
    return markdown_table(["loop", "frames", "RSS after warm-up", "RSS after", "growth"], rows, "lrrrr")


# -- machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _libcrypto_version() -> str:
    try:
        out = subprocess.run(
            ["openssl", "version"], check=False, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        return out or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    from cryptography.hazmat.backends.openssl.backend import backend

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "framecryptor": fc.__version__ if hasattr(fc, "__version__") else "dev",
        "openssl_framecryptor": _libcrypto_version(),
        "openssl_cryptography": backend.openssl_version_text(),
        "python ssl": ssl.OPENSSL_VERSION,
        "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


# -- plot -----------------------------------------------------------------------------------


def plot(res: Results, sweep: dict[str, list[cases.Case]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "single": {"color": "tab:blue", "marker": "o"},
        "batch": {"color": "tab:green", "marker": "s"},
        "batch2": {"color": "tab:olive", "marker": "^"},
        "pyref": {"color": "tab:red", "marker": "x"},
        "limit": {"color": "black", "linestyle": "--"},
        "aesgcm": {"color": "grey", "linestyle": ":"},
        "limit2": {"color": "black", "linestyle": ":"},
    }
    fig, axes = plt.subplots(len(sweep), 2, figsize=(12, 4.2 * len(sweep)), squeeze=False, sharex=True)
    for row, (codec_label, case_list) in enumerate(sweep.items()):
        for col, op in enumerate(("encrypt", "decrypt")):
            ax = axes[row][col]
            sizes = [c.size for c in case_list]
            for impl in cases.IMPLS + cases.REFERENCE_IMPLS:
                mbs = [res.rate(c, impl, op) * c.size / 1e6 for c in case_list]
                ax.plot(sizes, mbs, label=IMPL_LABELS[impl], **styles[impl])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{codec_label}: {op}")
            ax.set_xlabel("frame size (bytes)")
            ax.set_ylabel("MB/s (plaintext)")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer and shorter rounds, 100k-frame memory loops")
    ap.add_argument("--rounds", type=int, default=None, help="rounds per operation (default 9, quick 3)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--no-plot", action="store_true", help="skip the size sweep and the PNG")
    ap.add_argument("--no-codecs", action="store_true", help="skip the per-codec round-trip table")
    ap.add_argument("--no-memory", action="store_true", help="skip the 1M-frame memory loops")
    args = ap.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)
    round_time = 0.015 if args.quick else 0.04
    args.out.mkdir(parents=True, exist_ok=True)

    def progress(msg: str) -> None:
        print(f"  {msg}", file=sys.stderr, flush=True)

    info = machine()
    started = time.time()
    print(
        f"framecryptor benchmarks: {info['cpu']}, {info['cores']} cores, Python {info['python']}",
        file=sys.stderr,
    )
    print(f"load average at start: {info['load_start']}", file=sys.stderr)

    all_series: list[Series] = []
    print("target cases", file=sys.stderr)
    target_setups = [cases.setup(c) for c in cases.TARGET_CASES]
    every = cases.IMPLS + cases.REFERENCE_IMPLS
    all_series += measure(target_setups, every, cases.DIRECTIONS, rounds, round_time, progress)

    if not args.no_codecs:
        print("every codec (round trips)", file=sys.stderr)
        codec_setups = [cases.setup(c) for c in cases.CODEC_CASES if c not in cases.TARGET_CASES]
        all_series += measure(
            codec_setups, ("single", "pyref", "limit"), cases.DIRECTIONS, rounds, round_time, progress
        )

    sweep: dict[str, list[cases.Case]] = {}
    if not args.no_plot:
        print("size sweep (plot)", file=sys.stderr)
        sweep = {
            "VP8 delta frames": [cases.Case("vp8", n) for n in cases.SWEEP_SIZES],
            "H.264 delta frames": [cases.Case("h264", n) for n in cases.SWEEP_SIZES],
        }
        sweep_setups = [cases.setup(c) for cs in sweep.values() for c in cs]
        sweep_setups = [s for s in sweep_setups if s.case not in cases.TARGET_CASES]  # measured already
        all_series += measure(
            sweep_setups, every, cases.DIRECTIONS, max(3, rounds // 2), round_time, progress
        )

    loops: list[memory.LoopResult] = []
    if not args.no_memory and sys.platform.startswith("linux"):
        n = 100_000 if args.quick else 1_000_000
        print(f"memory: {n:,}-frame loops", file=sys.stderr)
        loops = memory.leak_loops(n)

    res = Results(all_series)
    info["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["duration"] = f"{time.time() - started:.0f} s"
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    noise = max(s.spread for s in all_series)
    noise_median = statistics.median(s.spread for s in all_series)

    ts = targets(res)
    sections = [
        "### Results\n\n" + results_table(res, cases.TARGET_CASES),
        "### Targets\n\n" + targets_table(ts),
    ]
    if not args.no_codecs:
        sections.append(
            "### Every codec: encrypt+decrypt round trip, single-frame API\n\n" + codecs_table(res)
        )
    if loops:
        sections.append("### Memory: resident set around long loops\n\n" + memory_table(loops))
    machine_line = (
        f"{info['cpu']}, {info['cores']} cores; {info['os']}; Python {info['python']}; "
        f"{info['openssl_framecryptor']} (framecryptor), "
        f"{info['openssl_cryptography']} (cryptography); load average {info['load_start']} "
        f"at start, {info['load_end']} at end; {info['date']}."
    )
    footer = (
        f"Medians of {rounds} interleaved rounds per operation; the rounds' interquartile spread is "
        f"{100 * noise_median:.0f}% of the median typically and {100 * noise:.0f}% at worst. "
        "MB/s counts plaintext bytes. A round trip is one encrypt plus one decrypt of a frame. "
        "× pure Python and % of OpenSSL limit compare the same operation. The OpenSSL limit is a C++ "
        "loop of raw AES-128-GCM over the same bytes with framecryptor's libcrypto "
        f"({info['openssl_framecryptor']}); the pure-Python baseline runs on the OpenSSL bundled in "
        f"cryptography ({info['openssl_cryptography']})."
    )
    md = "\n\n".join([f"Machine: {machine_line}", *sections, footer]) + "\n"
    (args.out / "performance.md").write_text(md, encoding="utf-8")
    raw = {
        "machine": info,
        "rounds": rounds,
        "series": [
            {
                "case": s.case.name,
                "label": s.case.label,
                "size": s.case.size,
                "impl": s.impl,
                "op": s.op,
                "frames_per_s": s.rate,
                "mb_per_s": s.rate * s.case.size / 1e6,
                "spread": s.spread,
                "rounds_s_per_frame": s.per_frame,
            }
            for s in all_series
        ],
        "targets": [dataclasses.asdict(t) | {"met": t.met} for t in ts],
        "memory": [dataclasses.asdict(r) | {"growth": r.growth} for r in loops],
    }
    (args.out / "results.json").write_text(json.dumps(raw, indent=1), encoding="utf-8")
    if sweep:
        plot(
            res,
            sweep,
            args.out / "throughput.png",
            f"framecryptor throughput: {info['cpu']}, {info['cores']} cores",
        )

    print(md)
    written = ", ".join(
        str(args.out / n) for n in ("performance.md", "results.json") + (("throughput.png",) if sweep else ())
    )
    print(f"written: {written}", file=sys.stderr)
    return 0
