"""Per-step time and peak memory of every method, and of NPO, DPO, AltPO and RMU the cached / truncated way against
the naive way.

    python benchmarks/bench_methods.py                 # tiny model and SmolLM2-135M, writes benchmarks/RESULTS_methods.md
    python benchmarks/bench_methods.py --models tiny   # a quick run

Naive means: NPO, DPO and AltPO run a frozen reference copy on every step (`precompute_ref=False`); RMU runs the whole model
(all layers and the LM head) with every parameter requiring grad and a full frozen copy, the optimiser still updating
only the MLP projections RMU trains. Each configuration runs in a fresh subprocess so that its peak resident memory
(VmHWM, reset just before training) is its own. On a GPU, `torch.cuda.max_memory_allocated` is reported instead.
"""
from __future__ import annotations
import argparse, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

CONFIGS = [("npo", "cached"), ("npo", "naive"), ("dpo", "cached"), ("dpo", "naive"), ("rmu", "truncated"),
           ("rmu", "naive"), ("altpo", "cached"), ("altpo", "naive"), ("grad_ascent", "default"),
           ("grad_diff", "default"), ("simnpo", "default"), ("undial", "default"), ("satimp", "default"),
           ("wga", "default"), ("ce_u", "default"), ("pdu", "default")]
CACHED = ("npo", "dpo", "altpo")      # methods with a `precompute_ref` switch
# AltPO writes its alternates before training (one-time setup): one short alternate per question here
METHOD_ARGS = {"altpo": dict(n_alternates=1, max_new_tokens=32)}
HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------------------- worker (one config)
def _rss_mb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"): return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak():
    "Reset the kernel's peak-RSS counter (VmHWM) of this process; False where not supported."
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _data(model_name, tokenizer, max_length=256):
    from unlearun.data import load_qa, read_records
    from unlearun.test_utils import data_dir, synthetic_qa
    d = data_dir()
    if model_name != "tiny" and d is not None and (d / "tofu" / "forget01.json").exists():
        forget = read_records(d / "tofu" / "forget01.json", "forget_data")[0][:32]
        retain = read_records(d / "tofu" / "retain99.json", "retain_data")[0][:64]
        src = "TOFU forget01 (32) / retain99 (64)"
    else:
        recs = synthetic_qa(24)
        forget, retain, src = recs[:32], recs[32:], "synthetic QA (32 / 64)"
    kw = dict(max_length=max_length)
    return load_qa(forget, tokenizer, "forget_data", **kw), load_qa(retain, tokenizer, "retain_data", **kw), src


