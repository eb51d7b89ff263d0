"""Goldens for finetune4j's LoRA / rsLoRA / DoRA layers from the REAL Hugging Face stack
(transformers LlamaForCausalLM + peft get_peft_model), on the committed tiny model
core/src/test/resources/tiny-models/llama-bias-bf16 (q/k/v/o and MLP biases, head_dim 16 != C/H,
tied embeddings; BF16 weights upcast to float32 so the pass runs in FP32, as finetune4j does).

Environment: the venv with torch 2.13 (CPU), transformers 5.17, peft 0.21, safetensors 0.8:
    python -m venv venv && venv/bin/pip install --no-index --find-links /opt/pypi/files \
        torch transformers peft safetensors numpy
Rerun from the repository root:  /work/venv/bin/python tools/golden/lora_reference.py
Deterministic (fixed seeds, one thread); rerunning rewrites identical files.

Writes (small, committed):
  core/src/test/resources/golden/lora/reference.safetensors   F32 tensors named below
  core/src/test/resources/golden/lora/manifest.json           configs, ids/labels, losses, counts, versions

For each variant V (lora: r=4 alpha=8 on ["q_proj","v_proj"]; rslora: all-linear, r=4, alpha=6,
use_rslora, rank_pattern {"down_proj": 2}, alpha_pattern {"model.layers.1.self_attn.q_proj": 3};
dora: use_dora, regex target ".*\\.(q_proj|v_proj|o_proj|down_proj)", r=4, alpha=8), dropout 0:
  V.init.<key>          DoRA only: PEFT's initial lora_magnitude_vector (row norms of W, B = 0)
  V.param.<key>         the fixed nonzero values set before the pass (A, B ~ 0.15·N(0,1); DoRA m =
                        m_init·(1 + 0.1·N(0,1)))
  V.logits              (2, 8, 256) logits of the batch
  V.grad.<key>          d loss / d param for every trainable parameter (loss = HF causal-LM loss:
                        mean CE over non-ignored shifted labels)
  V.layer.{x,g,y,dx}    one lora.Linear (model.layers.0.self_attn.q_proj) alone: y = layer(x),
  V.layer.grad.<key>    L = sum(y * g), gradients of x and of the layer's A, B (and m)
  V.drop.{x,g,y,dx,keep} the same layer in training mode with lora_dropout p = 0.25 whose mask is
  V.drop.grad.<key>     finetune4j's counter-based mask (re-implemented below, seed/key in the
                        manifest), so dropout semantics (LoRA branch; DoRA's base term on the
                        dropped-out x) are checked against PEFT's own code
<key> is the PEFT adapter-file key without the "base_model.model." prefix
(e.g. model.layers.0.self_attn.q_proj.lora_A.weight, ...q_proj.lora_magnitude_vector).
The manifest also records PEFT's get_nb_trainable_parameters() for each variant and for r=8 on
q_proj,v_proj of tiny-models/llama-gqa-f32.

Adapter directories PEFT itself saved (core/src/test/resources/finetune4j/peft/<name>, written by
another script for the file-format tests; read here, not modified): each is loaded with
PeftModel.from_pretrained on finetune4j/peft/tiny-llama and run on a fixed sequence:
  peftdir.<name>.logits  (T, V) logits of the adapted model for manifest["peftdir_ids"]
  peftdir.base.logits    the same for the base model
"""
import json
import os

import numpy as np
import peft
import safetensors.torch
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from peft.utils import get_peft_model_state_dict
from transformers import LlamaForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RES = os.path.join(ROOT, "core", "src", "test", "resources")
OUT = os.path.join(RES, "golden", "lora")
MODEL = os.path.join(RES, "tiny-models", "llama-bias-bf16")
torch.set_num_threads(1)

VARIANTS = {
    "lora": dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    "rslora": dict(r=4, lora_alpha=6, use_rslora=True, target_modules="all-linear",
                   rank_pattern={"down_proj": 2}, alpha_pattern={"model.layers.1.self_attn.q_proj": 3}),
    "dora": dict(r=4, lora_alpha=8, use_dora=True, target_modules=r".*\.(q_proj|v_proj|o_proj|down_proj)"),
}
LAYER = "model.layers.0.self_attn.q_proj"
DROP_P = 0.25
DROP_SEED = 1234
DROP_KEY = 7

