"""New-user scenarios of issue #15: no lost work, no silently wrong numbers, clear errors.

Each test is one scenario; its docstring says what used to happen (on 8b903ee) and what happens now."""
import contextlib, io, json, math, os, stat, warnings
from pathlib import Path
import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, TrainerCallback
from unlearun import Unlearning
from unlearun.cli import main
from unlearun.data import load_qa
from unlearun.models import load_model
from unlearun.test_utils import corpus, synthetic_qa, tiny_setup, train_tokenizer

QUIET = dict(disable_tqdm=True)


def unlearner(tmp_path, method="grad_ascent", finetuned=False, **kw):
    s = tiny_setup("gpt2", finetuned=finetuned)
    u = Unlearning(method=method, model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path / "outputs"),
                   device="cpu", **kw)
    return u, s


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


class StopAtStep(TrainerCallback):
    "A Ctrl-C after step `n`."
    def __init__(self, n): self.n = n
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.n: raise KeyboardInterrupt


def strict_json(text):
    "Parse JSON that must not contain NaN or Infinity."
    return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"invalid JSON constant {c}")))


# ---------------------------------------------------------------------------------------------------- 1-2 lost work
def test_cli_run_saves_the_model_when_the_evaluation_after_fails(tiny_folder, qa_files, tmp_path, monkeypatch):
    "Before: an exception in the evaluation after training lost the trained model. Now: saved first, error reported."
    model_dir, _ = tiny_folder
    forget, retain = qa_files
    real, calls = Unlearning.evaluate, []
    def failing(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2: raise OverflowError("math range error")
        return real(self, *a, **kw)
    monkeypatch.setattr(Unlearning, "evaluate", failing)
    out = tmp_path / "run"
    try:
        rc, _, err = run_cli(["run", "--method", "grad_ascent", "--model", model_dir, "--forget", forget, "--output-dir",
                              out, "--metrics", "perplexity", "--epochs", 1, "--device", "cpu", "--no-progress"])
    except OverflowError:
        rc, err = None, "OverflowError escaped"
    assert (out / "final_model" / "model.safetensors").exists(), err
    assert rc == 0 and "evaluation after unlearning failed" in err
    assert strict_json((out / "results.json").read_text())["evaluation_error"].startswith("OverflowError")


def test_save_model_refuses_a_folder_holding_the_runs_output_dir(tmp_path):
    "Before: save_model(parent, overwrite=True) deleted the run's checkpoints silently. Now: refused."
    s = tiny_setup("gpt2")
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path / "run" / "outputs"),
                   device="cpu")
    (tmp_path / "run" / "outputs" / "checkpoint-3").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="holds the run's output_dir"):
        u.save_model(str(tmp_path / "run"), overwrite=True)
    assert (tmp_path / "run" / "outputs" / "checkpoint-3").is_dir()


def test_save_model_refuses_a_folder_with_other_files_unless_forced(tmp_path):
    "Before: overwrite=True deleted the user's own files beside the model. Now: refused unless force=True."
    u, _ = unlearner(tmp_path)
    saved = u.save_model(str(tmp_path / "model"))
    (saved / "my_notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"not part of a saved model \(my_notes.txt\)"):
        u.save_model(str(saved), overwrite=True)
    assert (saved / "my_notes.txt").read_text() == "keep me"
    u.save_model(str(saved), overwrite=True, force=True)
    assert not (saved / "my_notes.txt").exists()
    u.save_model(str(saved), overwrite=True)                      # an earlier saved model alone is replaced as before


def test_saved_folder_has_the_usual_permissions(tmp_path):
    "Before: the saved folder kept mkdtemp's 0700 (other users could not read it). Now: 0777 minus the umask."
    u, _ = unlearner(tmp_path)
    saved = u.save_model(str(tmp_path / "model"))
    mask = os.umask(0); os.umask(mask)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o777 & ~mask


def test_save_model_to_the_working_directory_is_a_clear_error(tmp_path, monkeypatch):
    "Before: save_model('.') failed with 'Device or resource busy'. Now: a ValueError that says what to do."
    u, _ = unlearner(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="cannot replace the working directory"):
        u.save_model(".", overwrite=True)


# ------------------------------------------------------------------------------------------ 3-4 tokenizer and model
def test_model_folder_without_tokenizer_files_is_refused(tmp_path):
    "Before: a one-token tokenizer loaded, every example became [EOS], perplexity NaN. Now: refused."
    s = tiny_setup("gpt2")
    s.model.save_pretrained(tmp_path / "m")
    with pytest.raises(ValueError, match="no usable vocabulary"):
        load_model(str(tmp_path / "m"), device="cpu")


def test_tokenizer_with_ids_beyond_the_embedding_is_refused():
    "Before: `index out of range in self` deep in torch at the first forward pass. Now: refused, naming both sizes."
    s = tiny_setup("gpt2")
    small = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_positions=64, n_embd=16, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="ids up to 399 but the model's embedding has only 300 rows"):
        Unlearning(method="grad_ascent", model=small, tokenizer=s.tokenizer, device="cpu")


