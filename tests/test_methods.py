"Every registered unlearning method, end to end through `Unlearning(...)` on tiny GPT-2 and Llama models."
import dataclasses
import functools
import pytest
import torch
from unlearun import Unlearning
from unlearun.data import IGNORE_INDEX, pad_examples
from unlearun.losses import mean_nll, token_logps
from unlearun.methods.dpo import REFUSALS
from unlearun.methods.rmu import activation_mse, hidden_at
from unlearun.test_utils import tiny_setup
from unlearun.methods import METHODS

ARCHS = ["gpt2", "llama"]
RUN = dict(batch_size=4, learning_rate=1e-2, num_epochs=3)          # the same schedule for every method
# The tiny models' activations have norms of about 2: RMU's fixed steering coefficient must be large against them.
METHOD_ARGS = {"rmu": dict(steering_coeff=20.0, alpha=10.0)}


def has_retain_term(name):
    return "alpha" in {f.name for f in dataclasses.fields(METHODS[name])}


def nll(model, qaset):
    "Token-mean NLL of a set's answers."
    b = pad_examples(qaset.examples, 0)
    with torch.no_grad():
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    return mean_nll(*token_logps(logits, b["labels"])).item()


def unlearn(arch, method, tmp, forget=None, load_kw=None, **method_args):
    "A fine-tuned tiny model, unlearned through the public API; returns the unlearner and the starting model."
    s, start = tiny_setup(arch, finetuned=True), tiny_setup(arch, finetuned=True).model
    u = Unlearning(method=method, model=s.model, tokenizer=s.tokenizer, device="cpu", output_dir=str(tmp),
                   **{**METHOD_ARGS.get(method, {}), **method_args})
    u.load_data(forget_data=forget or s.forget, retain_data=s.retain, max_length=128, **(load_kw or {}))
    u.run(**RUN, disable_tqdm=True)
    return u, start


@functools.lru_cache(maxsize=None)
def result(arch, method):
    "Forget and retain NLL before/after (and RMU's activation distance to c*u), cached for the tests below."
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        u, start = unlearn(arch, method, d)
    out = dict(forget=(nll(start, u.forget), nll(u.model, u.forget)),
               retain=(nll(start, u.retain), nll(u.model, u.retain)), history=u.history)
    if method == "rmu":
        b = pad_examples(u.forget.examples, 0)
        with torch.no_grad():
            mse = [activation_mse(hidden_at(m, u.method.layer, b["input_ids"], b["attention_mask"]), u.method.control,
                                  b["attention_mask"]).item() for m in (start, u.model)]
        out["mse_to_control"] = tuple(mse)
    return out


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("arch", ARCHS)
def test_every_method_forgets(arch, method):
    r = result(arch, method)
    (f0, f1), (r0, r1) = r["forget"], r["retain"]
    print(f"\n{arch} {method}: forget NLL {f0:.2f} -> {f1:.2f}, retain NLL {r0:.2f} -> {r1:.2f}")
    assert len(r["history"]) == 6 and all(torch.isfinite(torch.tensor(h["loss"])) for h in r["history"])
    assert f1 > 2 * f0                                           # the forget answers became much less likely
    if method == "rmu":
        m0, m1 = r["mse_to_control"]
        assert m1 < 0.95 * m0                                    # the forget activations moved towards c*u


@pytest.mark.parametrize("arch", ARCHS)
def test_retain_term_protects_retain(arch):
    ga = result(arch, "grad_ascent")["retain"]
    for method in sorted(m for m in METHODS if has_retain_term(m)):
        r0, r1 = result(arch, method)["retain"]
        assert r1 - r0 < ga[1] - ga[0], f"{method}: retain NLL rose {r1 - r0:.2f}, grad_ascent {ga[1] - ga[0]:.2f}"


@pytest.mark.parametrize("arch,kw,trained", [
    ("gpt2", {}, [f"transformer.h.{i}.mlp.c_proj.{w}" for i in (0, 1) for w in ("bias", "weight")]),
    ("llama", {}, [f"model.layers.{i}.mlp.down_proj.weight" for i in (0, 1)]),
    ("llama", dict(target_layer=1, trainable_layers=[1]), ["model.layers.1.mlp.down_proj.weight"]),
])
def test_rmu_changes_only_its_parameters(arch, kw, trained, tmp_path):
    u, start = unlearn(arch, "rmu", tmp_path, **kw)
    before, after = start.state_dict(), u.model.state_dict()
    changed = sorted(k for k in after if not torch.equal(after[k], before[k]))
    assert changed == trained
    assert all(p.requires_grad for p in u.model.parameters())   # requires_grad restored after training
    assert u.method._frozen is None                              # the truncated frozen copy is released


def alternates_used(u):
    "The alternate answers DPO trained towards, decoded from the prepared dataset."
    exs = u.trainer.train_dataset.epoch_extras["alternate"][0]
    return [u.tokenizer.decode([t for t in e["labels"] if t != IGNORE_INDEX and t != u.tokenizer.eos_token_id]).strip()
            for e in exs]


def test_dpo_uses_builtin_refusals_without_alternate_key(tmp_path):
    u, _ = unlearn("gpt2", "dpo", tmp_path)
    assert u.method.alternate_source == "built-in refusals"
    used = alternates_used(u)
    assert len(used) == len(u.forget) and set(used) <= set(REFUSALS) and len(set(used)) > 1


def test_dpo_uses_the_datas_alternates_with_alternate_key(tmp_path):
    s = tiny_setup("gpt2")
    mine = [dict(r, alt=[f"No comment on item {i}.", f"Item {i} is private."]) for i, r in enumerate(s.forget)]
    u, _ = unlearn("gpt2", "dpo", tmp_path, forget=mine, load_kw=dict(alternate_key="alt"))
    assert u.method.alternate_source == "data"
    used = alternates_used(u)
    assert all(a in (f"No comment on item {i}.", f"Item {i} is private.") for i, a in enumerate(used))
    assert not set(used) & set(REFUSALS)
