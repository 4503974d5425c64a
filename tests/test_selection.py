"Evaluate while training: the best step's weights are kept (bit-equal to its checkpoint), stop_when stops in time, resuming keeps the best, and diagnose() works from the run alone."
import math, warnings
from pathlib import Path
import pytest, torch
from safetensors.torch import load_file
from unlearun import Unlearning
from unlearun.test_utils import tiny_setup

nop = lambda rs: [{k: v for k, v in r.items() if k != "paraphrased_answer"} for r in rs]
RUN = dict(batch_size=4, learning_rate=1e-3, lr_scheduler_type="constant", disable_tqdm=True)   # grad ascent overshoots


def unlearner(tmp_path, **kw):
    s = tiny_setup("gpt2", finetuned=True)
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path), device="cpu", **kw)
    return u.load_data(forget_data=nop(s.forget), retain_data=nop(s.retain), max_length=128)


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_select_best_keeps_the_checkpoint_before_the_collapse(tmp_path):
    u = unlearner(tmp_path)
    quiet(u.run, num_epochs=5, eval_every=1, eval_subset=8, select_best="forget_vs_utility",
          save_strategy="steps", save_steps=1, **RUN)
    ev, best = u.evaluations, u.training["best"]
    print([(e["step"], round(e["eval/model_utility"], 3)) for e in ev], best)
    collapse = next(e["step"] for e in ev if e["eval/model_utility"] < 0.05)
    assert 0 < best["step"] < collapse
    ckpt = load_file(str(Path(tmp_path) / f"checkpoint-{best['step']}" / "model.safetensors"))
    params = dict(u.model.named_parameters())
    assert all(torch.equal(params[k], v) for k, v in ckpt.items() if k in params)          # bit-equal
    again = quiet(u._evaluation(None, 8))                                                  # the same evaluation
    kept = next(e for e in ev if e["step"] == best["step"])["eval/model_utility"]
    assert again["model_utility"] == pytest.approx(kept, abs=1e-6)
    assert again["model_utility"] >= max(e["eval/model_utility"] for e in ev if e["step"] >= collapse)


def test_stop_when_stops_within_one_interval(tmp_path):
    u = unlearner(tmp_path)
    quiet(u.run, num_epochs=5, eval_every=2, eval_subset=8, stop_when="rouge/forget/rougeL_recall < 0.5", **RUN)
    first = next(e["step"] for e in u.evaluations if e["eval/rouge/forget/rougeL_recall"] < 0.5)
    assert u.training["stopped"]["step"] == first == u.training["steps"] < 20


def test_diagnose_right_after_run_names_over_forgetting(tmp_path):
    u = unlearner(tmp_path)
    quiet(u.run, num_epochs=5, eval_every=5, eval_subset=8, **RUN)
    d = u.diagnose()
    print(d)
    assert d.symptoms[0] == "forgets_too_much" and d.findings[0].remedies
    assert f"the run's evaluations at steps 0 and {u.evaluations[-1]['step']}" in str(d)
    u2 = unlearner(tmp_path / "probes")                                 # no evaluation at all: the monitor's probes
    quiet(u2.run, num_epochs=5, probe_every=5, **RUN)
    d2 = u2.diagnose()
    assert "training probes" in d2.source and d2.symptoms[0] == "forgets_too_much"


def test_resuming_keeps_the_evaluations_and_the_best(tmp_path):
    full = unlearner(tmp_path / "full")
    quiet(full.run, num_epochs=3, eval_every=2, eval_subset=8, select_best="forget_vs_utility",
          save_strategy="steps", save_steps=2, **RUN)
    part = unlearner(tmp_path / "part")
    quiet(part.run, num_epochs=3, max_steps=6, eval_every=2, eval_subset=8, select_best="forget_vs_utility",
          save_strategy="steps", save_steps=2, **RUN)           # interrupted after step 6 (same schedule: constant lr)
    resumed = unlearner(tmp_path / "part")
    quiet(resumed.run, num_epochs=3, eval_every=2, eval_subset=8, select_best="forget_vs_utility",
          save_strategy="steps", save_steps=2, resume_from_checkpoint=True, **RUN)
    steps = lambda u: [e["step"] for e in u.evaluations]
    assert steps(resumed) == steps(full) and resumed.training["best"]["step"] == full.training["best"]["step"]
    a, b = dict(full.model.named_parameters()), dict(resumed.model.named_parameters())
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