def test_examples_longer_than_the_models_positions_are_refused(tmp_path):
    "Before: max_length above n_positions crashed in torch at training. Now: load_data names max_length and positions."
    u, s = unlearner(tmp_path)
    long = [{"question": "Who?", "answer": " ".join(["baker"] * 400)}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="longer than the model's 256 positions.*max_length=256 or less"):
            u.load_data(forget_data=long, max_length=512)


def test_retain_model_with_another_vocabulary_is_refused(tmp_path):
    "Before: a retain model with another tokenizer gave a meaningless forget quality. Now: refused, naming both."
    u, s = unlearner(tmp_path)
    u.load_data(forget_data=s.forget, max_length=128)
    other = train_tokenizer(corpus(synthetic_qa(3, seed=9)) + ["Zebra quartz"], vocab_size=500)
    retain = GPT2LMHeadModel(GPT2Config(vocab_size=len(other), n_positions=256, n_embd=16, n_layer=1, n_head=2))
    retain.save_pretrained(tmp_path / "retain"); other.save_pretrained(tmp_path / "retain")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="retain_model=: "):
            u.evaluate(["forget_quality"], retain_model=str(tmp_path / "retain"))


# ---------------------------------------------------------------------------------------------- 5-6 runs and reuse
def test_interrupted_run_keeps_the_baseline_and_is_recorded(tmp_path):
    "Before: after a Ctrl-C the next evaluate() overwrote the baseline; the audit did not know. Now: both right."
    u, s = unlearner(tmp_path)
    u.load_data(forget_data=s.forget, max_length=128)
    before = u.evaluate(["perplexity"])["perplexity"]
    with pytest.raises(KeyboardInterrupt):
        u.run(batch_size=4, learning_rate=1e-2, num_epochs=2, callbacks=[StopAtStep(1)], **QUIET)
    u.evaluate(["perplexity"])
    assert u.results["before"]["perplexity"] == before and "after" in u.results
    assert u.results["after"]["perplexity"]["forget"] != before["forget"]
    run = u.audit_record()["runs"][0]
    assert (run["status"], run["steps"]) == ("interrupted", 1)


def test_two_runs_are_both_in_history_and_audit(tmp_path):
    "Before: after two run() calls history, training and audit described only the last. Now: every run is recorded."
    u, s = unlearner(tmp_path)
    u.load_data(forget_data=s.forget, max_length=128)
    u.run(batch_size=4, learning_rate=1e-3, num_epochs=1, **QUIET)
    u.run(batch_size=4, learning_rate=1e-3, num_epochs=2, **QUIET)
    audit = u.audit_record()
    assert [(r["status"], r["steps"]) for r in audit["runs"]] == [("finished", 2), ("finished", 4)]
    assert len(u.history) == 6 and [h["run"] for h in u.history] == [0, 0, 1, 1, 1, 1]


def test_a_model_object_trained_in_place_warns_when_reused(tmp_path):
    "Before: a second Unlearning on the same object silently started from the first one's result. Now: a warning."
    u, s = unlearner(tmp_path)
    u.load_data(forget_data=s.forget, max_length=128)
    u.run(batch_size=4, learning_rate=1e-3, num_epochs=1, **QUIET)
    with pytest.warns(UserWarning, match="already trained in place"):
        Unlearning(method="grad_diff", model=s.model, tokenizer=s.tokenizer, device="cpu")


