"Planted faults: the diagnosis names the right symptom and remedies; tune never does worse than the default."
import warnings
import pytest
import torch
from unlearun import Unlearning
from unlearun.diagnostics import TrainingDivergedError
from unlearun.test_utils import tiny_setup

METRICS = ["perplexity", "rouge", "model_utility"]


def strip_paraphrase(rs):
    return [{k: v for k, v in r.items() if k != "paraphrased_answer"} for r in rs]


def unlearner(tmp_path, method="grad_ascent", **kw):
    s = tiny_setup("gpt2", finetuned=True)
    u = Unlearning(method=method, model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path), device="cpu", **kw)
    u.load_data(forget_data=strip_paraphrase(s.forget), retain_data=strip_paraphrase(s.retain), max_length=128)
    return u


def diagnosed(u, **run):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.evaluate(METRICS)
        u.run(disable_tqdm=True, **run)
        u.evaluate(METRICS)
    return u.diagnose()


def test_destroyed_retain_is_forgets_too_much(tmp_path):
    d = diagnosed(unlearner(tmp_path), batch_size=4, learning_rate=5e-3, num_epochs=10)
    print("\n" + str(d))
    assert d.symptoms[0] == "forgets_too_much"
    assert d.suggestion["learning_rate"] < 5e-3 and d.suggestion["num_epochs"] < 10
    assert any(r.startswith("learning_rate: 0.005 -> ") for r in d.findings[0].remedies)


def test_tiny_learning_rate_is_not_forgetting(tmp_path):
    d = diagnosed(unlearner(tmp_path, "grad_diff"), batch_size=4, learning_rate=1e-7, num_epochs=1)
    print("\n" + str(d))
    assert d.symptoms == ["not_forgetting"]
    assert d.suggestion["learning_rate"] > 1e-7 and d.suggestion["gamma"] > 1.0


def test_nan_stops_with_last_good_weights(tmp_path):
    u = unlearner(tmp_path)
    with pytest.raises(TrainingDivergedError, match=r"diverged at step \d+.*reduce the learning rate"):
        u.run(batch_size=4, learning_rate=1e6, num_epochs=5, lr_scheduler_type="constant", disable_tqdm=True)
    assert all(torch.isfinite(p).all() for p in u.model.parameters())


def test_tune_is_no_worse_than_default(tmp_path):
    u = unlearner(tmp_path, "grad_diff")
    res = u.tune(budget=4, batch_size=4, learning_rate=2e-4, num_epochs=2)
    print("\n" + repr(res))
    default, best = res.table[0], next(r for r in res.table if r["config"] == res.best)
    assert best["trial"] in res.pareto
    # not dominated by the default: at least as good on one axis
    assert best["forgetting"] >= default["forgetting"] or best["utility_kept"] >= default["utility_kept"]
    assert not (default["forgetting"] > best["forgetting"] and default["utility_kept"] > best["utility_kept"])
    assert len({str(r["config"]) for r in res.table}) == len(res.table)     # no configuration tried twice
