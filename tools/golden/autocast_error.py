#!/usr/bin/env python3
"""How far PyTorch's own bf16 autocast moves a model's logits from FP32: the yardstick for the
tolerances of native/src/test/java/finetune4j/engine/kernels/onednn/NativeModelTest.java.

What it makes
-------------
Nothing is written: it prints, per model, max|Δ| and rms(Δ) of the logits of
torch.autocast("cpu", dtype=torch.bfloat16) against FP32, both divided by rms(logits), for 40
random token ids (torch.Generator seed 3). The figures are quoted in NativeModelTest's Javadoc
(measured with torch 2.13 / transformers 5.17):

    llama-gqa-f32     max/rms 0.0275  rms(Δ)/rms 0.0058
    qwen2-bias-f16    max/rms 0.0333  rms(Δ)/rms 0.0057
    llama3-rope-bf16  max/rms 0.0262  rms(Δ)/rms 0.0050
    llama-bias-bf16   max/rms 0.0169  rms(Δ)/rms 0.0042
    stories260K       max/rms 0.0176  rms(Δ)/rms 0.0037

Environment: the reference venv (torch, transformers), e.g.
    python -m venv venv && venv/bin/pip install torch transformers safetensors
Run from the repository root:
    venv/bin/python tools/golden/autocast_error.py core/src/test/resources/tiny-models/* \
        ../shared/data/models/stories260K/hf
"""
import sys

import torch
from transformers import AutoModelForCausalLM


def main(paths):
    for path in paths:
        m = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        g = torch.Generator().manual_seed(3)
        ids = torch.randint(1, m.config.vocab_size, (1, 40), generator=g)
        with torch.no_grad():
            want = m(ids).logits.float()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                got = m(ids).logits.float()
        d = (got - want).abs()
        rms = want.pow(2).mean().sqrt().item()
        print("%-60s max/rms %.4f  rms(Δ)/rms %.4f" % (path, d.max().item() / rms, d.pow(2).mean().sqrt().item() / rms))


if __name__ == "__main__":
    main(sys.argv[1:])