# --------------------------------------------------------------------------------------------------- 7 overlaps
def test_forget_records_in_retain_are_warned_with_counts(tmp_path):
    "Before: the same records in forget and retain were accepted silently. Now: a warning with the count."
    u, s = unlearner(tmp_path, "grad_diff")
    with pytest.warns(UserWarning, match="share 3 of the 8 forget records"):
        u.load_data(forget_data=s.forget, retain_data=s.retain + s.forget[:3], max_length=128)


def test_holdout_equal_to_forget_is_refused_for_mia(tmp_path):
    "Before: holdout = forget gave every MIA 0.5 ('perfect unlearning'). Now: refused for the MIA-based metrics."
    u, s = unlearner(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.load_data(forget_data=s.forget, holdout_data=s.forget, max_length=128)
    with pytest.raises(ValueError, match="holdout_data shares 8 of its 8 records with forget_data"):
        u.evaluate(["mia"])
    assert u.evaluate(["perplexity"])["perplexity"]["forget"] > 0    # other metrics still work


def test_duplicate_forget_records_are_warned(tmp_path):
    "Before: repeated forget records were accepted silently. Now: a warning naming them."
    u, s = unlearner(tmp_path)
    with pytest.warns(UserWarning, match="forget_data: 2 records repeat an earlier record"):
        u.load_data(forget_data=s.forget + s.forget[:2], max_length=128)


# ------------------------------------------------------------------------------------------------- 8 diagnosis
def test_destroyed_model_without_retain_data_is_not_healthy(tmp_path):
    "Before: forget perplexity 1.3 -> 4e6 with no retain data read 'Looks healthy'. Now: it says it cannot tell why."
    u, s = unlearner(tmp_path, finetuned=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.load_data(forget_data=s.forget, max_length=128)
        u.evaluate(["perplexity"])
        u.run(batch_size=4, learning_rate=5e-3, num_epochs=10, **QUIET)
        u.evaluate(["perplexity"])
    d = u.diagnose()
    assert "ok" not in d.symptoms and d.symptoms[0] == "utility_unknown"
    assert "nothing shows whether the model still works" in str(d)


def test_weak_run_with_utility_loss_gets_one_consistent_diagnosis():
    "Before: 'doesn't forget enough' and 'forgets too much' at once, with opposite learning-rate advice. Now: one."
    from unlearun.diagnostics import diagnose
    d = diagnose({"model_utility": 0.6, "rouge": {"forget": {"rougeL_recall": 0.9}}},
                 {"model_utility": 0.42, "rouge": {"forget": {"rougeL_recall": 0.85}}},
                 "grad_diff", {"gamma": 1.0, "alpha": 1.0, "retain_loss_type": "NLL"}, {"learning_rate": 1e-5, "num_epochs": 2})
    assert d.symptoms == ["not_selective"]
    assert "learning_rate" not in d.suggestion and d.suggestion["alpha"] > 1.0


def test_model_that_never_knew_the_forget_set_is_not_told_to_forget_harder():
    "Before: forget perplexity 402 before unlearning got 'increase gamma / the learning rate'. Now: nothing to forget."
    from unlearun.diagnostics import diagnose
    d = diagnose({"perplexity": {"forget": 402.0, "retain": 380.0}}, {"perplexity": {"forget": 420.0, "retain": 385.0}},
                 "grad_diff", {"gamma": 1.0, "alpha": 1.0}, {"learning_rate": 1e-5, "num_epochs": 2})
    assert d.symptoms == ["nothing_to_forget"] and d.suggestion == {}


def test_demo_goal_is_not_met_when_the_original_never_learned():
    "Before: the demo said 'Goal met' when the original's forget ROUGE-L was 0.083. Now: it cannot be judged."
    from unlearun.demo import goal_check
    g = goal_check({"rouge/forget/rougeL_recall": 0.03, "model_utility": 0.5},
                   {"rouge/forget/rougeL_recall": 0.083, "model_utility": 0.5})
    assert g["met"] is None and "never learned" in g["reason"]


# ------------------------------------------------------------------------------------------ 9 truncation, specials
def test_answers_cut_to_almost_nothing_are_counted_with_the_needed_max_length():
    "Before: an answer cut to one token only counted as 'truncated'. Now: how many kept < 3 tokens, and the fix."
    s = tiny_setup("gpt2")
    prompt = sum(t == -100 for t in load_qa(s.forget[:1], s.tokenizer).examples[0]["labels"])
    with pytest.warns(UserWarning, match=r"kept fewer than 3 answer tokens.*max_length=\d+ keeps every answer whole"):
        load_qa(s.forget[:1], s.tokenizer, "forget_data", max_length=prompt + 1)


def test_special_token_written_in_an_answer_is_refused():
    "Before: '<|endoftext|>' inside an answer became an EOS in the middle of the target. Now: refused, naming it."
    s = tiny_setup("gpt2")
    recs = [{"question": "Q?", "answer": "A first part.<|endoftext|> A second part."}]
    with pytest.raises(ValueError, match=r"forget_data\[0\]: field 'answer' contains the tokenizer's special token"):
        load_qa(recs, s.tokenizer, "forget_data")


# --------------------------------------------------------------------------------------------- 11 clear errors
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    "Before: an AssertionError ('Torch not compiled with CUDA enabled'). Now: a ValueError naming device."
    s = tiny_setup("gpt2")
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
        Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, device="cuda")


def test_torch_dtype_by_name_works_for_a_model_object():
    "Before: torch_dtype='bfloat16' with a model object failed with 'Invalid device string'. Now: it converts."
    s = tiny_setup("gpt2")
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, device="cpu", torch_dtype="bfloat16")
    assert u.model.dtype == torch.bfloat16


