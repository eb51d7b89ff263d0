#!/usr/bin/env python3
"""PEFT adapter directories written by the real Hugging Face PEFT, for the Java reader/writer tests.

What it makes, under core/src/test/resources/finetune4j/peft/:
  tiny-llama/            a tiny random LlamaForCausalLM (2 layers, hidden 16, 4 heads, 2 KV heads,
                         ffn 24, vocab 64) saved with save_pretrained (config.json, model.safetensors):
                         the base the adapters belong to, and the base check_peft_adapter.py loads;
  tiny-llama-linear.json the base's linear modules, {name: [out_features, in_features]}, in
                         named_modules() order (what a model hands to PeftAdapter.validate);
  lora_qv/               LoRA r=4, alpha 8, dropout 0.05, target_modules ["q_proj", "v_proj"];
  lora_all_linear/       LoRA r=4, alpha 16, target_modules "all-linear", rank_pattern
                         {"down_proj": 2, "model.layers.1.self_attn.q_proj": 8},
                         alpha_pattern {"v_proj": 4}, exclude_modules ["model.layers.0.mlp.up_proj"];
  rslora/                rsLoRA r=4, alpha 8, targets q/k/v/o, layers_to_transform [1], bias "none";
  dora/                  DoRA r=4, alpha 8, targets q_proj, v_proj, up_proj (lora_magnitude_vector);
  lora_qv_f16/, lora_qv_bf16/  lora_qv with its tensors converted to float16 / bfloat16 by
                         safetensors.torch.save_file (PEFT itself saves float32; readers must accept both);
  configs/*.json         adapter_config.json files written by LoraConfig.save_pretrained alone:
                         default.json (LoraConfig() with PEFT's defaults) and kitchen_sink.json
                         (regex targets, float alpha, 1e-05 dropout, patterns, modules_to_save,
                         non-ASCII base model name, gaussian init, lora_only bias, ...);
  manifest.json          per adapter, what PEFT itself made of it: the modules it wrapped with their
                         r and scaling (lora.Linear.r / .scaling), and per saved tensor its shape,
                         dtype, first values and float64 sum (read back with safetensors).
Each adapter dir holds adapter_config.json and adapter_model.safetensors exactly as
PeftModel.save_pretrained wrote them (the README.md model card is removed). lora_B is set to
nonzero random values before saving (PEFT initialises it to zero), so values are checked.
target_modules is a Python set inside PEFT, so its order in the file depends on string hashing;
PYTHONHASHSEED=0 is forced for a reproducible file.

Environment: the reference venv (/work/venv: torch 2.13 CPU, transformers 5.17, peft 0.21), or
  python -m venv v && v/bin/pip install torch transformers==5.17.0 peft==0.21.0 safetensors
Rerun from the repository root:  /work/venv/bin/python tools/golden/make_peft_golden.py
"""
import json
import os
import shutil
import subprocess
import sys

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    sys.exit(subprocess.call([sys.executable] + sys.argv))

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "core", "src", "test", "resources", "finetune4j", "peft"))
BASE_NAME = "finetune4j/tiny-llama-golden"


def tiny_llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      tie_word_embeddings=False)
    return LlamaForCausalLM(cfg)


