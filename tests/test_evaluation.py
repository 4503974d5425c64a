"Evaluation end to end on tiny local models: unlearning moves the metrics the right way; missing references are loud."
import json, math, warnings
import numpy as np
import pytest
import torch
from unlearun import Unlearning
from unlearun.evaluation import Evaluator, relearn
from unlearun.data import load_qa
from unlearun.test_utils import tiny_setup, tiny_gpt2
from unlearun.trainer import finetune

RUN = dict(batch_size=4, learning_rate=1e-3, num_epochs=3, disable_tqdm=True)
# 20 forget records, so the KS test behind forget quality has some resolution
BIG = dict(n_forget_people=5, n_retain_people=8, n_holdout_people=5)


def no_paraphrase(records):
    "The fixture's paraphrases were never trained on; without them the truth ratio uses the answer itself."
    return [{k: v for k, v in r.items() if k != "paraphrased_answer"} for r in records]


@pytest.fixture(scope="module")
def retain_model_dir(tmp_path_factory):
    "A tiny GPT-2 fine-tuned on the retain facts only (never saw forget), saved as a folder."
    s = tiny_setup("gpt2", finetuned=True, **BIG)
    model = tiny_gpt2(s.tokenizer)
    d = tmp_path_factory.mktemp("retain_model")
    finetune(model, s.tokenizer, s.retain, str(d / "out"), num_epochs=30, learning_rate=3e-3, batch_size=8,
             disable_tqdm=True)
    model.save_pretrained(d / "model"); s.tokenizer.save_pretrained(d / "model")
    return d / "model"


def test_grad_ascent_moves_forget_metrics(tmp_path):
    s = tiny_setup("gpt2", finetuned=True)
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path), device="cpu")
    u.load_data(forget_data=s.forget, retain_data=s.retain, holdout_data=s.holdout, max_length=128)
    metrics = ["perplexity", "probability", "rouge", "verbatim_memorization", "exact_memorization", "mia"]
    before = u.evaluate(metrics)
    u.run(**RUN)
    after = u.evaluate(metrics)
    assert after["perplexity"]["forget"] > 2 * before["perplexity"]["forget"]
    assert after["probability"]["forget"] < before["probability"]["forget"] / 2
    assert after["rouge"]["forget"]["rougeL_recall"] < before["rouge"]["forget"]["rougeL_recall"] - 0.3
    assert after["verbatim_memorization"]["forget"] < before["verbatim_memorization"]["forget"]
    assert after["exact_memorization"]["forget"] < before["exact_memorization"]["forget"]
    assert before["mia"]["loss"] > 0.9 and after["mia"]["loss"] < before["mia"]["loss"]
    assert set(u.results) == {"before", "after"}
    table = u.report()
    assert "| perplexity/forget |" in table and "| mia/min_k++ |" in table


def test_forget_quality_rises_against_retain_model(tmp_path, retain_model_dir):
    s = tiny_setup("gpt2", finetuned=True, **BIG)
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path), device="cpu")
    u.load_data(forget_data=no_paraphrase(s.forget), retain_data=no_paraphrase(s.retain),
                holdout_data=no_paraphrase(s.holdout), max_length=128)
    docs = ["perplexity", "forget_quality", "model_utility", "rouge", "verbatim_memorization", "mia"]
    before = u.evaluate(docs + ["privleak"], retain_model=str(retain_model_dir))   # a folder
    u.run(**RUN)
    after = u.evaluate(docs)                                  # the retain model's statistics were kept
    print(f"\nforget quality {before['forget_quality']:.4f} -> {after['forget_quality']:.4f}")
    for r in (before, after):
        assert isinstance(r["forget_quality"], float) and isinstance(r["model_utility"], float)
        assert r["forget_quality_info"]["reference"] == "retain_model"
        assert r["forget_quality_info"]["statistic"] == "truth_ratio"
    assert before["forget_quality"] < 0.05 < after["forget_quality"]
    assert before["privleak"] < -50                          # MUSE's convention: a model that remembers is near -100
    # saved statistics stand in for the retain model, and are refused for other data
    stats = tmp_path / "retain_stats.json"
    stats.write_text(json.dumps(before["retain_model_stats"]))
    ev = Evaluator(u.model, u.tokenizer, forget=u.forget, holdout=u.holdout, retain_model=str(stats))
    assert ev.evaluate(["forget_quality"])["forget_quality"] == pytest.approx(after["forget_quality"])
    other = Evaluator(u.model, u.tokenizer, forget=no_paraphrase(s.retain), retain_model=before["retain_model_stats"])
    with pytest.raises(ValueError, match="different forget set"):
        other.evaluate(["forget_quality"])


def test_missing_references_are_nan_with_a_hint(tmp_path):
    s = tiny_setup("gpt2", finetuned=True)
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path), device="cpu")
    u.load_data(forget_data=s.forget, max_length=128)
    with pytest.warns(UserWarning) as w:
        r = u.evaluate(["forget_quality", "mia", "privleak", "model_utility"])
    msgs = " ".join(str(x.message) for x in w)
    assert math.isnan(r["forget_quality"]) and r["forget_quality_info"]["reference"] is None
    assert all(math.isnan(v) for v in r["mia"].values()) and math.isnan(r["privleak"])
    assert math.isnan(r["model_utility"])
    for hint in ("retain_model=", "holdout_data=", "retain_data="):
        assert hint in msgs
    u.load_data(forget_data=s.forget, holdout_data=s.holdout, max_length=128)   # holdout data is no retain model:
    with pytest.warns(UserWarning, match="needs a retain model"):               # no stand-in reference is invented
        r = u.evaluate(["forget_quality"])
    assert math.isnan(r["forget_quality"]) and r["forget_quality_info"]["reference"] is None
    with pytest.raises(ValueError, match="Unknown metrics"):
        u.evaluate(["bleu"])


def test_relearning_works_on_a_copy(tmp_path):
    s = tiny_setup("gpt2", finetuned=True)
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path), device="cpu")
    u.load_data(forget_data=s.forget, max_length=128)
    u.run(batch_size=4, learning_rate=1e-3, num_epochs=5, disable_tqdm=True)
    w0 = {k: v.clone() for k, v in u.model.state_dict().items()}
    r = u.evaluate(["relearning"], relearn_args=dict(steps=20, learning_rate=3e-3))["relearning"]
    print(f"\nrelearning: forget ROUGE-L recall {r['rougeL_recall_before']:.3f} -> {r['rougeL_recall_after']:.3f}")
    assert r["n_train"] + r["n_test"] == len(s.forget)
    assert r["rougeL_recall_after"] > r["rougeL_recall_before"]
    assert all(torch.equal(w0[k], v) for k, v in u.model.state_dict().items())   # the unlearned model is untouched


def test_utility_sets_join_model_utility(tmp_path):
    s = tiny_setup("gpt2", finetuned=True)
    ev = Evaluator(s.model, s.tokenizer, forget=s.forget, retain=no_paraphrase(s.retain),
                   utility={"people": no_paraphrase(s.holdout)})
    r = ev.evaluate(["model_utility", "probability"])
    assert sorted(r["model_utility_components"]) == [f"{n}/{c}" for n in ("people", "retain")
                                                     for c in ("probability", "rougeL_recall", "truth_ratio")]
    c = np.array(list(r["model_utility_components"].values()))
    assert r["model_utility"] == pytest.approx(len(c) / (1 / c).sum())                 # harmonic mean of 6
