"""Training goldens from the REAL Hugging Face stack: loss and the gradient of every parameter
(full fine-tuning) of one labelled batch through transformers' LlamaForCausalLM / Qwen2ForCausalLM,
for the Java backward pass (core/src/test/java/finetune4j/model/TrainGoldenTest.java).

Environment: the reference venv (torch 2.13 CPU, transformers 5.17, safetensors 0.8):
    python -m venv /work/venv && /work/venv/bin/pip install --no-index --find-links /opt/pypi/files \
        torch transformers safetensors numpy
Rerun from the repository root:
    /work/venv/bin/python tools/golden/train_reference.py
Deterministic (no randomness: the models are the committed tiny ones); rerunning rewrites
identical files.

Reads the committed tiny models made by tools/golden/llama_reference.py:
    core/src/test/resources/tiny-models/{llama-gqa-f32, qwen2-bias-f16, llama-bias-bf16}
and loads each with from_pretrained(dtype=float32, attn_implementation="eager") (BF16/F16 weights
are upcast exactly; everything runs in float32, the numerics finetune4j implements). First it
checks that transformers reproduces the committed forward goldens (golden/llama/reference.safetensors),
then runs ONE batch, B=2, T=12, right-padded, with labels:
    row 0: SEQ_A, labels = ids with the first 4 positions (a "prompt") set to -100
    row 1: SEQ_B (7 tokens) + 5 padding ids (0), attention_mask 0 there, labels -100 there
model(input_ids, attention_mask, labels=labels).loss is transformers' causal-LM loss: labels
shifted inside, mean over the non-ignored targets. loss.backward() gives every gradient (a tied
lm_head's gradient lands in model.embed_tokens.weight, the only name named_parameters() lists).

Writes (small, committed):
    core/src/test/resources/golden/train/train_reference.safetensors
        "<model>.loss" [1], "<model>.grad.<parameter name>" for every parameter (F32),
        saved with safetensors.torch.save_file
    core/src/test/resources/golden/train/manifest.json
        inputs (ids, labels, attention mask), target count, loss, versions
"""
import json
import os

import safetensors.torch
import torch
import transformers
from transformers import AutoModelForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RES = os.path.join(ROOT, "core", "src", "test", "resources")
MODELS = ["llama-gqa-f32", "qwen2-bias-f16", "llama-bias-bf16"]
SEQ_A = [1, 17, 200, 45, 3, 99, 128, 7, 255, 64, 31, 88]
SEQ_B = [1, 250, 12, 12, 190, 4, 77]
T = len(SEQ_A)
PAD = 0
PROMPT = 4

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def batch():
    ids = [SEQ_A, SEQ_B + [PAD] * (T - len(SEQ_B))]
    mask = [[1] * T, [1] * len(SEQ_B) + [0] * (T - len(SEQ_B))]
    labels = [[-100] * PROMPT + SEQ_A[PROMPT:], SEQ_B + [-100] * (T - len(SEQ_B))]
    return ids, mask, labels


def main():
    forward_golden = safetensors.torch.load_file(os.path.join(RES, "golden", "llama", "reference.safetensors"))
    ids, mask, labels = batch()
    ids_t, mask_t, labels_t = torch.tensor(ids), torch.tensor(mask), torch.tensor(labels)
    targets = int((labels_t[:, 1:] != -100).sum())
    tensors = {}
    manifest = {"generator": "tools/golden/train_reference.py", "torch": torch.__version__,
                "transformers": transformers.__version__, "safetensors": safetensors.__version__,
                "ids": ids, "attention_mask": mask, "labels": labels, "targets": targets, "models": {}}
    for name in MODELS:
        model = AutoModelForCausalLM.from_pretrained(os.path.join(RES, "tiny-models", name), dtype=torch.float32,
                                                     attn_implementation="eager")
        model.eval()  # no dropout (the configs have none); gradients still flow
        with torch.no_grad():
            logits = model(torch.tensor([SEQ_A])).logits[0]
        want = forward_golden["%s.a.logits" % name]
        err = float((logits - want).abs().max())
        assert err < 1e-4, "%s: transformers differs from the committed forward golden by %g" % (name, err)

        model.zero_grad()
        out = model(input_ids=ids_t, attention_mask=mask_t, labels=labels_t)
        out.loss.backward()
        tensors["%s.loss" % name] = out.loss.detach().reshape(1).contiguous()
        names = []
        for pname, p in model.named_parameters():
            tensors["%s.grad.%s" % (name, pname)] = p.grad.detach().contiguous()
            names.append(pname)
        manifest["models"][name] = {"loss": float(out.loss.detach()), "parameters": names,
                                    "forward_check_max_abs_err": err}
        print("%s: loss %.7f over %d targets, %d parameters, forward check %.2g" % (
            name, float(out.loss.detach()), targets, len(names), err))
    out_dir = os.path.join(RES, "golden", "train")
    os.makedirs(out_dir, exist_ok=True)
    safetensors.torch.save_file(tensors, os.path.join(out_dir, "train_reference.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
