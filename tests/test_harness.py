"lm-evaluation-harness on the model in memory: a local task over the fixture files picks the same choice as `mcq_accuracy` for every question. Skipped without the lm-eval extra."
import tempfile
import numpy as np
import pytest

pytest.importorskip("lm_eval")

from unlearun import Unlearning
from unlearun.benchmarks import load_mmlu, load_wmdp, write_fixtures
from unlearun.evaluation import Evaluator
from unlearun.evaluation.harness import run_lm_eval, write_mcq_task
from unlearun.evaluation.mcq import mcq_scores
from unlearun.mcq import load_mcq
from unlearun.tiny import tiny_gpt2, tiny_llama, train_llama2_tokenizer, train_tokenizer


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return write_fixtures(tmp_path_factory.mktemp("bench"))


def tokenizer_and_model(arch, texts):
    if arch == "gpt2":
        tok = train_tokenizer(texts, vocab_size=600)
        return tok, tiny_gpt2(tok, seed=3).eval()
    tok = train_llama2_tokenizer(texts, vocab_size=600)             # puts <s> first, as Llama / Mistral do
    return tok, tiny_llama(tok, seed=3).eval()


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
@pytest.mark.parametrize("bench", ["wmdp_bio", "mmlu"])
def test_lm_eval_choices_equal_mcq_accuracy(fixtures, arch, bench):
    rows = load_wmdp("bio", fixtures["wmdp"]) if bench == "wmdp_bio" else load_mmlu("all", "test", fixtures["mmlu"])
    texts = [r["question"] + " " + " ".join(r["choices"]) + " Answer: A B C D" for r in rows] * 5
    tok, model = tokenizer_and_model(arch, texts)
    mcq = load_mcq(rows, tok, bench)
    mine = mcq_scores(model, tok, mcq)
    with tempfile.TemporaryDirectory() as d:
        write_mcq_task(mcq, d, f"fixture_{bench}")
        res = run_lm_eval(model, tok, [f"fixture_{bench}"], include_path=d, include_defaults=False, batch_size=4)
    samples = sorted(res["samples"][f"fixture_{bench}"], key=lambda s: s["doc_id"])
    assert [s["choice"] for s in samples] == mine["pred"].tolist()
    np.testing.assert_allclose([s["loglik"] for s in samples], mine["loglik"], atol=1e-5)
    assert res["results"][f"fixture_{bench}"]["acc"] == pytest.approx(float(mine["correct"].mean()))


def test_lm_eval_metric_through_unlearning(fixtures):
    rows = load_wmdp("cyber", fixtures["wmdp"])
    tok, model = tokenizer_and_model("gpt2", [r["question"] + " " + " ".join(r["choices"]) for r in rows] * 5)
    with tempfile.TemporaryDirectory() as d:
        write_mcq_task(load_mcq(rows, tok, "wmdp_cyber"), d, "fixture_cyber")
        u = Unlearning("grad_ascent", model, tokenizer=tok, device="cpu", output_dir=d)
        u.load_data([{"text": r["question"]} for r in rows], mcq_data={"wmdp_cyber": rows})
        was_training = model.training
        out = u.evaluate(metrics=["mcq_accuracy", "lm_eval"],
                         lm_eval_args={"tasks": ["fixture_cyber"], "include_path": d, "include_defaults": False})
    assert out["lm_eval"]["fixture_cyber"]["acc"] == pytest.approx(out["mcq_accuracy"]["wmdp_cyber"])
    assert model.training == was_training                         # HFLM's model.eval() is undone
