import json, os
import pytest
import torch
from unlearun.test_utils import tiny_setup


def pytest_configure(config):
    """Under `pytest -n N` each worker gets its share of the cores. When every worker's torch starts one thread per
    core, the threads outnumber the cores N to one, and on 2 cores a test that takes 27 s alone took 374 s beside
    another."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)   # and the tests' subprocesses


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory):
    "A tiny GPT-2 that knows the synthetic facts, saved as a local model folder, with its forget/retain sets."
    s = tiny_setup("gpt2", finetuned=True)
    d = tmp_path_factory.mktemp("tiny_gpt2")
    s.model.save_pretrained(d)
    s.tokenizer.save_pretrained(d)
    return d, s


@pytest.fixture
def qa_files(tmp_path, tiny_folder):
    "forget.json as a JSON array and retain.json as JSON Lines, like users' files."
    _, s = tiny_folder
    forget, retain = tmp_path / "forget.json", tmp_path / "retain.json"
    forget.write_text(json.dumps([{"question": r["question"], "answer": r["answer"]} for r in s.forget]))
    retain.write_text("\n".join(json.dumps({"question": r["question"], "answer": r["answer"]}) for r in s.retain))
    return forget, retain
