"The documentation's quickstart, end to end on a local tiny model."
import json
import pytest
import torch
from transformers import AutoModelForCausalLM
from unlearun import Unlearning
from unlearun.data import load_qa
from unlearun.test_utils import data_dir

RUN = dict(batch_size=4, learning_rate=1e-3, num_epochs=3)


def quickstart(model_dir, forget, retain, out, method="grad_ascent", **kw):
    unlearner = Unlearning(method=method, model=str(model_dir), output_dir=str(out / "outputs"), device="cpu", **kw)
    unlearner.load_data(forget_data=str(forget), retain_data=str(retain), max_length=128)
    before = unlearner.evaluate(metrics=["perplexity"])
    unlearner.run(**RUN)
    results = unlearner.evaluate(metrics=["perplexity"])
    return unlearner, before["perplexity"], results["perplexity"]


def test_quickstart_grad_ascent(tiny_folder, qa_files, tmp_path):
    model_dir, _ = tiny_folder
    forget, retain = qa_files
    u, before, after = quickstart(model_dir, forget, retain, tmp_path)
    print(f"\nquickstart grad_ascent perplexity before {before} after {after}")
    assert after["forget"] > 2 * before["forget"]          # the forget answers became much less likely
    assert len(u.history) == u.training["steps"] > 0
    assert {"loss", "forget_loss", "grad_norm", "learning_rate"} <= set(u.history[0])

    saved = u.save_model(str(tmp_path / "final_model"))
    files = {p.name for p in saved.iterdir()}
    assert {"model.safetensors", "config.json", "unlearning_config.json", "tokenizer.json"} <= files
    cfg = json.loads((saved / "unlearning_config.json").read_text())
    assert cfg["method"] == "grad_ascent" and len(cfg["data"]["forget"]["sha256"]) == 64
    assert not any(r["answer"] in json.dumps(cfg) for r in json.loads(forget.read_text()))   # no forget text

    reloaded = AutoModelForCausalLM.from_pretrained(saved).eval()
    x = torch.tensor([u.tokenizer("Question: Where was")["input_ids"]])
    torch.testing.assert_close(reloaded(x).logits, u.model.cpu().eval()(x).logits, rtol=1e-5, atol=1e-5)
    with pytest.raises(FileExistsError, match="not empty"):
        u.save_model(str(saved))


def test_grad_diff_keeps_retain_better(tiny_folder, qa_files, tmp_path):
    model_dir, _ = tiny_folder
    forget, retain = qa_files
    _, b_ga, a_ga = quickstart(model_dir, forget, retain, tmp_path / "ga")
    _, b_gd, a_gd = quickstart(model_dir, forget, retain, tmp_path / "gd", method="grad_diff", gamma=1.0, alpha=1.0)
    print(f"\nretain perplexity: grad_ascent {b_ga['retain']:.3f} -> {a_ga['retain']:.3f}, "
          f"grad_diff {b_gd['retain']:.3f} -> {a_gd['retain']:.3f}")
    assert b_ga == b_gd                                      # same starting model
    assert a_gd["forget"] > b_gd["forget"]
    assert a_gd["retain"] - b_gd["retain"] < a_ga["retain"] - b_ga["retain"]


def test_tofu_files_load(tiny_folder):
    d = data_dir()
    if d is None:
        pytest.skip("shared TOFU data not found: set UNLEARUN_DATA_DIR")
    _, s = tiny_folder
    forget = load_qa(d / "tofu" / "forget01.json", s.tokenizer, "forget_data", max_length=512)
    retain = load_qa(d / "tofu" / "retain99.json", s.tokenizer, "retain_data", max_length=512)
    assert (len(forget), len(retain)) == (40, 3960)
    assert forget.locs[0].endswith("forget01.json line 1")


def test_bad_input_names_the_file_and_key(tiny_folder, tmp_path):
    model_dir, _ = tiny_folder
    bad = tmp_path / "forget.jsonl"
    bad.write_text('{"q": "Who?", "a": "Me."}\n')
    u = Unlearning(method="grad_ascent", model=str(model_dir), output_dir=str(tmp_path / "o"), device="cpu")
    with pytest.raises(KeyError, match=r"forget.jsonl line 1: neither a 'question' field.*question_key"):
        u.load_data(forget_data=str(bad))
    u.load_data(forget_data=str(bad), question_key="q", answer_key="a")
    assert len(u.forget) == 1