def test_model_path_with_tilde_is_expanded(tiny_folder, tmp_path, monkeypatch):
    "Before: model='~/folder' was taken for a hub id. Now: `~` is the home folder."
    model_dir, _ = tiny_folder
    monkeypatch.setenv("HOME", str(model_dir.parent))
    u = Unlearning(method="grad_ascent", model=f"~/{model_dir.name}", device="cpu", output_dir=str(tmp_path / "o"))
    assert len(u.tokenizer) == 400


def test_missing_retain_model_folder_is_a_clear_error(tmp_path):
    "Before: retain_model='/missing' failed as an invalid hub id after the passes. Now: FileNotFoundError, at once."
    u, s = unlearner(tmp_path)
    u.load_data(forget_data=s.forget, max_length=128)
    with pytest.raises(FileNotFoundError, match="retain_model=: model folder or file not found: /missing"):
        u.evaluate(["forget_quality"], retain_model="/missing/retain")


def test_numpy_numbers_are_accepted(tmp_path):
    "Before: numpy scalars for batch_size / learning_rate were refused with a self-contradicting message."
    u, s = unlearner(tmp_path)
    u.load_data(forget_data=s.forget, max_length=np.int64(128))
    u.run(batch_size=np.int64(4), learning_rate=np.float64(1e-3), num_epochs=np.float32(1), **QUIET)
    assert u.runs[-1]["steps"] == 2 and isinstance(u.runs[-1]["batch_size"], int)
    json.dumps(u.audit_record())                                # plain numbers in the audit


@pytest.mark.parametrize("make, message", [
    (lambda s, d: Unlearning("grad_diff", s.model, tokenizer=s.tokenizer, gamma="1.0"), "gamma must be a number, got str '1.0'"),
    (lambda s, d: Unlearning("grad_diff", s.model, tokenizer=s.tokenizer, gamma=0, alpha=0), "training would change nothing"),
    (lambda s, d: Unlearning("grad_ascent", s.model, tokenizer=s.tokenizer, device="cpu").load_data(s.forget, max_length="64"),
     "max_length must be a number, got str '64'"),
    (lambda s, d: Unlearning("grad_ascent", s.model, tokenizer=s.tokenizer, output_dir=str(d / "file")), "is a file; expected a folder"),
])
def test_bad_arguments_name_the_argument(make, message, tmp_path):
    "Before: accepted, or refused with an unrelated message. Now: a ValueError naming the argument."
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make(tiny_setup("gpt2"), tmp_path)


