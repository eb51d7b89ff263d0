#!/usr/bin/env python3
"""Optimizer, LR-schedule and gradient-clipping goldens from the real PyTorch and transformers.

What it makes: core/src/test/resources/finetune4j/train/optim_golden.json, read by
finetune4j.train.OptimGoldenTest. It holds
  * "params": three small parameters (numel 48, 37, 3: with torch's AVX-512 kernels a vector body
    plus a scalar tail, and a tail only), named so that the Hugging Face Trainer's no-decay rule
    excludes two of them (a norm weight and a bias);
  * "grads": one random gradient per parameter and step (scales 1e-4..10, some exact zeros);
  * "optimizers": trajectories of torch.optim.AdamW (foreach=False, fused=False: the
    _single_tensor_adam path) with and without decoupled weight decay (decay applied through two
    param groups, as transformers.Trainer does), and torch.optim.SGD (plain, momentum + dampening +
    weight decay, nesterov): the lr used at each step and, after each step, every parameter and
    its state (exp_avg, exp_avg_sq / momentum_buffer);
  * "schedules": transformers.get_scheduler("constant" | "constant_with_warmup" | "linear" |
    "cosine") learning rates for steps 0..total+2, read back from the LambdaLR after each
    scheduler.step();
  * "clip": torch.nn.utils.clip_grad_norm_ inputs, returned total norm and clipped gradients
    (clipping, no clipping, a NaN gradient).
Floats are written with Python's repr of the float32 (or float64) value, so they parse back exactly.

Environment: the reference venv (/work/venv: torch 2.13 CPU, transformers 5.17), or any
  python -m venv v && v/bin/pip install torch transformers
Rerun from the repository root:  /work/venv/bin/python tools/golden/make_optim_golden.py
"""
import json
import math
import os

import numpy as np
import torch
import transformers
from transformers import get_scheduler

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "core", "src", "test", "resources", "finetune4j", "train", "optim_golden.json")

STEPS = 6
torch.manual_seed(1234)
np.random.seed(1234)

# name -> shape; numel 48 / 37 / 3
PARAMS = {
    "model.layers.0.self_attn.q_proj.lora_A.weight": (4, 12),
    "model.layers.0.input_layernorm.weight": (37,),
    "model.layers.0.self_attn.q_proj.bias": (3,),
}
NO_DECAY = ["model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.bias"]


def f32list(t):
    return [float(x) for x in t.detach().to(torch.float32).reshape(-1).tolist()]


init = {n: torch.randn(s) for n, s in PARAMS.items()}
grads = []
for step in range(STEPS):
    g = {}
    for n, s in PARAMS.items():
        x = torch.randn(s) * float(10 ** np.random.uniform(-4, 1))
        x.view(-1)[np.random.randint(0, x.numel())] = 0.0     # an exact zero per tensor
        g[n] = x
    grads.append(g)


def run(name, make_opt, lr_fn):
    params = {n: torch.nn.Parameter(init[n].clone()) for n in PARAMS}
    opt = make_opt(params)
    steps = []
    for step in range(STEPS):
        lr = lr_fn(step)
        for group in opt.param_groups:
            group["lr"] = lr
        for n, p in params.items():
            p.grad = grads[step][n].clone()
        opt.step()
        rec = {"lr": lr, "params": {n: f32list(p) for n, p in params.items()}}
        for n, p in params.items():
            for k, v in opt.state[p].items():
                if k == "step":
                    continue
                if v is not None:
                    rec.setdefault(k, {})[n] = f32list(v)
        steps.append(rec)
    return {"name": name, "steps": steps}


def groups(params, wd):
    decay = [p for n, p in params.items() if n not in NO_DECAY]
    no_decay = [p for n, p in params.items() if n in NO_DECAY]
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


cosine = lambda step: 1e-3 * 0.5 * (1.0 + math.cos(math.pi * step / STEPS))   # any varying lr will do

