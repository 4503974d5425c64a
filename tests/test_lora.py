"""Every method with LoRA on a tiny model: only adapters train, the base weights stay, the reference is the base
model with adapters disabled (no copy), and the forget set is unlearned."""
import tempfile
import pytest, torch
from unlearun.api import Unlearning
from unlearun.models import AdapterDisabledReference, unwrap_model
from unlearun.test_utils import tiny_setup
from unlearun.methods import METHODS

CASES = [(m, {}) for m in sorted(METHODS) if m != "base"] + [("grad_diff", {"retain_loss_type": "KL"}),
                                                            ("npo", {"precompute_ref": False})]

@pytest.mark.parametrize("name,kw", CASES, ids=lambda x: x if isinstance(x, str) else "-".join(f"{k}={v}" for k, v in x.items()))
def test_every_method_trains_only_adapters(name, kw, monkeypatch):
    s = tiny_setup("llama", finetuned=True)
    base0 = {k: v.clone() for k, v in s.model.state_dict().items()}
    refs = []                                     # every reference made: must be the adapter-disabled view
    import unlearun.trainer, unlearun.methods.rmu, unlearun.models
    spy = lambda m: refs.append(unlearun.models.reference_model(m)) or refs[-1]
    for mod in (unlearun.trainer, unlearun.methods.rmu): monkeypatch.setattr(mod, "reference_model", spy)
    with tempfile.TemporaryDirectory() as d:
        u = Unlearning(name, model=s.model, tokenizer=s.tokenizer, output_dir=d, device="cpu", lora_r=4, **kw)
        u.load_data(forget_data=s.forget, retain_data=s.retain, max_length=64)
        before = u.evaluate(metrics=["perplexity"], progress=False)["perplexity"]["forget"]
        lr = 5e-3 if name == "rmu" else 2e-2
        u.run(batch_size=4, learning_rate=lr, num_epochs=1, disable_tqdm=True, monitor=False)
        after = u.evaluate(metrics=["perplexity"], progress=False)["perplexity"]["forget"]
    base = unwrap_model(u.model)
    names = {k.replace("base_layer.", ""): v for k, v in base.state_dict().items() if "lora_" not in k}
    assert all(torch.equal(names[k], base0[k]) for k in base0)                     # base weights untouched
    lora = [p for n, p in u.model.named_parameters() if "lora_B" in n]
    assert any(p.abs().max() > 0 for p in lora)                                    # adapters trained (B starts at 0)
    assert after > before, (name, before, after)                                   # forgetting happened
    if u.method.needs_reference or name == "rmu": assert refs and all(isinstance(r, AdapterDisabledReference) for r in refs)
    else: assert refs == []

def test_gradient_checkpointing_with_lora():
    s = tiny_setup("llama", finetuned=True)
    with tempfile.TemporaryDirectory() as d:
        u = Unlearning("grad_diff", model=s.model, tokenizer=s.tokenizer, output_dir=d, device="cpu", lora_r=4)
        u.load_data(forget_data=s.forget, retain_data=s.retain, max_length=64)
        u.run(batch_size=4, learning_rate=2e-2, num_epochs=1, disable_tqdm=True, monitor=False, gradient_checkpointing=True)
    assert unwrap_model(u.model).is_gradient_checkpointing
    assert any(p.abs().max() > 0 for n, p in u.model.named_parameters() if "lora_B" in n)
