#!/usr/bin/env python
"""Run AlgoPerf's eight base workloads on generated data through ``runner=algoperf``.

Each workload is AlgoPerf's own JAX workload class (model, loss, input pipeline, evaluation)
fed by :mod:`hpfree.algoperf_data`, trained by hpfree's submission through AlgoPerf's
``score_submission_on_workload`` for the tiny step budget of ``workload=algoperf_<name>_generated``
(batch size from the submission's ``get_batch_size``), evaluated at its end, and recorded.
Prints one table row per workload: workload, steps, seconds, record status, evaluations,
final validation metric.  Exit status 1 if any run did not complete.

    JAX_PLATFORMS=cpu ~/algoperf-venv/bin/python scripts/algoperf_smoke.py
    ... scripts/algoperf_smoke.py --only ogbg,criteo1tb optimizer=prodigy
    ... scripts/algoperf_smoke.py --runs-dir /tmp/smoke     # re-running skips completed runs

Needs algoperf (scripts/install_algoperf.sh).  Each run is its own process (AlgoPerf's
workloads keep global state: absl flags, jit caches), so one failure does not end the table.
Extra arguments are Hydra overrides for every run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE = ["criteo1tb", "fastmri", "imagenet_resnet", "imagenet_vit", "librispeech_conformer",
        "librispeech_deepspeech", "ogbg", "wmt"]

_CHILD = r"""
import json, sys
from hpfree import train
from hpfree.preflight import hydra_session
from hydra import compose
run_dir, overrides = sys.argv[1], json.loads(sys.argv[2])
with hydra_session():
    cfg = compose("config", overrides=overrides)
rec = train.run(cfg, run_dir, handle_signals=True)
print("HPFREE_SMOKE_RESULT " + json.dumps({"status": rec.status, "steps": rec.steps,
      "error": getattr(rec, "error", None), "metric": rec.metric,
      "final": getattr(rec, "final_metric", None)}), flush=True)
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(BASE),
                    help="comma-separated workloads (default: all eight)")
    ap.add_argument("--runs-dir", default=None,
                    help="where the runs go (default: a new temporary directory)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per workload")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides for every run")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BASE))
    if unknown:
        ap.error(f"unknown workloads {unknown}; choose from {BASE}")
    runs = Path(args.runs_dir or tempfile.mkdtemp(prefix="algoperf-smoke-")).resolve()
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    rows = []
    print(f"runs under {runs}", flush=True)
    for name in names:
        wl = f"algoperf_{name}_generated"
        run_dir = runs / wl
        run_dir.mkdir(parents=True, exist_ok=True)
        overrides = ["runner=algoperf", f"workload={wl}", "progress=false",
                     f"runs_dir={runs}", *args.overrides]
        t0 = time.perf_counter()
        with open(run_dir / "smoke.log", "w") as log:
            try:
                proc = subprocess.run([sys.executable, "-c", _CHILD, str(run_dir),
                                       json.dumps(overrides)], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=log,
                                      timeout=args.timeout)
                out = proc.stdout
            except subprocess.TimeoutExpired as exc:
                out = exc.stdout or ""
        seconds = time.perf_counter() - t0
        result = {"status": "failed", "steps": 0, "error": f"see {run_dir}/smoke.log"}
        for line in (out or "").splitlines():
            if line.startswith("HPFREE_SMOKE_RESULT "):
                result = json.loads(line.split(" ", 1)[1])
        evals, final = _evaluations(run_dir, result.get("metric"))
        rows.append((name, result.get("steps", 0), seconds, result["status"], evals, final,
                     result.get("error")))
        print(f"  {name:24s} {result['status']:10s} {seconds:7.1f}s", flush=True)
    print()
    print(f"{'workload':24s} {'steps':>5s} {'seconds':>8s} {'status':10s} {'evals':>5s} "
          "final validation metric")
    for name, steps, seconds, status, evals, final, error in rows:
        print(f"{name:24s} {steps:5d} {seconds:8.1f} {status:10s} {evals:5d} {final}"
              + (f"  ({error})" if status != "completed" and error else ""))
    return 0 if all(r[3] == "completed" for r in rows) else 1


def _evaluations(run_dir: Path, metric: str | None) -> tuple[int, str]:
    import pandas as pd

    csvs = list(run_dir.glob("algoperf/*/trial_1/eval_measurements.csv"))
    if not csvs:
        return 0, "-"
    df = pd.read_csv(csvs[0])
    cols = [f"validation/{metric}"] if f"validation/{metric}" in df else []
    if df.empty or not cols:
        return len(df), "-"
    return len(df), f"{cols[0]}={float(df[cols[0]].iloc[-1]):.4g}"


if __name__ == "__main__":
    sys.exit(main())
