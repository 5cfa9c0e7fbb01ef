"""Helpers shared by the end-to-end tests: run a repository script or a console entry point, read a refused command's one error line."""
import contextlib
import io
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


def run_main(main, argv: list) -> tuple[int, list[str]]:
    "Run a console entry point (`vqmap_nb.cli.*_main`) in-process: (exit code, non-empty stderr lines)."
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try: rc = main(list(map(str, argv)))
        except SystemExit as e: rc = e.code
    return (rc if isinstance(rc, int) else 0), [l for l in err.getvalue().splitlines() if l.strip()]