optimizers = []
c = run("adamw_no_decay",
        lambda ps: torch.optim.AdamW(list(ps.values()), lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                     weight_decay=0.0, foreach=False, fused=False),
        lambda step: 1e-3)
c.update(optimizer="adamw", beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, no_decay=[])
optimizers.append(c)

c = run("adamw_decay_hf_groups",
        lambda ps: torch.optim.AdamW(groups(ps, 0.1), lr=1e-3, betas=(0.9, 0.95), eps=1e-6,
                                     foreach=False, fused=False),
        cosine)
c.update(optimizer="adamw", beta1=0.9, beta2=0.95, eps=1e-6, weight_decay=0.1, no_decay=NO_DECAY)
optimizers.append(c)

c = run("adamw_decay_all",
        lambda ps: torch.optim.AdamW(list(ps.values()), lr=3e-2, betas=(0.8, 0.99), eps=1e-8,
                                     weight_decay=0.01, foreach=False, fused=False),
        lambda step: 3e-2)
c.update(optimizer="adamw", beta1=0.8, beta2=0.99, eps=1e-8, weight_decay=0.01, no_decay=[])
optimizers.append(c)

for name, kw, nd in [
    ("sgd_plain", dict(momentum=0.0), []),
    ("sgd_momentum_dampening_decay", dict(momentum=0.9, dampening=0.1, weight_decay=0.01), []),
    ("sgd_nesterov_hf_groups", dict(momentum=0.9, nesterov=True), NO_DECAY),
]:
    wd = kw.pop("weight_decay", 0.05 if nd else 0.0)
    if nd:
        mk = lambda ps, kw=kw, wd=wd: torch.optim.SGD(groups(ps, wd), lr=0.05, foreach=False, **kw)
    else:
        mk = lambda ps, kw=kw, wd=wd: torch.optim.SGD(list(ps.values()), lr=0.05, weight_decay=wd,
                                                    foreach=False, **kw)
    c = run(name, mk, cosine if nd else (lambda step: 0.05))
    c.update(optimizer="sgd", momentum=kw.get("momentum", 0.0), dampening=kw.get("dampening", 0.0),
             nesterov=kw.get("nesterov", False), weight_decay=wd, no_decay=nd)
    optimizers.append(c)

schedules = []
for kind, warmup, total in [("constant", 0, 10), ("constant", 3, 10), ("constant_with_warmup", 4, 10),
                            ("constant_with_warmup", 0, 10), ("linear", 3, 10), ("linear", 0, 7),
                            ("cosine", 3, 10), ("cosine", 0, 1000), ("cosine", 5, 5)]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2e-4)
    sch = get_scheduler(kind, opt, num_warmup_steps=warmup, num_training_steps=total)
    lrs = []
    for step in range(total + 3):
        lrs.append(sch.get_last_lr()[0])
        opt.step()
        sch.step()
    schedules.append({"kind": kind, "base_lr": 2e-4, "warmup": warmup, "total": total, "lr": lrs})

clip = []
for max_norm, nan in [(1.0, False), (1e6, False), (0.5, True)]:
    ps = [torch.nn.Parameter(torch.zeros(PARAMS[n])) for n in PARAMS]
    for p, n in zip(ps, PARAMS):
        p.grad = grads[0][n].clone() * 10
    if nan:
        ps[1].grad.view(-1)[5] = float("nan")
    gin = [f32list(p.grad) for p in ps]
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    clip.append({"max_norm": max_norm, "grads": gin, "total_norm": float(total),
                 "clipped": [f32list(p.grad) for p in ps]})

doc = {
    "generator": "tools/golden/make_optim_golden.py",
    "torch": torch.__version__, "transformers": transformers.__version__,
    "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    "names": list(PARAMS), "shapes": [list(s) for s in PARAMS.values()],
    "init": [f32list(init[n]) for n in PARAMS],
    "grads": [[f32list(g[n]) for n in PARAMS] for g in grads],
    "optimizers": optimizers, "schedules": schedules, "clip": clip,
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"), allow_nan=True)
    f.write("\n")
print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")