def worker(model_name, method, mode, steps, batch_size, max_length=256):
    import torch
    from transformers import TrainerCallback
    from unlearun.models import frozen_copy, load_model
    from unlearun.trainer import UnlearnTrainer, get_method, make_training_args, train_method
    from unlearun.data import ForgetRetainDataset, UnlearnCollator
    from unlearun.methods.rmu import RMU, decoder_layers, hidden_at, mlp_out_proj
    from unlearun.test_utils import smollm2_path, tiny_llama, tiny_setup

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if model_name == "tiny":
        s = tiny_setup("llama")
        model, tok = load_model(tiny_llama(s.tokenizer, n_layer=4), s.tokenizer, device=device)
    else:
        model, tok = load_model(str(smollm2_path()), device=device)
    import warnings; warnings.filterwarnings("ignore", message=".*truncated.*")
    forget, retain, data_src = _data(model_name, tok, max_length)
    data_src += f", max_length {max_length}"
    n_params = sum(p.numel() for p in model.parameters())

    class NaiveRMU(RMU):
        "RMU as it is often written: full forward, full frozen copy, every parameter requiring grad."
        def prepare(self, model, tokenizer, dataset, ref_model=None):
            super().prepare(model, tokenizer, dataset, ref_model)    # picks layers, u and c
            self.finish(model)                                       # ... but keeps every parameter trainable
            self._frozen = frozen_copy(model)                        # and a full frozen copy

    def full_hidden(m, layer, ids, att):
        "The target layer's output from a full forward pass (all layers and the LM head run)."
        store = {}
        h = decoder_layers(m)[2][layer].register_forward_hook(lambda mod, a, o: store.update(h=o[0] if isinstance(o, tuple) else o))
        try: m(input_ids=ids, attention_mask=att, use_cache=False)
        finally: h.remove()
        return store["h"]

    times, marks, passes = [], {}, []
    calls = [0]    # every pass of the trained model, whole or truncated, embeds its input once
    emb = model.get_input_embeddings()    # (a frozen copy deep-copies the hook: count this module's calls only)
    emb.register_forward_pre_hook(lambda mod, _: calls.__setitem__(0, calls[0] + (mod is emb)))
    class Timer(TrainerCallback):
        def on_train_begin(self, *a, **k): marks["train_begin"] = time.perf_counter()
        def on_step_begin(self, *a, **k):
            if device == "cuda": torch.cuda.synchronize()
            marks["t"], marks["calls"] = time.perf_counter(), calls[0]
        def on_step_end(self, *a, **k):
            if device == "cuda": torch.cuda.synchronize()
            times.append(time.perf_counter() - marks["t"])
            passes.append(calls[0] - marks["calls"])

    out_dir = tempfile.mkdtemp()
    args = make_training_args(out_dir, batch_size=batch_size, learning_rate=1e-5, max_steps=steps, device=device,
                              disable_tqdm=True, lr_scheduler_type="constant")
    import unlearun.methods.rmu as rmu_mod
    if device == "cuda": torch.cuda.reset_peak_memory_stats()
    base_rss = _rss_mb("VmRSS"); reset = _reset_peak()
    start = time.perf_counter()
    if method == "rmu" and mode == "naive":
        m = NaiveRMU()
        ds = ForgetRetainDataset(forget, retain, seed=args.seed)
        m.prepare(model, tok, ds)
        params = [p for l in m.layers_trained for p in mlp_out_proj(decoder_layers(model)[2][l]).parameters()]
        opt = torch.optim.AdamW(params, lr=args.learning_rate)
        rmu_mod.hidden_at, saved = full_hidden, rmu_mod.hidden_at    # the loss now runs the whole model
        try:
            UnlearnTrainer(model=model, args=args, train_dataset=ds, data_collator=UnlearnCollator(tok.pad_token_id),
                           method=m, optimizers=(opt, None), callbacks=[Timer()]).train()
        finally: rmu_mod.hidden_at = saved
        extra = dict(target_layer=m.layer, trained_layers=m.layers_trained)
    else:
        kw = {"precompute_ref": mode == "cached"} if method in CACHED else {}
        m = get_method(method, **kw, **METHOD_ARGS.get(method, {}))
        train_method(m, model, tok, forget, retain, args=args, callbacks=[Timer()])
        extra = dict(target_layer=m.layer, trained_layers=m.layers_trained) if method == "rmu" else {}
    if method == "rmu":
        reference = "full copy" if mode == "naive" else f"first {m.layer + 1} layers"
    else:
        reference = ("full copy" if m.needs_reference else
                     "cached log-probs" if getattr(m, "precompute_ref", False) else "none")
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else (_rss_mb("VmHWM") if reset else __import__("resource").getrusage(0).ru_maxrss / 1024))
    return dict(model=model_name, method=method, mode=mode, device=device, steps=len(times), load=os.getloadavg()[0],
                batch_size=batch_size,
                step_s=times[1:],  # the first step warms up (allocations, kernels)
                passes=max(passes), reference=reference,
                setup_s=marks["train_begin"] - start, peak_mb=peak, base_rss_mb=base_rss, params=n_params,
                data=data_src, peak_kind="cuda max_memory_allocated" if device == "cuda" else
                ("VmHWM (reset before training)" if reset else "ru_maxrss (whole process)"), **extra)


# ---------------------------------------------------------------------------------------------- driver and report
def machine():
    import torch, transformers
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem = next((int(l.split()[1]) / 2**20 for l in open("/proc/meminfo") if l.startswith("MemTotal")), float("nan"))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"{cpu}, {os.cpu_count()} CPU cores visible, {mem:.0f} GiB RAM, GPU: {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}; "
            f"load average at start {os.getloadavg()[0]:.2f}")


def median(xs):
    xs = sorted(xs); n = len(xs)
    return (xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2) if xs else float("nan")


