"Every registered method on text corpora through `Unlearning(...)`: a text forget set with a question-answer retain set, and the reverse."
import functools
import tempfile
import pytest
import torch
from unlearun import Unlearning
from unlearun.corpora import TextSet, load_text
from unlearun.data import pad_examples
from unlearun.losses import mean_nll, token_logps
from unlearun.methods import METHODS
from unlearun.test_utils import tiny_setup

RUN = dict(batch_size=2, learning_rate=1e-2, num_epochs=3)
METHOD_ARGS = {"rmu": dict(steering_coeff=20.0, alpha=10.0)}   # the tiny models' activations have norms of about 2


def documents(records, per_doc=4):
    "The answers of `records` joined into documents, `per_doc` facts each: text the tiny model has memorised."
    return [{"text": " ".join(r["answer"] for r in records[i:i + per_doc])} for i in range(0, len(records), per_doc)]


def nll(model, s):
    b = pad_examples(s.examples, 0)
    with torch.no_grad():
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    return mean_nll(*token_logps(logits, b["labels"])).item()


@functools.lru_cache(maxsize=None)
def result(method, text_forget=True):
    s, start = tiny_setup("gpt2", finetuned=True), tiny_setup("gpt2", finetuned=True).model
    forget, retain = (documents(s.forget), s.retain) if text_forget else (s.forget, documents(s.retain))
    with tempfile.TemporaryDirectory() as d:
        u = Unlearning(method=method, model=s.model, tokenizer=s.tokenizer, device="cpu", output_dir=d,
                       **METHOD_ARGS.get(method, {}))
        u.load_data(forget_data=forget, retain_data=retain, max_length=64)
        u.run(**RUN, disable_tqdm=True)
    return dict(forget=(nll(start, u.forget), nll(u.model, u.forget)), history=u.history, kinds=(type(u.forget), type(u.retain)))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_forgets_a_text_corpus(method):
    r = result(method)
    (f0, f1) = r["forget"]
    print(f"\n{method}: forget-text NLL {f0:.2f} -> {f1:.2f}")
    assert r["kinds"][0] is TextSet and r["kinds"][1] is not TextSet
    assert r["history"] and all(torch.isfinite(torch.tensor(h["loss"])) for h in r["history"])
    # the forget text became much less likely; RMU scrambles one layer's activations, a smaller rise here
    assert f1 > (1.3 if method == "rmu" else 1.5) * f0


@pytest.mark.parametrize("method", ["grad_diff", "npo", "rmu"])
def test_text_retain_corpus(method):
    r = result(method, text_forget=False)
    assert r["kinds"][1] is TextSet and r["kinds"][0] is not TextSet
    assert r["forget"][1] > 1.5 * r["forget"][0]


def test_windows_cover_every_token_once():
    s = tiny_setup("gpt2")
    docs = documents(s.forget, per_doc=8)
    for stride in (None, 5, 12):
        t = load_text(docs, s.tokenizer, max_length=12, stride=stride)
        for d, doc in enumerate(docs):
            ids = s.tokenizer(doc["text"], add_special_tokens=False)["input_ids"]
            trained = [x for e, r in zip(t.examples, t.records) if r["doc"] == d for x in e["labels"] if x != -100]
            assert trained == ids
            assert all(len(e["input_ids"]) <= 12 for e in t.examples)
