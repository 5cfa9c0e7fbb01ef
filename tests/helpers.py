"""Helpers shared by the end-to-end tests: run a repository script, read a refused command's one error line."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_script(script, *args, cwd=REPO, timeout=600):
    "Run `python REPO/script args...`; returns the CompletedProcess (text)."
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(REPO / script), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def error_line(r) -> str:
    "The one stderr line of a refused command (exit code 2)."
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]