def report(results, mach, wall):
    lines = ["# Methods benchmark: work done once vs every step", "",
             f"Produced by `{' '.join(['python', 'benchmarks/bench_methods.py', *sys.argv[1:]])}` in {wall:.0f} s. "
             f"Machine: {mach}.", "",
             f"Batch size {results[0]['batch_size']} (forget) + the same (retain), AdamW, lr 1e-5; each configuration in a fresh process; step time is",
             "the median over the measured steps after one warm-up step; peak memory is the process's peak resident",
             "memory during `train_method` (VmHWM reset after the model is loaded; on a GPU: max allocated).",
             "*cached*: reference log-probs computed once before training (`precompute_ref=True`, the default);",
             "*naive*: a frozen reference copy runs on every step. RMU *truncated*: forward stops at `target_layer`,",
             "only the trained projections require grad, frozen copy of the first layers only (the default); RMU",
             "*naive*: whole model forward, every parameter requiring grad, full frozen copy (same optimiser).", "",
             "The CPUs are shared with other jobs: the last column is the 1-minute load average when the run ended",
             "(2 means both cores busy); step times on a loaded machine are noisy, so read ratios with that in mind.", "",
             "*passes / step*: how many times a training step runs the trained model (counted at its input",
             "embedding; forget and retain examples share one pass); *reference*: what the method keeps of the",
             "starting model. UNDIAL's teacher is the starting model's whole next-token distribution at every answer",
             "position, which cached log-probs cannot stand in for (up to 1.4 GiB in fp32 for TOFU forget01: 40",
             "examples x 192 positions x SmolLM2's 49,152 tokens), so it keeps a frozen copy. AltPO writes one",
             "alternate of at most 32 tokens per",
             "question here (its one-time setup; the default is 5 of at most 200).", "",
             "| model | method | mode | step (s) | steps | passes / step | reference | one-time setup (s) | peak memory (MiB) | above loaded model (MiB) | load |",
             "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['model']} | {r['method']} | {r['mode']} | {median(r['step_s']):.3f} | {len(r['step_s'])} | "
                     f"{r['passes']} | {r['reference']} | "
                     f"{r['setup_s']:.2f} | {r['peak_mb']:.0f} | {r['peak_mb'] - r['base_rss_mb']:.0f} | {r['load']:.1f} |")
    lines += ["", "## Ratios (naive / default)", "",
              "| model | method | step-time speed-up | peak memory saved (MiB) | saved in model copies (fp32) |",
              "|---|---|---:|---:|---:|"]
    by = {(r["model"], r["method"], r["mode"]): r for r in results}
    for (model, method, mode), r in by.items():
        if mode == "naive": continue
        n = by.get((model, method, "naive"))
        if n is None: continue
        copy_mb = r["params"] * 4 / 2**20
        lines.append(f"| {model} | {method} | {median(n['step_s']) / median(r['step_s']):.2f}x | "
                     f"{n['peak_mb'] - r['peak_mb']:.0f} | {(n['peak_mb'] - r['peak_mb']) / copy_mb:.2f} |")
    models = sorted({(r["model"], r["params"], r["data"]) for r in results})
    lines += ["", "Models: " + "; ".join(f"{m}: {p / 1e6:.2f} M parameters ({p * 4 / 2**20:.0f} MiB in fp32), data: {d}"
                                           for m, p, d in models) + "."]
    rmu = [r for r in results if r["method"] == "rmu" and "target_layer" in r]
    if rmu: lines += ["RMU layers: " + "; ".join(f"{r['model']}: target {r['target_layer']}, trained {r['trained_layers']}"
                                                 for r in rmu if r["mode"] == "truncated") + "."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="tiny,smollm2", help="comma-separated: tiny, smollm2")
    ap.add_argument("--steps", type=int, default=0, help="steps per configuration (default: 12 tiny, 4 smollm2)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=256, help="tokens per example (longer answers are cut)")
    ap.add_argument("--out", default=str(HERE / "RESULTS_methods.md"))
    ap.add_argument("--worker", nargs=3, metavar=("MODEL", "METHOD", "MODE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print("RESULT " + json.dumps(worker(*a.worker, a.steps, a.batch_size, a.max_length)))
        return
    mach, start, results = machine(), time.time(), []
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if "smollm2" in a.models:   # convert the GGUF once, outside the timed workers
        from unlearun.test_utils import smollm2_path
        smollm2_path()
    for model in a.models.split(","):
        steps = a.steps or (12 if model == "tiny" else 4)
        for method, mode in CONFIGS:
            t = time.time()
            p = subprocess.run([sys.executable, __file__, "--worker", model, method, mode, "--steps", str(steps),
                                "--batch-size", str(a.batch_size), "--max-length", str(a.max_length)], capture_output=True, text=True, env=env)
            line = next((l for l in p.stdout.splitlines() if l.startswith("RESULT ")), None)
            if line is None:
                print(p.stdout[-2000:], p.stderr[-4000:], file=sys.stderr)
                raise SystemExit(f"worker {model} {method} {mode} failed")
            r = json.loads(line[7:]); results.append(r)
            print(f"{model:8s} {method:11s} {mode:9s} step {median(r['step_s']):.3f} s  peak {r['peak_mb']:.0f} MiB "
                  f"(+{r['peak_mb'] - r['base_rss_mb']:.0f})  setup {r['setup_s']:.2f} s  [{time.time() - t:.0f} s]", flush=True)
    text = report(results, mach, time.time() - start)
    Path(a.out).write_text(text)
    (Path(a.out).with_suffix(".json")).write_text(json.dumps(dict(machine=mach, results=results), indent=1))
    print(text)


if __name__ == "__main__":
    main()