# ----------------------------------------------------------------------------- finetune4j dropout mask
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    """SplitMix64 finalizer (Steele, Lea, Flood 2014), on Python ints mod 2^64."""
    z &= M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def dropout_keep(seed, key, module, branch, rows, cols, p):
    """finetune4j.peft.Dropout: element (row, col) of call `key` is kept iff
    u53(mix64(base + (row*cols + col + 1)*GOLDEN)) >= p, base = mix64(mix64(mix64(mix64(seed) ^ key)
    ^ fnv1a64(module)) ^ branch), u53(z) = (z >> 11) * 2^-53."""
    base = mix64(mix64(mix64(mix64(seed) ^ key) ^ fnv1a64(module)) ^ branch)
    keep = np.zeros((rows, cols), dtype=bool)
    for i in range(rows):
        for j in range(cols):
            z = mix64(base + (i * cols + j + 1) * GOLDEN)
            keep[i, j] = (z >> 11) * 2.0 ** -53 >= p
    return keep


class MaskDropout(torch.nn.Module):
    """Inverted dropout with a fixed mask: x * keep / (1 - p), as torch.nn.Dropout scales."""

    def __init__(self, keep, p):
        super().__init__()
        self.keep = torch.tensor(keep, dtype=torch.float32)
        self.p = p

    def forward(self, x):
        return x * self.keep * (1.0 / (1.0 - self.p))


# ----------------------------------------------------------------------------- helpers
def file_key(param_name):
    """named_parameters() name -> adapter-file key without base_model.model. (PEFT's
    _remove_adapter_name_from_state_dict_key + the magnitude's '.weight' strip)."""
    k = param_name.removeprefix("base_model.model.").replace(".default", "")
    if k.endswith("lora_magnitude_vector.weight"):
        k = k.removesuffix(".weight")
    return k


def load_base():
    return LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32)


