#!/usr/bin/env python
"""What each attack adds to an evaluation: wall and CPU seconds of `rouge` alone and of each attack metric, on a model.

    python benchmarks/bench_attacks.py                       # SmolLM2-135M-Instruct, 8 TOFU forget01 questions
    python benchmarks/bench_attacks.py --model DIR --n 16    # any local model folder

The attacks run with their default settings (unlearun.evaluation.*_ARGS) on the first `--n` forget questions, with
`--n` retain questions for the in-context template. Each attack is timed in its own evaluation after the plain pass
(`rouge`, which the attacks reuse), so the time is what adding that metric to an evaluation costs.
"""
from __future__ import annotations
import argparse, json, time, warnings
from pathlib import Path


def tofu(name: str) -> list[dict]:
    from unlearun.test_utils import data_dir
    return [json.loads(l) for l in (data_dir() / "tofu" / f"{name}.json").read_text().splitlines() if l.strip()]


def timed(ev, metrics):
    t0, c0 = time.time(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ev.evaluate(metrics)
    return r, time.time() - t0, time.process_time() - c0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="default: SmolLM2-135M-Instruct (unlearun.test_utils.smollm2_path)")
    p.add_argument("--n", type=int, default=8, help="forget (and retain) questions")
    p.add_argument("--max-length", type=int, default=192)
    a = p.parse_args(argv)
    from unlearun.evaluation import ATTACKS, Evaluator
    from unlearun.models import load_model
    from unlearun.test_utils import smollm2_path
    model, tok = load_model(a.model or str(smollm2_path()), device="cpu")
    sets = dict(forget=tofu("forget01_perturbed")[:a.n], retain=tofu("retain_perturbed")[:a.n])
    ev = Evaluator(model, tok, **sets, max_length=a.max_length, batch_size=16, progress=False)
    _, wall, cpu = timed(ev, ["rouge"])
    rows = {"rouge (the plain pass)": (wall, cpu)}
    for m in ATTACKS:
        r, _, c2 = timed(ev, ["rouge", m])
        rows[m] = (r[f"{m}_info"]["seconds"], c2 - cpu)        # its own wall time; CPU time beyond the plain pass
    print(f"model: {a.model or 'SmolLM2-135M-Instruct'}; {a.n} forget questions; seconds added to an evaluation")
    print("| metric | wall s | CPU s |\n|---|---|---|")
    for k, (w, c) in rows.items(): print(f"| {k} | {w:.1f} | {c:.1f} |")


if __name__ == "__main__":
    main()