@pytest.mark.parametrize("call, message", [
    (lambda u: u.run(output_dir="elsewhere"), r"run\(\): output_dir is set by Unlearning\(output_dir=...\)"),
    (lambda u: u.run(seed=1), r"run\(\): seed is set by Unlearning\(seed=...\)"),
    (lambda u: u.evaluate(["perplexity"], batch_size=0), "batch_size must be > 0, got 0"),
    (lambda u: u.evaluate(metrics=[]), "metrics is empty"),
])
def test_bad_run_and_evaluate_arguments_name_the_argument(call, message, tmp_path):
    "Before: TypeError about duplicate keywords, a crash in the data loader, or an empty result. Now: named."
    u, s = unlearner(tmp_path)
    u.load_data(forget_data=s.forget, max_length=128)
    with pytest.raises(ValueError, match=message):
        call(u)


def test_pretty_printed_json_object_is_explained(tmp_path):
    "Before: 'line 1: invalid JSON'. Now: the file holds one JSON object, and which field holds the records."
    s = tiny_setup("gpt2")
    p = tmp_path / "forget.json"
    p.write_text(json.dumps({"data": s.forget}, indent=2))
    with pytest.raises(TypeError, match="holds one JSON object over .* Its field 'data' holds a list"):
        load_qa(str(p), s.tokenizer, "forget_data")


def test_folder_named_like_a_json_file_is_a_clear_error(tmp_path):
    "Before: IsADirectoryError from deep inside. Now: ValueError naming the set and the folder."
    s = tiny_setup("gpt2")
    (tmp_path / "x.json").mkdir()
    with pytest.raises(ValueError, match="forget_data: .*x.json is a folder"):
        load_qa(str(tmp_path / "x.json"), s.tokenizer, "forget_data")


def test_cli_eval_of_an_adapter_only_folder_is_a_clear_error(tmp_path, qa_files):
    "Before: a hub lookup of the base model failed with an unrelated error. Now: says it is only an adapter."
    forget, _ = qa_files
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "gpt2", "peft_type": "LORA"}))
    rc, _, err = run_cli(["eval", "--model", tmp_path / "adapter", "--forget", forget, "--device", "cpu"])
    assert rc == 2 and "holds only a LoRA adapter" in err, err


# --------------------------------------------------------------------------------------------------------- 12 CLI
@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "num_epochs must be > 0"),
    (["--lr", "-1"], "learning_rate must be > 0"),
    (["--gamma", "abc"], "gamma must be a number, got str 'abc'"),
    (["--lr-scheduler-type", "bogus"], "training arguments:"),
    (["--max-length", "1"], "--max-length must be at least 2"),
])
def test_cli_run_checks_settings_before_loading_the_model(flags, message, qa_files, tmp_path):
    "Before: some settings failed only after the model was loaded and evaluated. Now: at once, exit code 2."
    forget, retain = qa_files
    rc, _, err = run_cli(["run", "--method", "grad_diff", "--model", "not-downloaded-model", "--forget", forget,
                          "--retain", retain, "--output-dir", tmp_path / "o", *flags])
    assert rc == 2 and message in err, err          # the model name was never looked up


def test_cli_eval_checks_the_output_path_before_loading_the_model(qa_files, tmp_path):
    "Before: an unwritable --output failed after the whole evaluation. Now: at once."
    forget, _ = qa_files
    rc, _, err = run_cli(["eval", "--model", "not-downloaded-model", "--forget", forget, "--output", forget / "e.json"])
    assert rc == 2 and "--output:" in err and "cannot be written" in err, err


def test_cli_eval_output_is_valid_json(tiny_folder, qa_files, tmp_path):
    "Before: NaN metrics were written as the literal NaN (not JSON). Now: null."
    model_dir, _ = tiny_folder
    forget, _ = qa_files
    rc, _, err = run_cli(["eval", "--model", model_dir, "--forget", forget, "--metrics", "perplexity", "forget_quality",
                          "--device", "cpu", "--output", tmp_path / "e.json", "--no-progress"])
    assert rc == 0, err
    res = strict_json((tmp_path / "e.json").read_text())
    assert res["forget_quality"] is None and res["perplexity"]["forget"] > 1
