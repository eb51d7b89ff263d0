"""Cross-check of QuantizedStoriesTest: transformers' LlamaForCausalLM on stories260K (hf layout,
../shared/data/models/stories260K/hf) with every linear layer but lm_head replaced by its NF4 + double
quantization round trip (blocks of 64), computed with tools/golden/nf4_reference.py's bitsandbytes
algorithm. Prints the first-step logit figures the Java test asserts (max |logit|, max |delta|, rms
delta, KL(dense || 4-bit)). Writes nothing.

Environment: the venv of nf4_reference.py. Run from the repository root:
    /work/venv/bin/python tools/golden/nf4_stories260k_check.py
Measured (torch 2.13): max|logit| 17.7994, max|delta| 3.5412, rms 1.8530, KL 0.002744.
"""
import importlib.util
import os

import numpy as np
import torch
spec = importlib.util.spec_from_file_location("r", os.path.join(os.path.dirname(os.path.abspath(__file__)), "nf4_reference.py"))
r = importlib.util.module_from_spec(spec); spec.loader.exec_module(r)
from transformers import LlamaForCausalLM, AutoTokenizer
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data", "models", "stories260K", "hf")
m = LlamaForCausalLM.from_pretrained(d, torch_dtype=torch.float32); m.eval()
tok = AutoTokenizer.from_pretrained(d)
ids = tok("Once upon a time", return_tensors="pt").input_ids
print(ids)
with torch.no_grad(): ld = m(ids).logits[0, -1].clone()
dyn = r.create_dynamic_map().numpy().astype(np.float32)
for name, mod in m.named_modules():
    if isinstance(mod, torch.nn.Linear) and name != "lm_head":
        f = mod.weight.detach().numpy().astype(np.float32).reshape(-1)
        packed, absmax, codes = r.quantize4(f, "nf4", 64)
        q, a2, off, _ = r.double_quant(absmax, dyn)
        sc = r.dequant_scales(q, a2, off, dyn)
        deq = r.dequant4(codes, sc, 64, "nf4")
        mod.weight.data = torch.from_numpy(deq.reshape(mod.weight.shape))
with torch.no_grad(): lq = m(ids).logits[0, -1]
dd = lq - ld
print("max|logit|", ld.abs().max().item(), "max|d|", dd.abs().max().item(), "rms", dd.pow(2).mean().sqrt().item())
print("KL", torch.nn.functional.kl_div(lq.log_softmax(-1), ld.log_softmax(-1), log_target=True, reduction="sum").item())
