"""Goldens for finetune4j's logits processors: transformers' RepetitionPenaltyLogitsProcessor,
TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper and MinPLogitsWarper, re-implemented
in torch line for line from transformers' generation/logits_process.py (transformers itself is
not installed here), applied to hand-made and seeded random logits, alone and chained in the
order generate() builds them (repetition penalty, temperature, top-k, top-p, min-p).

Writes core/src/test/resources/golden/sampling/warpers.json: per case the input logits, the
parameters, and the surviving token ids with their processed float32 scores (removed = -inf).
Rerun from the repository root:  /usr/bin/python3 tools/golden/sampling_reference.py
"""
import json
import os

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "core", "src", "test", "resources", "golden", "sampling", "warpers.json")
NEG_INF = -float("inf")


def repetition_penalty(input_ids, scores, penalty):
    score = torch.gather(scores, 1, input_ids)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return scores.scatter(1, input_ids, score)


def temperature(scores, t):
    return scores / t


def top_k(scores, k, min_tokens_to_keep=1):
    k = min(max(k, min_tokens_to_keep), scores.size(-1))
    indices_to_remove = scores < torch.topk(scores, k)[0][..., -1, None]
    return scores.masked_fill(indices_to_remove, NEG_INF)


def top_p(scores, p, min_tokens_to_keep=1):
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_indices_to_remove = cumulative_probs <= (1 - p)
    sorted_indices_to_remove[..., -min_tokens_to_keep:] = 0
    indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
    return scores.masked_fill(indices_to_remove, NEG_INF)


def min_p(scores, p, min_tokens_to_keep=1):
    probs = torch.softmax(scores, dim=-1)
    top_probs, _ = probs.max(dim=-1, keepdim=True)
    scaled_min_p = p * top_probs
    tokens_to_remove = probs < scaled_min_p
    sorted_indices = torch.argsort(scores, descending=True, dim=-1)
    sorted_indices_to_remove = torch.gather(tokens_to_remove, dim=-1, index=sorted_indices)
    sorted_indices_to_remove[..., :min_tokens_to_keep] = False
    indices_to_remove = sorted_indices_to_remove.scatter(1, sorted_indices, sorted_indices_to_remove)
    return scores.masked_fill(indices_to_remove, NEG_INF)


def pipeline(scores, input_ids, p):
    """generate()'s order: processors (repetition penalty), then warpers."""
    if p.get("repetition_penalty", 1.0) != 1.0:
        scores = repetition_penalty(input_ids, scores, p["repetition_penalty"])
    if p.get("temperature", 1.0) != 1.0:
        scores = temperature(scores, p["temperature"])
    if p.get("top_k", 0) != 0:
        scores = top_k(scores, p["top_k"])
    if p.get("top_p", 1.0) < 1.0:
        scores = top_p(scores, p["top_p"])
    if p.get("min_p", 0.0) > 0.0:
        scores = min_p(scores, p["min_p"])
    return scores


def case(name, logits, params, input_ids=()):
    x = torch.tensor([logits], dtype=torch.float32)
    ids = torch.tensor([list(input_ids) or [0]], dtype=torch.int64)
    y = pipeline(x, ids, params)[0]
    kept = [i for i in range(y.numel()) if y[i].item() != NEG_INF]
    return {"name": name, "logits": [float(v) for v in x[0].tolist()], "params": params,
            "input_ids": list(input_ids), "kept": kept, "values": [float(y[i].item()) for i in kept]}


def main():
    hand = [float(v) for v in np.array([2.0, -1.0, 0.5, 3.0, 3.0, -2.5, 1.0, 0.0, -0.5, 2.5], dtype=np.float32)]
    rs = np.random.RandomState(7)
    rand = [float(v) for v in (3 * rs.randn(64)).astype(np.float32)]
    peaked = [float(v) for v in np.array([8.0, 1.0, 0.5, 0.4, -3.0, 7.2, 2.0, -1.0], dtype=np.float32)]
    cases = [
        case("top_k 3", hand, {"top_k": 3}),
        case("top_k 2 (tie at the k-th)", hand, {"top_k": 2}),
        case("top_k 1 keeps both tied maxima", hand, {"top_k": 1}),
        case("top_k 50 > V keeps all", hand, {"top_k": 50}),
        case("top_p 0.5", hand, {"top_p": 0.5}),
        case("top_p 0.9", hand, {"top_p": 0.9}),
        case("top_p 0.99", hand, {"top_p": 0.99}),
        case("top_p 0.01 keeps one", peaked, {"top_p": 0.01}),
        case("min_p 0.1", hand, {"min_p": 0.1}),
        case("min_p 0.5", hand, {"min_p": 0.5}),
        case("min_p 0.3 peaked", peaked, {"min_p": 0.3}),
        case("temperature 0.7", hand, {"temperature": 0.7}),
        case("temperature 1.3", rand, {"temperature": 1.3}),
        case("repetition_penalty 1.3", hand, {"repetition_penalty": 1.3}, input_ids=[0, 1, 1, 7, 3]),
        case("repetition_penalty 0.8 rewards", hand, {"repetition_penalty": 0.8}, input_ids=[5, 9]),
        case("top_k 10 random", rand, {"top_k": 10}),
        case("top_p 0.8 random", rand, {"top_p": 0.8}),
        case("min_p 0.05 random", rand, {"min_p": 0.05}),
        case("pipeline hand", hand, {"repetition_penalty": 1.2, "temperature": 0.8, "top_k": 5, "top_p": 0.9,
                                     "min_p": 0.05}, input_ids=[3, 9]),
        case("pipeline random", rand, {"repetition_penalty": 1.1, "temperature": 0.6, "top_k": 20, "top_p": 0.85,
                                       "min_p": 0.02}, input_ids=[1, 2, 3, 40, 41, 63]),
        case("pipeline top_p before min_p", rand, {"temperature": 2.0, "top_p": 0.7, "min_p": 0.2}),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(json.dumps({"generator": "tools/golden/sampling_reference.py", "torch": torch.__version__,
                            "cases": cases}, indent=1) + "\n")
    print("wrote %d cases to %s" % (len(cases), OUT))


if __name__ == "__main__":
    main()
