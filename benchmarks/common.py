"""Shared helpers of the benchmark scripts: machine description, matmul throughput, FLOP counts, timing, tables, json."""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    "The machine a figure was measured on: CPU model, cores, torch threads, GPU name."
    cpu = platform.processor() or platform.machine()
    try:
        names = [l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError: pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "gpu": gpu, "load_average_1min": os.getloadavg()[0]}


def sync(device: torch.device):
    "Wait for queued kernels (CUDA) so wall-clock timings are real."
    if device.type == "cuda": torch.cuda.synchronize(device)


def timed(fn, device: torch.device, min_s: float = 1.0, min_reps: int = 2) -> tuple[float, int]:
    "Call `fn()` repeatedly for at least `min_s` seconds after one warm-up; returns (seconds per call, calls)."
    fn(); sync(device)
    reps, t0 = 0, time.perf_counter()
    while reps < min_reps or time.perf_counter() - t0 < min_s:
        fn(); reps += 1
    sync(device)
    return (time.perf_counter() - t0) / reps, reps


def matmul_flops(device: torch.device, n: int = 2048, dtype=torch.float32, min_s: float = 2.0) -> float:
    "Achieved FLOP/s of a square `n x n` matmul loop (the machine's practical fp32 peak)."
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    sec, _ = timed(lambda: torch.mm(a, b), device, min_s)
    return 2 * n ** 3 / sec


def count_flops(fn) -> int:
    "FLOPs of one call of `fn()` as counted by torch's `FlopCounterMode` (matmuls and convolutions)."
    with FlopCounterMode(display=False) as fc: fn()
    return int(fc.get_total_flops())


def table(rows: list[tuple], header=("quantity", "value", "target")) -> str:
    "A markdown table of `rows` (readable as plain text too; the results page renders it)."
    esc = lambda c: str(c).replace("|", "\\|")
    rows = [tuple(esc(c) for c in r) for r in [header, *rows]]
    return "\n".join(["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows[1:])])


def write_json(obj: dict, path) -> Path:
    "Write `obj` (numpy scalars allowed) as indented json, creating the folder."
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    conv = lambda o: o.item() if isinstance(o, np.generic) else o.tolist() if isinstance(o, np.ndarray) else str(o)
    path.write_text(json.dumps(obj, indent=2, default=conv) + "\n")
    return path
