"""One pass per set vs each metric on its own (a benchmark, not a timed test).

    python benchmarks/bench_evaluation.py [--people 10] [--repeats 2]

`Evaluator.evaluate(all metrics)` runs one teacher-forced pass and one generation call per set; the baseline builds a
fresh `Evaluator` per metric, so every metric runs the passes it needs by itself (as separate metric functions would).
Both produce the same numbers (checked). The measured ratio is printed and written to benchmarks/RESULTS_evaluation.md.
"""
import argparse, math, platform, time
from pathlib import Path
import torch
from unlearun.evaluation import Evaluator
from unlearun.test_utils import synthetic_qa, train_tokenizer, corpus, tiny_gpt2

METRICS = ["perplexity", "probability", "truth_ratio", "forget_quality", "model_utility", "rouge",
           "verbatim_memorization", "exact_memorization", "extraction_strength", "mia", "privleak"]


def main(people=10, repeats=3, n_layer=4, n_embd=128, out=Path(__file__).parent / "RESULTS_evaluation.md"):
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    recs = synthetic_qa(4 * people, seed=0)
    k = 4 * people                                            # 4 records per person: forget / retain x2 / holdout
    forget, retain, holdout = recs[:k], recs[k:3 * k], recs[3 * k:]
    tok = train_tokenizer(corpus(recs))
    model, retain_model = tiny_gpt2(tok, n_layer=n_layer, n_embd=n_embd, seed=0), tiny_gpt2(tok, n_layer=n_layer, n_embd=n_embd, seed=1)
    kw = dict(forget=forget, retain=retain, holdout=holdout, batch_size=16, max_new_tokens=24, progress=False)

    def one_pass():
        return Evaluator(model, tok, retain_model=retain_model, **kw).evaluate(METRICS)

    def separately():
        res = {}
        for m in METRICS:
            r = Evaluator(model, tok, retain_model=retain_model, **kw).evaluate([m])
            res.update({k: v for k, v in r.items() if k not in ("per_sample", "retain_model_stats")})
        return res

    work = {"calls": 0, "tokens": 0}                       # forward calls and token positions, both models
    def count(mod, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        work["calls"] += 1; work["tokens"] += ids.numel() if ids is not None else 0
    for m in (model, retain_model): m.register_forward_pre_hook(count, with_kwargs=True)

    def timed(fn):
        work.update(calls=0, tokens=0)
        t = time.perf_counter(); res = fn()
        return time.perf_counter() - t, dict(work), res

    best = {"one": math.inf, "sep": math.inf}
    for _ in range(repeats):                               # interleaved, so load from other processes hits both
        t, w1, r1 = timed(one_pass); best["one"] = min(best["one"], t)
        t, w2, r2 = timed(separately); best["sep"] = min(best["sep"], t)
    t1, t2 = best["one"], best["sep"]
    def close(a, b):  # batches are composed differently, so equal up to float32 rounding
        if isinstance(a, dict): return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
        if isinstance(a, float): return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6) or (math.isnan(a) and math.isnan(b))
        return a == b
    for m in METRICS:                                                               # same numbers either way
        assert close(r1[m], r2[m]), (m, r1[m], r2[m])
    ratio = t2 / t1
    sizes = f"forget {len(forget)}, retain {len(retain)}, holdout {len(holdout)} QA records"
    line = (f"one pass {t1:.2f} s, each metric on its own {t2:.2f} s: **{ratio:.1f}x** wall time; model work "
            f"{w1['calls']} vs {w2['calls']} forward calls, {w1['tokens']:,} vs {w2['tokens']:,} token positions "
            f"({w2['tokens'] / w1['tokens']:.1f}x) "
            f"({len(METRICS)} metrics; {sizes}; tiny GPT-2 {n_layer} layers x {n_embd}, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters; CPU, {torch.get_num_threads()} threads; "
            f"best of {repeats}; torch {torch.__version__}, Python {platform.python_version()})")
    print(line)
    out.write_text("# Evaluation benchmark: one pass vs each metric on its own\n\n"
                   "Produced by `python benchmarks/bench_evaluation.py` (do not edit by hand).\n\n"
                   f"Metrics: {', '.join(METRICS)}.\n\n{line}\n")
    return ratio


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    main(a.people, a.repeats)
