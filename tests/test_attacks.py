"Attacks that bring forgotten knowledge back: they find it where it was only suppressed, not where it never was, and never change the model they attack."
import copy, importlib.util, math, tempfile, warnings
import pytest
from unlearun import Unlearning
from unlearun.diagnostics import diagnose
from unlearun.evaluation import ATTACKS, Evaluator, weights_digest
from unlearun.test_utils import test_gt as check_gt, test_lt as check_lt, tiny_setup
from unlearun.tiny import tiny_gpt2
from unlearun.trainer import finetune

METRICS = ["rouge", "robustness"]


def _finetune(model, tok, records, **kw):
    with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finetune(model, tok, records, d, batch_size=8, disable_tqdm=True, **kw)
    return model


@pytest.fixture(scope="module")
def models():
    "The tiny GPT-2 that knows forget + retain; a copy taught to refuse the forget questions; a retain-only model."
    s = tiny_setup("gpt2", finetuned=True)
    refusals = [{"question": r["question"], "answer": "I don't know."} for r in s.forget]
    suppressed = _finetune(copy.deepcopy(s.model), s.tokenizer, refusals + s.retain, max_steps=40, learning_rate=3e-4)
    retain_model = _finetune(tiny_gpt2(s.tokenizer), s.tokenizer, s.retain, num_epochs=30, learning_rate=3e-3)
    return s, suppressed, retain_model


def evaluate(s, model, original=None, forget=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Evaluator(model, s.tokenizer, forget=forget or s.forget, retain=s.retain, original=original,
                         batch_size=32, **kw).evaluate(METRICS)


@pytest.fixture(scope="module")
def results(models):
    s, suppressed, retain_model = models
    out = {"original": evaluate(s, s.model)}
    out["suppressed"] = evaluate(s, suppressed, out["original"])
    out["retain"] = evaluate(s, retain_model, out["original"])
    return out


def test_an_attack_recovers_suppressed_answers(results):
    o, sup = results["original"], results["suppressed"]
    print("\nrecovered (suppressed):", {a: round(sup[a]["recovered"], 3) for a in ATTACKS})
    check_lt(sup["rouge"]["forget"]["rougeL_recall"], 0.3 * o["rouge"]["forget"]["rougeL_recall"])   # looks forgotten
    check_gt(sup["robustness"]["worst"], 0.25)                                                 # a measurable share back
    check_gt(sup["relearning"]["recovered"], 0.25)
    assert sup["relearning_info"]["reference"] == "the original under the same attack"


def test_the_diagnosis_says_hidden_not_removed(results):
    d = diagnose(results["original"], results["suppressed"], "grad_diff", {"gamma": 1.0, "alpha": 1.0},
                 {"learning_rate": 3e-4, "num_epochs": 1})
    assert "hidden_not_removed" in d.symptoms, str(d)
    f = d.findings[d.symptoms.index("hidden_not_removed")]
    assert any(e.startswith("relearning recovers") for e in f.evidence)
    assert f.changes.get("gamma") == 2.0                                   # the method's stronger forget term
    assert "hidden_not_removed" not in diagnose(results["original"], results["retain"]).symptoms


def test_retain_model_gives_back_no_more_than_held_out_data(models, results):
    "A model that never saw the forget set: each attack adds no more on forget than on people nobody trained on."
    s, _, retain_model = models
    on_forget, on_holdout = results["retain"], evaluate(s, retain_model, forget=s.holdout)
    for a in ATTACKS:
        for v, x in on_forget[a]["attacked"].items():
            gain_f = x - on_forget[a].get("baseline_by", {}).get(v, on_forget[a]["baseline"])
            gain_h = on_holdout[a]["attacked"][v] - on_holdout[a].get("baseline_by", {}).get(v, on_holdout[a]["baseline"])
            print(f"{a}/{v}: gain on forget {gain_f:+.3f}, on holdout {gain_h:+.3f}")
            check_lt(gain_f, gain_h + 0.15)
        r = on_forget[a]["recovered"]
        assert math.isnan(r) or r < 0.15, (a, r)


def test_no_attack_changes_the_model(models):
    s, suppressed, _ = models
    args = {"latent": {"probe": True, "probe_steps": 3, "probe_layers": 1}, "relearning": {"steps": 3}}
    if importlib.util.find_spec("bitsandbytes") is not None: args["quantization"] = {"backend": "bitsandbytes"}
    before = weights_digest(suppressed)
    r = evaluate(s, suppressed, attack_args=args)                  # every attack, the probe and (if installed) bnb
    assert weights_digest(suppressed) == before
    assert set(r["robustness"]) == {*ATTACKS, "worst"} and "probe" in r["latent"]["attacked"]


def test_unlearning_passes_its_before_results_as_the_original(tmp_path):
    s = tiny_setup("gpt2", finetuned=True)
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path), device="cpu")
    u.load_data(forget_data=s.forget, retain_data=s.retain, max_length=128)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.evaluate(["rouge"])
        u.run(batch_size=4, learning_rate=1e-3, num_epochs=2, disable_tqdm=True)
        after = u.evaluate(["quantization"], attack_args={"quantization": {"bits": [4]}})
    assert after["quantization_info"]["reference"].startswith("the original's unattacked")
    assert after["quantization"]["original"]["4bit"] == pytest.approx(
        sum(u.results["before"]["per_sample"]["forget"]["rougeL_recall"]) / len(s.forget))
