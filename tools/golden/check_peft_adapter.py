#!/usr/bin/env python3
"""Loads adapter directories written by finetune4j with the real PEFT and checks them.

For each directory given (default: every directory under core/target/peft-interop/, which
finetune4j.peft.PeftInteropTest#writesAdaptersForPython writes), it:
  1. loads core/src/test/resources/finetune4j/peft/tiny-llama with LlamaForCausalLM.from_pretrained
     and the adapter with PeftModel.from_pretrained, failing on any warning (PEFT warns about
     unknown config keys and about missing / unexpected adapter keys);
  2. checks that PEFT's adapter state dict (get_peft_model_state_dict) has exactly the file's keys,
     shapes and values (bit for bit, in float32);
  3. checks every wrapped module's r and scaling against expected.json beside the adapter
     (written by the Java test from LoraConfig.rank / LoraConfig.scaling), so both sides agree on
     which modules are adapted and how (rank_pattern, alpha_pattern, rsLoRA);
  4. runs a forward pass on fixed tokens: the logits must be finite and must differ from the base
     model's (the adapter is active), and merge_and_unload() must give the same logits within 1e-5.
Exit status 0 when every directory passes, 1 otherwise; one line per directory.

Environment: the reference venv (/work/venv: torch 2.13 CPU, transformers 5.17, peft 0.21), or
  python -m venv v && v/bin/pip install torch transformers==5.17.0 peft==0.21.0 safetensors
Run from the repository root, after the Java test has written the adapters:
  ./mvnw -q -pl core test -Dtest=PeftInteropTest
  /work/venv/bin/python tools/golden/check_peft_adapter.py [ADAPTER_DIR ...]
"""
import glob
import json
import os
import sys
import warnings

import torch
from peft import PeftModel, get_peft_model_state_dict
from safetensors.torch import load_file
from transformers import LlamaForCausalLM

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BASE = os.path.join(ROOT, "core", "src", "test", "resources", "finetune4j", "peft", "tiny-llama")


def check(adapter_dir):
    tokens = torch.tensor([[1, 5, 9, 33, 2, 17, 63, 0]])
    base = LlamaForCausalLM.from_pretrained(BASE)
    base.eval()
    with torch.no_grad():
        base_logits = base(tokens).logits.clone()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(base, adapter_dir)
    relevant = [str(w.message) for w in caught
                if "Unable to fetch remote file" not in str(w.message)
                and "Could not find a config file" not in str(w.message)]
    if relevant:
        raise AssertionError("PEFT warned: " + " | ".join(relevant))

    file_tensors = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    state = get_peft_model_state_dict(model)
    if set(state) != set(file_tensors):
        raise AssertionError("keys differ: only in PEFT %s, only in file %s"
                             % (sorted(set(state) - set(file_tensors)), sorted(set(file_tensors) - set(state))))
    for k, v in file_tensors.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise AssertionError("%s: PEFT shape %s, file %s" % (k, tuple(state[k].shape), tuple(v.shape)))
        if not torch.equal(state[k].float(), v.float()):
            raise AssertionError("%s: values differ after loading" % k)

    expected = json.load(open(os.path.join(os.path.dirname(adapter_dir.rstrip("/")),
                                           os.path.basename(adapter_dir.rstrip("/")) + ".expected.json")))
    from peft.tuners.lora import LoraLayer
    got = {n: m for n, m in model.base_model.model.named_modules() if isinstance(m, LoraLayer)}
    if set(got) != set(expected):
        raise AssertionError("wrapped modules differ: PEFT %s, Java %s" % (sorted(got), sorted(expected)))
    for n, e in expected.items():
        if got[n].r["default"] != e["r"] or got[n].scaling["default"] != e["scaling"]:
            raise AssertionError("%s: PEFT r=%s scaling=%r, Java r=%s scaling=%r"
                                 % (n, got[n].r["default"], got[n].scaling["default"], e["r"], e["scaling"]))

    model.eval()
    with torch.no_grad():
        logits = model(tokens).logits.clone()
        if not torch.isfinite(logits).all():
            raise AssertionError("non-finite logits")
        if torch.allclose(logits, base_logits):
            raise AssertionError("the adapter does not change the output")
        merged = model.merge_and_unload()(tokens).logits
    diff = (merged - logits).abs().max().item()
    if diff > 1e-5:
        raise AssertionError("merged differs from unmerged by %g" % diff)
    return "%d tensors, %d modules, max|merged-unmerged| %.1e" % (len(file_tensors), len(expected), diff)


def main():
    dirs = sys.argv[1:] or sorted(d for d in glob.glob(os.path.join(ROOT, "core", "target", "peft-interop", "*"))
                                  if os.path.isdir(d))
    if not dirs:
        print("no adapter directories (run the Java test first: ./mvnw -q -pl core test -Dtest=PeftInteropTest)")
        return 1
    failed = 0
    for d in dirs:
        try:
            print("OK  ", d, "-", check(d))
        except Exception as e:  # one line per directory, then the exit status says it all
            failed += 1
            print("FAIL", d, "-", e)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
