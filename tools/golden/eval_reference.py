"""Reference validation loss of stories260K on a small committed dataset, from the REAL Hugging Face
stack, for the `eval` command (cli/src/test/java/finetune4j/cli/TrainCommandTest.java, which runs
`eval --model <stories260K> --data <dataset> --json` and compares the loss within 1e-4 relative).

Environment: the reference venv (torch 2.13 CPU, transformers 5.17):
    python -m venv /work/venv && /work/venv/bin/pip install --no-index --find-links /opt/pypi/files \
        torch transformers safetensors numpy
Rerun from the repository root (needs ../shared/data/models/stories260K/hf, which is not in the
repository):
    /work/venv/bin/python tools/golden/eval_reference.py
Deterministic: rerunning rewrites the same file.

Input (committed, written by hand for this test; not taken from ../shared):
    core/src/test/resources/golden/eval/stories_eval.jsonl   10 records, {"text"} and {"prompt", "completion"}
Output (committed):
    core/src/test/resources/golden/eval/stories260k_eval.json
        {"loss": mean over all target tokens, "tokens": target count, "perplexity", "per_record": [...],
         "ids"/"labels" per record, versions}

Definition (the one finetune4j's `train` and `eval` use): tokenization as TRL's SFTTrainer does it —
ids = AutoTokenizer(text) (the Llama tokenizer adds BOS) + [eos_token_id]; for prompt/completion,
ids = tokenizer(prompt + completion) + [EOS] with the first len(tokenizer(prompt)) labels -100 (TRL's
completion mask; TRL appends the EOS as text, which this tokenizer maps to the same single id).
All records go through LlamaForCausalLM in ONE right-padded batch with an attention mask and labels
(-100 on padding): transformers' causal-LM loss is then the mean over every non-ignored next-token
target of the dataset, which is what `eval` reports.
"""
import json
import math
import os

import torch
import transformers
from transformers import AutoTokenizer, LlamaForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "models", "stories260K", "hf"))
DATA = os.path.join(ROOT, "core", "src", "test", "resources", "golden", "eval", "stories_eval.jsonl")
OUT = os.path.join(ROOT, "core", "src", "test", "resources", "golden", "eval", "stories260k_eval.json")

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def main():
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    eos = tok.eos_token_id
    rows = []
    with open(DATA, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if "text" in r:
                ids = tok(r["text"]).input_ids + [eos]
                labels = list(ids)
            else:
                n = len(tok(r["prompt"]).input_ids)
                ids = tok(r["prompt"] + r["completion"]).input_ids + [eos]
                labels = [-100] * n + ids[n:]
            assert ids[0] == tok.bos_token_id
            rows.append((ids, labels))
    t = max(len(i) for i, _ in rows)
    ids = torch.tensor([i + [eos] * (t - len(i)) for i, _ in rows])
    mask = torch.tensor([[1] * len(i) + [0] * (t - len(i)) for i, _ in rows])
    labels = torch.tensor([l + [-100] * (t - len(l)) for _, l in rows])
    with torch.no_grad():
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss.item()
        per = []
        for i, l in rows:
            per.append(model(input_ids=torch.tensor([i]), labels=torch.tensor([l])).loss.item())
    n = int((labels[:, 1:] != -100).sum())
    out = {
        "generator": "tools/golden/eval_reference.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "model": "../shared/data/models/stories260K/hf",
        "data": "core/src/test/resources/golden/eval/stories_eval.jsonl",
        "loss": loss, "tokens": n, "perplexity": math.exp(loss),
        "per_record_loss": per,
        "ids": [i for i, _ in rows], "labels": [l for _, l in rows],
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps({k: out[k] for k in ("loss", "tokens", "perplexity")}))


if __name__ == "__main__":
    main()
