"Nothing lost: SIGKILL during save_model or training, resume, and run-to-run determinism on the CPU."
import json, os, signal, subprocess, sys, textwrap, time
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

ENV = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}


def spawn(code, *args):
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


SAVER = """
import sys, itertools
from unlearun import Unlearning
from unlearun.test_utils import tiny_setup
s = tiny_setup("gpt2")
u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=sys.argv[1] + "/o", device="cpu")
u.load_data(forget_data=s.forget)
for i in itertools.count():
    u.training = {"save": i}
    u.save_model(sys.argv[1] + "/model", overwrite=True)
    print("saved", i, flush=True)
"""


def complete(folder):
    names = {p.name for p in folder.iterdir()}
    return {"model.safetensors", "config.json", "tokenizer.json", "unlearning_config.json"} <= names


def test_save_model_survives_sigkill(tmp_path):
    outcomes = []
    for delay in (0.0, 0.11, 0.23):                      # each round a fresh process (~10 s of imports)
        p = spawn(SAVER, tmp_path)
        while "saved 2" not in (line := p.stdout.readline()):   # wait until it is busy overwriting
            assert line, "saver exited early"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        folder = tmp_path / "model"
        assert folder.is_dir() and complete(folder), sorted(p.name for p in folder.iterdir())
        AutoModelForCausalLM.from_pretrained(folder)
        outcomes.append(json.loads((folder / "unlearning_config.json").read_text())["training"]["save"])
    print("\nsaves seen after SIGKILL:", outcomes)


TRAINER = """
import sys, torch
from unlearun import Unlearning
from unlearun.test_utils import tiny_setup
out, resume, method = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
s = tiny_setup("gpt2", finetuned=True)
u = Unlearning(method=method, model=s.model, tokenizer=s.tokenizer, output_dir=out, device="cpu", seed=3)
u.load_data(forget_data=s.forget, retain_data=s.retain)
class Slow(__import__("transformers").TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        print("step", state.global_step, flush=True)
u.run(batch_size=2, learning_rate=5e-4, num_epochs=3, save_strategy="steps", save_steps=3, disable_tqdm=True,
      resume_from_checkpoint=resume, callbacks=[Slow()])
torch.save({k: v.detach().cpu() for k, v in u.model.state_dict().items()}, out + "/final.pt")
print("done", u.trainer.state.global_step, flush=True)
"""


@pytest.mark.parametrize("method", ["grad_diff"])
def test_resume_after_sigkill_matches_uninterrupted(tmp_path, method):
    ref = spawn(TRAINER, tmp_path / "ref", 0, method)
    out, _ = ref.communicate(timeout=300)
    assert ref.returncode == 0, out
    p = spawn(TRAINER, tmp_path / "run", 0, method)
    while not (line := p.stdout.readline()).startswith("step 7"):
        assert line, "training exited early"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert (tmp_path / "run" / "checkpoint-6").is_dir() and not (tmp_path / "run" / "final.pt").exists()
    r = spawn(TRAINER, tmp_path / "run", 1, method)
    out, _ = r.communicate(timeout=300)
    assert r.returncode == 0, out
    assert "step 7" in out and "step 6\n" not in out             # it continued from checkpoint-6
    a, b = torch.load(tmp_path / "ref" / "final.pt"), torch.load(tmp_path / "run" / "final.pt")
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f"\nmax |w_resumed - w_uninterrupted| = {diff:.2e}")
    assert diff < 1e-5


def test_same_seed_same_history_and_weights(tmp_path):
    from unlearun import Unlearning
    from unlearun.test_utils import tiny_setup

    def one(i):
        s = tiny_setup("llama", finetuned=True)
        u = Unlearning(method="grad_diff", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path / str(i)),
                       device="cpu", seed=7)
        u.load_data(forget_data=s.forget, retain_data=s.retain)
        u.run(batch_size=4, learning_rate=1e-3, num_epochs=2, disable_tqdm=True)
        return [{k: v for k, v in h.items() if "runtime" not in k and "per_second" not in k} for h in u.history], \
            {k: v.clone() for k, v in u.model.state_dict().items()}

    h1, w1 = one(1)
    h2, w2 = one(2)
    assert h1 == h2
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
