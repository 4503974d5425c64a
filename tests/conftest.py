import json
import pytest
from unlearun.test_utils import tiny_setup


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
