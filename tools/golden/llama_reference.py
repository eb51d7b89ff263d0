"""Reference forward pass of Hugging Face LlamaForCausalLM (and its Mistral / Qwen2 variants) in
plain torch, and the goldens the Java model tests compare against.

transformers is not installed here (torch 1.13, numpy only), so the forward below re-implements
transformers' modeling_llama.py / modeling_qwen2.py step for step (eager attention path):
  * LlamaRMSNorm: hidden.to(float32); variance = hidden.pow(2).mean(-1, keepdim=True);
    hidden * rsqrt(variance + eps); weight * hidden.to(input_dtype)
  * LlamaRotaryEmbedding: inv_freq = 1 / (base ** (arange(0, dim, 2).float() / dim)), rewritten by
    _compute_llama3_parameters / _compute_linear_scaling_rope_parameters; freqs = inv_freq @ pos
    in float32; emb = cat(freqs, freqs); cos/sin; apply_rotary_pos_emb with rotate_half
  * attention: repeat_kv for GQA, q @ k^T * head_dim**-0.5 + causal mask (finfo.min),
    softmax(dim=-1, dtype=float32), @ v, o_proj
  * MLP: down(silu(gate(x)) * up(x)); residual adds; final norm; lm_head (tied or not)
Weights stored as BF16/F16 are upcast to float32 and the whole pass runs in float32: the numerics
finetune4j implements (stored-dtype weights, FP32 compute) = transformers with torch_dtype=float32.

Writes (all small, committed):
  core/src/test/resources/tiny-models/<variant>/{config.json, generation_config.json, model.safetensors}
      four random 2-layer models (hidden 32, vocab 256, GQA 4/2 heads): F32 tied Llama; Qwen2 with
      q/k/v bias, untied, F16; llama3 rope_scaling, untied, BF16; Llama with attention_bias +
      mlp_bias, head_dim 16 != hidden/heads, linear rope scaling, tied, BF16
  core/src/test/resources/golden/llama/reference.safetensors   F32 logits and RoPE tables
  core/src/test/resources/golden/llama/manifest.json           inputs (token ids), shapes, versions
stories260K (read in place from ../shared/data, never copied): logits of prompt + first 8 greedy
tokens for the two prompts of expected/greedy_runc.json (the script asserts its greedy tokens
equal llama2.c's).

Rerun from the repository root:  /usr/bin/python3 tools/golden/llama_reference.py
Deterministic (fixed seeds); rerunning rewrites identical files.
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np as st  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RES = os.path.join(ROOT, "core", "src", "test", "resources")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))
torch.set_num_threads(1)


# ----------------------------------------------------------------------------- config handling
class Cfg:
    def __init__(self, d):
        self.d = d
        self.model_type = d.get("model_type", "llama")
        self.hidden = d["hidden_size"]
        self.inter = d["intermediate_size"]
        self.layers = d["num_hidden_layers"]
        self.heads = d["num_attention_heads"]
        self.kv_heads = d.get("num_key_value_heads") or self.heads
        self.head_dim = d.get("head_dim") or self.hidden // self.heads
        self.vocab = d["vocab_size"]
        self.eps = d.get("rms_norm_eps", 1e-6)
        self.theta = d.get("rope_theta", 10000.0)
        self.rope_scaling = d.get("rope_scaling")
        self.tie = d.get("tie_word_embeddings", False)
        qwen2 = self.model_type == "qwen2"
        self.qkv_bias = qwen2 or d.get("attention_bias", False)
        self.o_bias = (not qwen2) and d.get("attention_bias", False)
        self.mlp_bias = d.get("mlp_bias", False)


def inv_freq_hf(cfg):
    """_compute_default_rope_parameters + the llama3 / linear rewrites, float32 throughout."""
    dim, base = cfg.head_dim, cfg.theta
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.rope_scaling
    if rs is None:
        return inv_freq
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return inv_freq / rs["factor"]
    assert kind == "llama3", kind
    factor = rs["factor"]
    low_freq_factor = rs["low_freq_factor"]
    high_freq_factor = rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def rope_cos_sin(cfg, positions):
    """LlamaRotaryEmbedding.forward: (T, D) cos and sin for the given positions (float32)."""
    inv_freq = inv_freq_hf(cfg)
    pos = torch.as_tensor(positions, dtype=torch.int64)[None, :]
    inv_freq_expanded = inv_freq[None, :, None].float().expand(pos.shape[0], -1, 1)
    position_ids_expanded = pos[:, None, :].float()
    freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[0], emb.sin()[0]


# ----------------------------------------------------------------------------- the forward pass
def rms_norm(x, w, eps):
    input_dtype = x.dtype
    h = x.to(torch.float32)
    variance = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(variance + eps)
    return w * h.to(input_dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(h, n_rep):
    b, kvh, t, d = h.shape
    if n_rep == 1:
        return h
    return h[:, :, None, :, :].expand(b, kvh, n_rep, t, d).reshape(b, kvh * n_rep, t, d)


def linear(x, W, name, bias):
    w = W[name + ".weight"]
    b = W[name + ".bias"] if bias else None
    return torch.nn.functional.linear(x, w, b)


def forward(cfg, W, ids):
    """ids: list of token ids (one sequence). Returns logits (T, V) float32."""
    ids_t = torch.as_tensor(ids, dtype=torch.int64)[None, :]
    B, T = ids_t.shape
    H, KVH, D = cfg.heads, cfg.kv_heads, cfg.head_dim
    x = W["model.embed_tokens.weight"][ids_t]
    cos, sin = rope_cos_sin(cfg, list(range(T)))
    cos, sin = cos[None, None], sin[None, None]                       # (1, 1, T, D)
    mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)[None, None]
    for l in range(cfg.layers):
        p = "model.layers.%d." % l
        residual = x
        h = rms_norm(x, W[p + "input_layernorm.weight"], cfg.eps)
        q = linear(h, W, p + "self_attn.q_proj", cfg.qkv_bias).view(B, T, H, D).transpose(1, 2)
        k = linear(h, W, p + "self_attn.k_proj", cfg.qkv_bias).view(B, T, KVH, D).transpose(1, 2)
        v = linear(h, W, p + "self_attn.v_proj", cfg.qkv_bias).view(B, T, KVH, D).transpose(1, 2)
        q = (q * cos) + (rotate_half(q) * sin)
        k = (k * cos) + (rotate_half(k) * sin)
        k = repeat_kv(k, H // KVH)
        v = repeat_kv(v, H // KVH)
        attn = torch.matmul(q, k.transpose(2, 3)) * (D ** -0.5)
        attn = attn + mask
        attn = torch.nn.functional.softmax(attn, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(attn, v).transpose(1, 2).reshape(B, T, H * D)
        x = residual + linear(o, W, p + "self_attn.o_proj", cfg.o_bias)
        residual = x
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], cfg.eps)
        g = linear(h, W, p + "mlp.gate_proj", cfg.mlp_bias)
        u = linear(h, W, p + "mlp.up_proj", cfg.mlp_bias)
        x = residual + linear(torch.nn.functional.silu(g) * u, W, p + "mlp.down_proj", cfg.mlp_bias)
    x = rms_norm(x, W["model.norm.weight"], cfg.eps)
    head = W["model.embed_tokens.weight"] if cfg.tie else W["lm_head.weight"]
    return torch.nn.functional.linear(x, head)[0].float()


def load_weights(path):
    return {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, (_, v) in st.read(path).items()}


# ----------------------------------------------------------------------------- tiny random models
BASE = {
    "hidden_act": "silu", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256, "max_position_embeddings": 128,
    "rms_norm_eps": 1e-5, "bos_token_id": 1, "eos_token_id": 2, "initializer_range": 0.02, "use_cache": True,
}
VARIANTS = {
    "llama-gqa-f32": dict(dtype="F32", config={
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "float32",
        "tie_word_embeddings": True, "rope_theta": 10000.0, "rope_scaling": None,
        "attention_bias": False, "mlp_bias": False}),
    "qwen2-bias-f16": dict(dtype="F16", config={
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "torch_dtype": "float16",
        "tie_word_embeddings": False, "rope_theta": 1000000.0, "rope_scaling": None, "rms_norm_eps": 1e-6,
        "use_sliding_window": False, "sliding_window": 4096, "max_window_layers": 2, "eos_token_id": 3}),
    "llama3-rope-bf16": dict(dtype="BF16", config={
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "bfloat16",
        "tie_word_embeddings": False, "rope_theta": 10000.0,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 64},
        "attention_bias": False, "mlp_bias": False, "eos_token_id": [2, 5]}),
    "llama-bias-bf16": dict(dtype="BF16", config={
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "bfloat16",
        "tie_word_embeddings": True, "rope_theta": 500.0, "head_dim": 16,
        "rope_scaling": {"type": "linear", "factor": 2.0},
        "attention_bias": True, "mlp_bias": True}),
}
SEQ_A = [1, 17, 200, 45, 3, 99, 128, 7, 255, 64, 31, 88]
SEQ_B = [1, 250, 12, 12, 190, 4, 77]


def make_tiny(name, spec, seed):
    d = dict(BASE)
    d.update(spec["config"])
    cfg = Cfg(d)
    g = np.random.RandomState(seed)
    C, F, V, H, KVH, D = cfg.hidden, cfg.inter, cfg.vocab, cfg.heads, cfg.kv_heads, cfg.head_dim
    dt = spec["dtype"]
    T = {}

    def mat(n, rows, cols):  # std 1/sqrt(in) keeps activations O(1) so the logits are informative
        T[n] = (dt, (g.randn(rows, cols) / math.sqrt(cols)).astype(np.float32))

    def vec(n, size, center, scale):
        T[n] = (dt, (center + scale * g.randn(size)).astype(np.float32))

    T["model.embed_tokens.weight"] = (dt, g.randn(V, C).astype(np.float32))
    for l in range(cfg.layers):
        p = "model.layers.%d." % l
        vec(p + "input_layernorm.weight", C, 1.0, 0.2)
        vec(p + "post_attention_layernorm.weight", C, 1.0, 0.2)
        for proj, rows, cols, bias in (("self_attn.q_proj", H * D, C, cfg.qkv_bias),
                                       ("self_attn.k_proj", KVH * D, C, cfg.qkv_bias),
                                       ("self_attn.v_proj", KVH * D, C, cfg.qkv_bias),
                                       ("self_attn.o_proj", C, H * D, cfg.o_bias),
                                       ("mlp.gate_proj", F, C, cfg.mlp_bias),
                                       ("mlp.up_proj", F, C, cfg.mlp_bias),
                                       ("mlp.down_proj", C, F, cfg.mlp_bias)):
            mat(p + proj + ".weight", rows, cols)
            if bias:
                vec(p + proj + ".bias", rows, 0.0, 0.3)
    vec("model.norm.weight", C, 1.0, 0.2)
    if not cfg.tie:
        mat("lm_head.weight", V, C)

    out = os.path.join(RES, "tiny-models", name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(json.dumps(d, indent=2, sort_keys=True) + "\n")
    gen = {"bos_token_id": d["bos_token_id"], "eos_token_id": d["eos_token_id"], "do_sample": False}
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        f.write(json.dumps(gen, indent=2, sort_keys=True) + "\n")
    st.write(os.path.join(out, "model.safetensors"), T, {"format": "pt"})
    # read back through the file: the reference sees exactly the stored (rounded) values
    W = load_weights(os.path.join(out, "model.safetensors"))
    return cfg, W


# ----------------------------------------------------------------------------- RoPE tables
ROPE_CASES = {
    "default-d8": {"head_dim": 8, "rope_theta": 10000.0},
    "default-d64-theta1e6": {"head_dim": 64, "rope_theta": 1000000.0},
    "llama31-d128": {"head_dim": 128, "rope_theta": 500000.0,
                     "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
    "llama32-d64": {"head_dim": 64, "rope_theta": 500000.0,
                    "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
    "linear-d16": {"head_dim": 16, "rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 4.0}},
}
ROPE_POSITIONS = [0, 1, 2, 3, 17, 100, 511, 1000, 4095, 8191]


def main():
    tensors = {}
    manifest = {"generator": "tools/golden/llama_reference.py", "torch": torch.__version__,
                "numpy": np.__version__, "tiny": {}, "rope": {}, "stories260K": []}

    for i, (name, spec) in enumerate(VARIANTS.items()):
        cfg, W = make_tiny(name, spec, seed=1000 + i)
        for tag, seq in (("a", SEQ_A), ("b", SEQ_B)):
            with torch.no_grad():
                logits = forward(cfg, W, seq)
            tensors["%s.%s.logits" % (name, tag)] = ("F32", logits.numpy())
        manifest["tiny"][name] = {"dtype": spec["dtype"], "seq_a": SEQ_A, "seq_b": SEQ_B}

    for name, c in ROPE_CASES.items():
        d = {"hidden_size": c["head_dim"] * 4, "intermediate_size": 8, "num_hidden_layers": 1,
             "num_attention_heads": 4, "vocab_size": 8}
        d.update(c)
        cfg = Cfg(d)
        tensors["rope.%s.inv_freq" % name] = ("F32", inv_freq_hf(cfg).numpy())
        cos, sin = rope_cos_sin(cfg, ROPE_POSITIONS)
        half = cfg.head_dim // 2
        tensors["rope.%s.cos" % name] = ("F32", cos[:, :half].contiguous().numpy())
        tensors["rope.%s.sin" % name] = ("F32", sin[:, :half].contiguous().numpy())
        manifest["rope"][name] = {"config": c, "positions": ROPE_POSITIONS}

    hf = os.path.join(SHARED, "models", "stories260K", "hf")
    if os.path.isdir(hf):
        with open(os.path.join(hf, "config.json")) as f:
            cfg = Cfg(json.load(f))
        W = load_weights(os.path.join(hf, "model.safetensors"))
        with open(os.path.join(SHARED, "models", "stories260K", "expected", "greedy_runc.json")) as f:
            cases = json.load(f)["cases"]
        for i, case in enumerate(cases):
            ids = list(case["prompt_ids"])
            for _ in range(8):
                with torch.no_grad():
                    nxt = int(torch.argmax(forward(cfg, W, ids)[-1]))
                ids.append(nxt)
            n = len(case["prompt_ids"])
            assert ids[n:] == case["generated_ids"][:8], (ids[n:], case["generated_ids"][:8])
            with torch.no_grad():
                logits = forward(cfg, W, ids)
            tensors["stories260K.case%d.logits" % i] = ("F32", logits.numpy())
            manifest["stories260K"].append({"prompt": case["prompt"], "ids": ids, "prompt_len": n})
    else:
        print("warning: %s absent; stories260K goldens not regenerated" % hf, file=sys.stderr)

    out = os.path.join(RES, "golden", "llama")
    os.makedirs(out, exist_ok=True)
    st.write(os.path.join(out, "reference.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print("wrote %d tensors" % len(tensors))


if __name__ == "__main__":
    main()
