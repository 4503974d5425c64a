"""Worker for tests/test_multiprocess.py: run with `torchrun --nproc_per_node N tests/mp_worker.py OUT BATCH` (or plain
`python` for one process). Writes, per rank, the final weights, the retain draws, every method's run and the evaluation."""
import json, os, sys, tempfile, warnings
import numpy as np, torch
from unlearun.api import Unlearning
from unlearun.distributed import barrier, rank, world_size
from unlearun.models import unwrap_model
from unlearun.test_utils import tiny_setup
from unlearun.methods import METHODS

warnings.filterwarnings("ignore")
out, batch = sys.argv[1], int(sys.argv[2])
parts = sys.argv[3].split(",") if len(sys.argv) > 3 else ["weights", "eval", "ref", "methods", "select"]
torch.set_num_threads(1)
r, w = rank(), world_size()
res = {"rank": r, "world": w}
kw = dict(num_epochs=2, learning_rate=0.05, optim="sgd", max_grad_norm=0.0, lr_scheduler_type="constant",
          disable_tqdm=True, monitor=False)

def unlearner(method, s, **mkw):
    d = tempfile.mkdtemp()
    u = Unlearning(method, model=s.model, tokenizer=s.tokenizer, output_dir=d, device="cpu", seed=7, **mkw)
    return u.load_data(forget_data=s.forget, retain_data=s.retain, holdout_data=s.holdout, max_length=64)

if "weights" in parts:   # SimNPO's forget term is a mean over sequences: n processes x b == 1 process x n*b
    s = tiny_setup("gpt2", n_forget_people=4)                 # 16 forget examples
    u = unlearner("simnpo", s, alpha=0.0, beta=0.1).run(batch_size=batch, **kw)
    ds = u.trainer.train_dataset
    res["steps"] = u.trainer.state.global_step
    res["dataset_rank"] = ds.rank
    res["retain_draws"] = [ds.retain_index(i) for i in range(len(ds))]
    if r == 0: torch.save({k: v.detach().cpu() for k, v in unwrap_model(u.model).state_dict().items()}, f"{out}/weights_{w}.pt")

if "eval" in parts:
    s = tiny_setup("gpt2", n_forget_people=3, n_retain_people=3, n_holdout_people=3)   # 12 examples per set: 12 % 2 == 0, so
    s.forget = s.forget[:11]                                                           # odd sizes check the gathering
    u = unlearner("grad_ascent", s)
    import unlearun.evaluation.scoring as S, unlearun.evaluation.generation as G   # record every example this process
    seen, score0, gen0 = [], S.score_examples, G.greedy_generate                  # scores or generates from
    S.score_examples = lambda m, ex, *a, **k: (seen.extend("s" + ",".join(map(str, e["input_ids"])) for e in ex), score0(m, ex, *a, **k))[1]
    G.greedy_generate = lambda m, ps, *a, **k: (seen.extend("g" + ",".join(map(str, p)) for p in ps), gen0(m, ps, *a, **k))[1]
    ev = u.evaluate(metrics=["perplexity", "probability", "truth_ratio", "forget_quality", "model_utility", "rouge",
                             "verbatim_memorization", "exact_memorization", "extraction_strength", "mia"], batch_size=4,
                    max_new_tokens=6, progress=False)
    S.score_examples, G.greedy_generate = score0, gen0
    res["seen"] = seen
    res["eval"] = json.loads(json.dumps(ev, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))

if "ref" in parts:   # cached reference log-probs: each process scores its share, every process gets them all
    from unlearun.data import load_qa
    from unlearun.losses import precompute_logps
    s = tiny_setup("gpt2", n_forget_people=3)
    ex = load_qa(s.forget[:11], s.tokenizer, "forget_data", 64).examples
    scored = []
    h = s.model.register_forward_pre_hook(lambda m, a, kw: scored.append(kw["input_ids"].shape[0]), with_kwargs=True)
    res["ref_logps"], res["ref_scored"] = precompute_logps(s.model, ex, s.tokenizer.pad_token_id), sum(scored)
    h.remove()

if "methods" in parts:
    res["methods"] = {}
    for name, mkw in [*[(m, {}) for m in sorted(METHODS) if m != "base"], ("grad_diff", {"retain_loss_type": "KL"})]:
        s = tiny_setup("gpt2")
        before = {k: v.clone() for k, v in s.model.state_dict().items()}
        u = unlearner(name, s, **mkw).run(batch_size=2, **{**kw, "num_epochs": 1, "learning_rate": 1e-3})
        after = unwrap_model(u.model).state_dict()
        key = name + ("_kl" if mkw else "")
        res["methods"][key] = {"steps": u.trainer.state.global_step, "finite": all(np.isfinite(h["loss"]) for h in u.history),
                               "changed": sum(int(not torch.equal(before[k], after[k])) for k in before),
                               "checksum": float(sum(v.double().sum() for v in after.values()))}

if "select" in parts:    # evaluating while training: every process evaluates, all take the same decisions
    s = tiny_setup("gpt2", n_forget_people=4)
    u = unlearner("simnpo", s, alpha=0.0, beta=0.1).run(batch_size=batch, eval_every=1, eval_subset=8,
                                                        select_best="forget_vs_utility", **kw)
    res["select"] = {"best": u.training["best"], "steps": [e["step"] for e in u.evaluations],
                     "utility": [e["eval/model_utility"] for e in u.evaluations],
                     "checksum": float(sum(p.double().sum() for p in unwrap_model(u.model).parameters()))}

with open(f"{out}/rank{r}_of{w}.json", "w") as f: json.dump(res, f)
barrier()