def trainable(pm):
    return [(file_key(n), p) for n, p in pm.named_parameters() if p.requires_grad]


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = {}
    manifest = {
        "generator": "tools/golden/lora_reference.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "model": "tiny-models/llama-bias-bf16",
        "layer": LAYER,
        "dropout": {"p": DROP_P, "seed": DROP_SEED, "key": DROP_KEY, "branch": 0},
        "variants": {},
    }
    g = torch.Generator().manual_seed(2024)
    ids = torch.randint(0, 256, (2, 8), generator=g)
    labels = ids.clone()
    labels[0, :3] = -100
    labels[1, 6:] = -100
    manifest["ids"] = ids.tolist()
    manifest["labels"] = labels.tolist()

    for vi, (name, kw) in enumerate(VARIANTS.items()):
        torch.manual_seed(100 + vi)
        pm = get_peft_model(load_base(), LoraConfig(lora_dropout=0.0, **kw))
        keys = set(get_peft_model_state_dict(pm).keys())
        params = trainable(pm)
        assert {"base_model.model." + k for k, _ in params} == keys, (keys, [k for k, _ in params])
        gen = torch.Generator().manual_seed(500 + vi)
        with torch.no_grad():
            for k, p in params:
                if k.endswith("lora_magnitude_vector"):
                    tensors[f"{name}.init.{k}"] = p.detach().clone()
                    p.mul_(1 + 0.1 * torch.randn(p.shape, generator=gen))
                else:
                    p.copy_(0.15 * torch.randn(p.shape, generator=gen))
                tensors[f"{name}.param.{k}"] = p.detach().clone()
        trainable_n, all_n = pm.get_nb_trainable_parameters()
        targeted = sorted(pm.base_model.targeted_module_names)
        scalings = {}
        for mod_name, mod in pm.base_model.model.named_modules():
            if isinstance(mod, LoraLayer):
                scalings[mod_name] = {"r": mod.r["default"], "scaling": mod.scaling["default"]}

        # whole model: loss and every trainable gradient
        pm.train()
        out = pm(input_ids=ids, labels=labels)
        out.loss.backward()
        tensors[f"{name}.logits"] = out.logits.detach().clone()
        for k, p in params:
            tensors[f"{name}.grad.{k}"] = p.grad.detach().clone()
        manifest["variants"][name] = {
            "config": {k: (v if not isinstance(v, set) else sorted(v)) for k, v in kw.items()},
            "loss": out.loss.item(),
            "trainable_params": trainable_n,
            "all_params": all_n,
            "targeted_modules": targeted,
            "modules": scalings,
        }

        # one layer alone, then the same layer with finetune4j's dropout mask in training mode
        layer = pm.base_model.model.get_submodule(LAYER)
        lk = [(k, p) for k, p in params if k.startswith(LAYER + ".")]
        for tag, p_drop in (("layer", 0.0), ("drop", DROP_P)):
            pm.zero_grad(set_to_none=True)
            gl = torch.Generator().manual_seed(900 + vi)
            x = torch.randn(5, layer.in_features, generator=gl).requires_grad_(True)
            gy = torch.randn(5, layer.out_features, generator=gl)
            if p_drop > 0:
                keep = dropout_keep(DROP_SEED, DROP_KEY, LAYER, 0, 5, layer.in_features, p_drop)
                layer.lora_dropout["default"] = MaskDropout(keep, p_drop)
                tensors[f"{name}.{tag}.keep"] = torch.tensor(keep, dtype=torch.float32)
            layer.train()
            y = layer(x)
            (y * gy).sum().backward()
            tensors[f"{name}.{tag}.x"] = x.detach().clone()
            tensors[f"{name}.{tag}.g"] = gy
            tensors[f"{name}.{tag}.y"] = y.detach().clone()
            tensors[f"{name}.{tag}.dx"] = x.grad.detach().clone()
            for k, p in lk:
                tensors[f"{name}.{tag}.grad.{k}"] = p.grad.detach().clone()

    # trainable count for r=8 on q_proj, v_proj of the F32 tied GQA model
    pm = get_peft_model(LlamaForCausalLM.from_pretrained(os.path.join(RES, "tiny-models", "llama-gqa-f32"),
                                                         dtype=torch.float32),
                        LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
    t, a = pm.get_nb_trainable_parameters()
    manifest["count_gqa_r8_qv"] = {"trainable_params": t, "all_params": a}

    # adapter directories PEFT saved, loaded back with PeftModel.from_pretrained
    pdir = os.path.join(RES, "finetune4j", "peft")
    pids = torch.tensor([[1, 7, 3, 12, 30, 5, 9, 2, 17, 4]])
    manifest["peftdir_ids"] = pids[0].tolist()
    base = LlamaForCausalLM.from_pretrained(os.path.join(pdir, "tiny-llama"), dtype=torch.float32)
    V = base.config.vocab_size
    with torch.no_grad():
        tensors["peftdir.base.logits"] = base(input_ids=pids).logits[0].clone()
    names = [n for n in sorted(os.listdir(pdir)) if os.path.isfile(os.path.join(pdir, n, "adapter_config.json"))]
    manifest["peftdir_names"] = names
    for n in names:
        b = LlamaForCausalLM.from_pretrained(os.path.join(pdir, "tiny-llama"), dtype=torch.float32)
        pm = PeftModel.from_pretrained(b, os.path.join(pdir, n))
        pm.eval()
        with torch.no_grad():
            tensors[f"peftdir.{n}.logits"] = pm(input_ids=pids).logits[0].clone()
        assert tensors[f"peftdir.{n}.logits"].shape == (pids.shape[1], V)

    tensors = {k: v.contiguous().to(torch.float32) for k, v in tensors.items()}
    safetensors.torch.save_file(tensors, os.path.join(OUT, "reference.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    print("wrote", len(tensors), "tensors;", {k: v["loss"] for k, v in manifest["variants"].items()})


if __name__ == "__main__":
    main()