def tensor_summary(path):
    from safetensors import safe_open
    out = {}
    with safe_open(path, "pt") as f:
        for k in f.keys():
            t = f.get_tensor(k)
            out[k] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
                      "first": [float(x) for x in t.reshape(-1)[:3].tolist()],
                      "sum": float(t.double().sum())}
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    base = tiny_llama()
    base_dir = os.path.join(OUT, "tiny-llama")
    shutil.rmtree(base_dir, ignore_errors=True)
    base.save_pretrained(base_dir)
    for extra in ("generation_config.json",):
        p = os.path.join(base_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    linear = {n: list(m.weight.shape) for n, m in base.named_modules() if isinstance(m, torch.nn.Linear)}
    with open(os.path.join(OUT, "tiny-llama-linear.json"), "w") as f:
        json.dump(linear, f, indent=1)
        f.write("\n")

    configs = {
        "lora_qv": LoraConfig(r=4, lora_alpha=8, lora_dropout=0.05, target_modules=["q_proj", "v_proj"],
                              task_type="CAUSAL_LM"),
        "lora_all_linear": LoraConfig(r=4, lora_alpha=16, target_modules="all-linear",
                                      rank_pattern={"down_proj": 2, "model.layers.1.self_attn.q_proj": 8},
                                      alpha_pattern={"v_proj": 4},
                                      exclude_modules=["model.layers.0.mlp.up_proj"], task_type="CAUSAL_LM"),
        "rslora": LoraConfig(r=4, lora_alpha=8, use_rslora=True,
                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], layers_to_transform=[1],
                             task_type="CAUSAL_LM"),
        "dora": LoraConfig(r=4, lora_alpha=8, use_dora=True, target_modules=["q_proj", "v_proj", "up_proj"],
                           task_type="CAUSAL_LM"),
    }
    manifest = {}
    for name, cfg in configs.items():
        model = tiny_llama()
        model.name_or_path = BASE_NAME
        model.config._name_or_path = BASE_NAME
        peft_model = get_peft_model(model, cfg)
        g = torch.Generator().manual_seed(hash(name) % 1000)
        with torch.no_grad():
            for pn, p in peft_model.named_parameters():
                if "lora_B" in pn:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.1)
                elif "lora_magnitude_vector" in pn:
                    p.mul_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
        d = os.path.join(OUT, name)
        shutil.rmtree(d, ignore_errors=True)
        peft_model.save_pretrained(d)
        readme = os.path.join(d, "README.md")
        if os.path.exists(readme):
            os.remove(readme)
        from peft.tuners.lora import LoraLayer
        modules = {}
        for mn, m in peft_model.base_model.model.named_modules():
            if isinstance(m, LoraLayer):
                modules[mn] = {"r": m.r["default"], "scaling": m.scaling["default"]}
        manifest[name] = {"modules": modules,
                          "tensors": tensor_summary(os.path.join(d, "adapter_model.safetensors"))}
        print(name, sorted(os.listdir(d)), os.path.getsize(os.path.join(d, "adapter_model.safetensors")), "bytes")
    cdir = os.path.join(OUT, "configs")
    shutil.rmtree(cdir, ignore_errors=True)
    os.makedirs(cdir)
    for cname, c in {
        "default": LoraConfig(),
        "kitchen_sink": LoraConfig(r=16, lora_alpha=32.5, lora_dropout=1e-05,
                                   target_modules=r".*\.layers\.[01]\.self_attn\.(q|v)_proj",
                                   rank_pattern={"v_proj": 8, "layers\\.1\\..*q_proj": 2},
                                   alpha_pattern={"q_proj": 0.5, "v_proj": 3},
                                   modules_to_save=["lm_head"], bias="lora_only",
                                   base_model_name_or_path="\u00fcnic\u00f6de/\u2603-model \"quoted\"",
                                   revision="main", init_lora_weights="gaussian", task_type="CAUSAL_LM",
                                   use_rslora=True, exclude_modules=".*layers\\.2.*"),
    }.items():
        tmp = os.path.join(cdir, cname)
        c.save_pretrained(tmp)
        os.replace(os.path.join(tmp, "adapter_config.json"), os.path.join(cdir, cname + ".json"))
        os.rmdir(tmp)
    from safetensors.torch import load_file, save_file
    for suffix, dtype in (("f16", torch.float16), ("bf16", torch.bfloat16)):
        d = os.path.join(OUT, "lora_qv_" + suffix)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        shutil.copy(os.path.join(OUT, "lora_qv", "adapter_config.json"), d)
        tensors = load_file(os.path.join(OUT, "lora_qv", "adapter_model.safetensors"))
        save_file({k: v.to(dtype) for k, v in tensors.items()}, os.path.join(d, "adapter_model.safetensors"),
                  metadata={"format": "pt"})
        manifest["lora_qv_" + suffix] = {"modules": manifest["lora_qv"]["modules"],
                                         "tensors": tensor_summary(os.path.join(d, "adapter_model.safetensors"))}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
