"""Goldens for finetune4j's bitsandbytes-compatible 4-bit codecs (NF4, FP4, double quantization)
and for the Hugging Face bitsandbytes 4-bit checkpoint layout.

bitsandbytes itself is not installable here (no wheel in /opt/pypi/files, no network), so this
script implements bitsandbytes' published algorithm step by step (bitsandbytes @95f9af30, see
docs/SPECS.md section 3b), in IEEE float32 arithmetic exactly as the CUDA kernels compute it:

  quantize_4bit (csrc/kernels.cu kQuantizeBlockwise with DATA_TYPE NF4/FP4):
    1. flatten row-major; blocks of `blocksize` consecutive elements (last one may be partial);
    2. absmax[b] = max |(float) x| over the block's real elements (float32);
    3. inv = 1.0f / absmax[b]   (float32; inf for an all-zero block, and for a block whose absmax is
       below 1/FLT_MAX ~ 2.9e-39, i.e. a denormal block: bitsandbytes does the same);
    4. code = dQuantizeNF4((float) x * inv) / dQuantizeFP4(...): the CUDA decision trees with their
       float32 literal thresholds and the rule `x > threshold` picks the upper code (NaN, from
       0 * inf, falls through every comparison: code 0b0000);
    5. two codes per byte, element 2j in the HIGH nibble; an odd count is padded with the code of
       0.0f * inv of the last block (the kernel loads the missing element as 0).
  double quantization (functional.py quantize_4bit, compress_statistics=True):
    offset = mean(absmax); v = absmax - offset (float32); blocks of 256: absmax2 = max |v|,
    q = dQuantize<0>(code = create_dynamic_map(signed=True), v * (1.0f / absmax2)) (the CUDA binary
    search with its float32 midpoint rule, ported literally below).
    The mean: bitsandbytes calls torch's float32 mean, whose summation order is the backend's
    (CUDA tree reduction, CPU cascade sum); here (and in Java) it is the float32 rounding of
    (sequential float64 sum) / n, a fixed rule both sides follow bit for bit. The manifest records
    for every case whether torch.mean on CPU gives the same float (readers never recompute it:
    they use the stored nested_offset).
  dequantize: scale = f32(f32(code8[q] * absmax2[b / 256]) + offset) (or absmax[b]),
              w = f32(code4[nibble] * scale).

Tie rules (documented in the manifest):
  * NF4: the CUDA thresholds are float32 literals of the midpoints (code[i] + code[i+1]) / 2; a C
    compiler (and Java) rounds each literal once, to the float32 nearest the printed decimal. Six
    midpoints are exact float32 values: a value ON them takes the lower code, as nearest-code
    rounding with ties-to-lower does. For the nine others the literal is the float32 just below
    or just above the true midpoint, so every float32 value is still rounded to its nearest code,
    except the literal itself where the literal lies above the midpoint (thresholds 1, 3, 4, 8 in
    ascending order): there x == threshold is strictly nearer the upper code and CUDA (like
    finetune4j) takes the lower one. bitsandbytes' pure-torch fallback, argmin(|x - code|) with
    exact float32 differences, takes the upper one on those four values; a bucketize over
    midpoints computed in float32 (round-to-nearest-even of the midpoint) would differ on four
    other values (thresholds 0, 8, 12, 14). We follow CUDA: GPU quantization writes the
    checkpoints people publish. Verified below (argmin_differences; the ties_* inputs hold every
    threshold and both neighbours).
  * FP4: CUDA compares |x| with literals (0.583333f is not the float32 midpoint) and takes the
    sign from x < 0, so a tiny negative x gives code 0b1000 (-0) where argmin over the table in
    bit-pattern order gives 0b0000 (+0). We follow CUDA; the manifest counts the differences.
  * 8-bit dynamic map (nested absmax): CUDA dQuantize<0> (binary search, float32 midpoints,
    a value equal to a midpoint keeps the pivot). The CPU C++ path (csrc/common.cpp) divides
    instead of multiplying by the reciprocal and also overwrites code[0] with -1.0; the manifest
    notes both.

Environment: the venv with torch 2.13 (CPU), numpy, safetensors 0.8, transformers 5.17, scipy
(scipy only to check that the NF4 table regenerates from create_normal_map):
    python -m venv venv && venv/bin/pip install --no-index --find-links /opt/pypi/files \
        torch transformers safetensors numpy scipy
Rerun from the repository root:  /work/venv/bin/python tools/golden/nf4_reference.py
Deterministic (fixed seeds); rerunning rewrites identical files.

Writes (committed, ~300 KB) under core/src/test/resources/golden/quant/:
  codec.safetensors   tables (nf4_code, fp4_code, dynamic_map); per input X: `in.X` (F32, BF16
                      or F16 as stored); per case C: `C.packed` U8 [(n+1)/2] (plain cases only: a
                      nested case has the codes of its plain twin), then `C.absmax` F32
                      (plain) or `C.qabsmax` U8, `C.absmax2` F32, `C.offset` F32 [1] (nested); and
                      for a few cases `C.dequant` F32 (every case has its dequant's SHA-256 in the
                      manifest); `q8.x` F32 / `q8.code` U8: probes of the 8-bit quantizer.
  codec.json          the cases (input, quant_type, blocksize, nested, shape, dequant_sha256,
                      torch_mean_matches, argmin_differences) and notes.
  state_nf4.safetensors / state_fp4.safetensors
                      state dicts exactly as transformers saves a bitsandbytes 4-bit model
                      (Linear4bit._save_to_state_dict + QuantState.as_dict(packed=True), written by
                      the real safetensors.torch.save_file with metadata {"format": "pt"}) for the
                      float weights in state_inputs.safetensors (nf4 + double quant from BF16
                      weights; fp4 without it from F32 weights).
  state_inputs.safetensors  the float weights of both.
  config_nf4.json     a LlamaConfig with quantization_config = BitsAndBytesConfig(nf4, double quant,
                      compute dtype bfloat16) as transformers writes config.json.
"""
import hashlib
import json
import os
from fractions import Fraction

import numpy as np
import safetensors.torch
import torch
import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "core", "src", "test", "resources", "golden", "quant")
F32 = np.float32

# ---------------------------------------------------------------- code tables

# functional.py get_4bit_type("nf4") / csrc nf4_dequantization_lut
NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]


def nf4_table():
    t = torch.tensor(NF4)
    t.div_(t.abs().max())
    return t.numpy().astype(F32)


def fp4_table():
    # functional.py get_4bit_type("fp4"): "-0" is the Python int 0, so entry 8 is +0.0
    data = [0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0]
    t = torch.tensor(data)
    t.div_(t.abs().max())
    return t.numpy().astype(F32)


def create_normal_map(offset=0.9677083, use_extra_value=True):
    """functional.py create_normal_map, verbatim (needs scipy)."""
    from scipy.stats import norm
    v1 = norm.ppf(torch.linspace(offset, 0.5, 9)[:-1]).tolist()
    v2 = [0] * (256 - 15)
    v3 = (-norm.ppf(torch.linspace(offset, 0.5, 8)[:-1])).tolist()
    values = torch.Tensor(v1 + v2 + v3)
    values = values.sort().values
    values /= values.max()
    return values


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    """functional.py create_dynamic_map, verbatim."""
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed
                             else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    if additional_items > 0:
        boundaries = torch.linspace(0.1, 1, additional_items + 1, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 2 ** total_bits
    gap = 256 - len(data)
    for _ in range(gap):
        data.append(0)
    data.sort()
    return torch.Tensor(data)


# ---------------------------------------------------------------- the CUDA decision functions

def f32_literal(s):
    """A C/C++ (and Java) float literal: the decimal string rounded ONCE to the nearest float32
    (ties to even), as the compiler does for `0.8614784181118011f`. np.float32(float(s)) would
    round twice (to double, then to float32) and lands on the other float for 4 of the NF4
    thresholds, whose decimal is within a double ulp of a float32 halfway point."""
    x = Fraction(s)
    d = F32(float(x))
    best = None
    for c in (np.nextafter(d, F32(-np.inf), dtype=F32), d, np.nextafter(d, F32(np.inf), dtype=F32)):
        err = abs(Fraction(float(c)) - x)
        if best is None or err < best[0] or (err == best[0] and (int(F32(c).view(np.int32)) & 1) == 0):
            best = (err, F32(c))
    return best[1]


# csrc/kernels.cu dQuantizeNF4, in the order the tree tests them
NF4_T = [f32_literal(t) for t in ("0.03979014977812767", "0.3893125355243683", "0.6427869200706482", "0.8614784181118011",
                                  "0.5016634166240692", "0.2035212516784668", "0.2920137718319893", "0.1202552504837513",
                                  "-0.33967943489551544", "-0.13791173323988914", "-0.045525018125772476",
                                  "-0.23460740596055984", "-0.6106329262256622", "-0.4599952697753906",
                                  "-0.8480964004993439")]


def dquantize_nf4(x):
    """csrc/kernels.cu dQuantizeNF4, literally (x a np.float32)."""
    t = NF4_T
    if x > t[0]:
        if x > t[1]:
            if x > t[2]:
                return 0b1111 if x > t[3] else 0b1110
            return 0b1101 if x > t[4] else 0b1100
        if x > t[5]:
            return 0b1011 if x > t[6] else 0b1010
        return 0b1001 if x > t[7] else 0b1000
    if x > t[8]:
        if x > t[9]:
            return 0b0111 if x > t[10] else 0b0110
        return 0b0101 if x > t[11] else 0b0100
    if x > t[12]:
        return 0b0011 if x > t[13] else 0b0010
    return 0b0001 if x > t[14] else 0b0000


FP4_T = [f32_literal(t) for t in ("0.29166667", "0.583333", "0.8333333", "0.4166667", "0.0859375", "0.20833333", "0.00260417")]


def dquantize_fp4(x):
    """csrc/kernels.cu dQuantizeFP4, literally."""
    sign = 0b1000 if x < 0 else 0b0000
    x = F32(abs(x))
    t = FP4_T
    if x > t[0]:
        if x > t[1]:
            return (0b0011 if x > t[2] else 0b0010) + sign
        return (0b101 if x > t[3] else 0b100) + sign
    if x > t[4]:
        return (0b0111 if x > t[5] else 0b0110) + sign
    return (0b0001 if x > t[6] else 0b0000) + sign


def dquantize8(code, x):
    """csrc/kernels.cu dQuantize<0> (the non-stochastic 8-bit binary search), literally."""
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = F32(-1.0), F32(1.0)
    val = code[pivot]
    i = 64
    while i > 0:
        if x > val:
            lower_pivot, lower = pivot, val
            pivot += i
        else:
            upper_pivot, upper = pivot, val
            pivot -= i
        val = code[pivot]
        i >>= 1
    if upper_pivot == 255:
        upper = code[upper_pivot]
    if lower_pivot == 0:
        lower = code[lower_pivot]
    if x > val:
        midpoint = F32((upper + val) * F32(0.5))
        return upper_pivot if x > midpoint else pivot
    midpoint = F32((lower + val) * F32(0.5))
    return lower_pivot if x < midpoint else pivot


def nf4_vectorized(x):
    """The decision tree as a count of thresholds below x (the tree is a binary search over them)."""
    ts = np.sort(np.array(NF4_T, dtype=F32))
    return (x[:, None] > ts[None, :]).sum(axis=1).astype(np.uint8)


FP4_LEAVES = np.array([0, 1, 6, 7, 4, 5, 2, 3], dtype=np.uint8)


def fp4_vectorized(x):
    ts = np.sort(np.array(FP4_T, dtype=F32))
    mag = np.abs(x)
    leaf = FP4_LEAVES[(mag[:, None] > ts[None, :]).sum(axis=1)]
    return (leaf + np.where(x < 0, 8, 0)).astype(np.uint8)


# ---------------------------------------------------------------- quantize / dequantize

def quantize4(values_f32, quant_type, blocksize):
    """values: float32 array (already converted from the stored dtype). Returns packed bytes, absmax, codes."""
    n = values_f32.size
    nb = -(-n // blocksize)
    absmax = np.zeros(nb, dtype=F32)
    codes = np.zeros(n + (n & 1), dtype=np.uint8)
    vec = nf4_vectorized if quant_type == "nf4" else fp4_vectorized
    one = dquantize_nf4 if quant_type == "nf4" else dquantize_fp4
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b in range(nb):
            blk = values_f32[b * blocksize:(b + 1) * blocksize]
            absmax[b] = np.max(np.abs(blk))
            inv = F32(1.0) / absmax[b]
            codes[b * blocksize:b * blocksize + blk.size] = vec((blk * inv).astype(F32))
        if n & 1:
            codes[n] = one(F32(F32(0.0) * (F32(1.0) / absmax[nb - 1])))
    packed = ((codes[0::2] << 4) | codes[1::2]).astype(np.uint8)
    return packed, absmax, codes[:n]


def quantize4_literal_check(values_f32, quant_type, blocksize, codes):
    """The literal scalar decision tree on every element must agree with the vectorized form."""
    one = dquantize_nf4 if quant_type == "nf4" else dquantize_fp4
    n = values_f32.size
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b in range(-(-n // blocksize)):
            blk = values_f32[b * blocksize:(b + 1) * blocksize]
            inv = F32(1.0) / F32(np.max(np.abs(blk)))
            for j, v in enumerate(blk):
                assert one(F32(v * inv)) == codes[b * blocksize + j], (quant_type, b, j, v)


def argmin_codes(values_f32, quant_type, blocksize):
    """bitsandbytes' pure-torch default backend (backends/default/ops.py quantize_4bit): argmin |x - code|."""
    a = torch.from_numpy(values_f32.copy())
    n = a.numel()
    rem = n % blocksize
    full = n // blocksize
    absmax = torch.zeros(full + (1 if rem else 0), dtype=torch.float32)
    absmax[:full] = torch.abs(a[:n - rem].reshape(full, blocksize)).max(dim=-1)[0]
    scaled = torch.clamp(a[:n - rem].reshape(full, blocksize) * (1 / absmax[:full].view(-1, 1)), -1, 1).reshape(-1)
    if rem:
        absmax[-1] = torch.abs(a[n - rem:]).max()
        scaled = torch.cat([scaled, torch.clamp(a[n - rem:] * (1 / absmax[-1]), -1, 1)])
    code = torch.from_numpy(nf4_table() if quant_type == "nf4" else fp4_table())
    return torch.argmin(torch.abs(scaled.view(-1, 1) - code), dim=-1).to(torch.uint8).numpy()


def offset_of(absmax):
    s = 0.0
    for a in absmax.tolist():           # sequential float64 sum, as the Java side does
        s += a
    return F32(s / absmax.size)


def double_quant(absmax, dyn):
    offset = offset_of(absmax)
    v = (absmax - offset).astype(F32)
    nb2 = -(-v.size // 256)
    absmax2 = np.zeros(nb2, dtype=F32)
    q = np.zeros(v.size, dtype=np.uint8)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b in range(nb2):
            blk = v[b * 256:(b + 1) * 256]
            absmax2[b] = np.max(np.abs(blk))
            inv = F32(1.0) / absmax2[b]
            for j, x in enumerate(blk):
                q[b * 256 + j] = dquantize8(dyn, F32(x * inv))
    torch_mean = float(torch.from_numpy(absmax.copy()).mean()) == float(offset)
    return q, absmax2, offset, torch_mean


def dequant_scales(q, absmax2, offset, dyn):
    idx = np.arange(q.size) // 256
    return ((dyn[q] * absmax2[idx]).astype(F32) + offset).astype(F32)


def dequant4(codes, scales, blocksize, quant_type):
    table = nf4_table() if quant_type == "nf4" else fp4_table()
    idx = np.arange(codes.size) // blocksize
    with np.errstate(invalid="ignore", over="ignore"):
        return (table[codes] * scales[idx]).astype(F32)


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f4").tobytes()).hexdigest()


# ---------------------------------------------------------------- inputs

def next_up(x):
    return np.nextafter(F32(x), F32(np.inf), dtype=F32)


def next_down(x):
    return np.nextafter(F32(x), F32(-np.inf), dtype=F32)


def inputs():
    rng = np.random.default_rng(20240531)
    ins = {}
    # a random weight with outliers, odd element count (3 x 2991 = 8973), spanning 3 blocks of 4096
    r = (rng.standard_normal(3 * 2991) * 0.02).astype(F32)
    r[rng.integers(0, r.size, 40)] *= 8
    ins["random"] = ("F32", (3, 2991), r)
    ins["zeros"] = ("F32", (200,), np.zeros(200, dtype=F32))
    ins["const"] = ("F32", (130,), np.full(130, 0.37, dtype=F32))
    ins["const_neg"] = ("F32", (64,), np.full(64, -2.5, dtype=F32))
    tiny = (rng.uniform(-1, 1, 256) * 1e-40).astype(F32)          # denormal blocks: 1/absmax overflows
    tiny[128:192] = (rng.uniform(-1, 1, 64) * 1e-37).astype(F32)  # normal-but-small block
    tiny[200] = F32(3e-39)                                        # just above 1/FLT_MAX
    ins["tiny"] = ("F32", (256,), tiny)
    huge = (rng.uniform(-1, 1, 192) * 1e37).astype(F32)
    huge[64:128] = (rng.uniform(-1, 1, 64) * 3.0e38).astype(F32)  # 1/absmax is denormal (IEEE, no FTZ)
    huge[130] = F32(-3.4e38)
    ins["huge"] = ("F32", (192,), huge)
    # blocks whose absmax spans 1e-6 .. 1e3 (300 blocks of 32, two 256-block groups): stresses the nested quantization
    scales = (10.0 ** rng.uniform(-6, 3, 300)).astype(F32)
    mixed = (rng.standard_normal((300, 32)) * scales[:, None]).astype(F32).reshape(-1)
    mixed[32 * 17:32 * 18] = 0                                   # a zero block among them
    ins["mixed_bf16"] = ("BF16", (300, 32), mixed)
    ins["f16"] = ("F16", (5, 13), (rng.standard_normal(65) * 0.5).astype(F32))
    for n in (1, 3, 63, 65, 255, 257):
        ins["odd%d" % n] = ("F32", (n,), (rng.standard_normal(n) * 0.1).astype(F32))
    ins["odd_2d"] = ("F32", (7, 9), (rng.standard_normal(63) * 0.1).astype(F32))
    # thresholds, their neighbours and the code values, in blocks whose absmax is exactly 1 (scale 1)
    # and exactly 2 (scale 0.5): every comparison happens at the exact float32 threshold
    for name, thr, table in (("ties_nf4", NF4_T, nf4_table()), ("ties_fp4", FP4_T + [-t for t in FP4_T], fp4_table())):
        vals = [F32(1.0)]
        for t in thr:
            vals += [F32(t), next_up(t), next_down(t)]
        vals += [F32(c) for c in table] + [F32(-0.0), F32(0.0), F32(-1e-3), F32(1e-3)]
        b1 = np.array(vals, dtype=F32)
        b2 = (b1 * F32(2.0)).astype(F32)
        pad = lambda b: np.concatenate([b, np.zeros((-b.size) % 64, dtype=F32)]).astype(F32)
        ins[name] = ("F32", (2 * pad(b1).size,), np.concatenate([pad(b1), pad(b2)]).astype(F32))
    return ins


def stored(dtype, values):
    """The stored tensor and the float32 values the quantizer sees."""
    t = torch.from_numpy(values.copy())
    if dtype == "BF16":
        t = t.to(torch.bfloat16)
    elif dtype == "F16":
        t = t.to(torch.float16)
    return t, t.float().numpy().astype(F32)


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors, cases = {}, []
    nf4, fp4 = nf4_table(), fp4_table()
    assert [float(v) for v in nf4] == NF4
    regenerated = sorted(set(create_normal_map().tolist()))
    assert regenerated == NF4, "create_normal_map does not regenerate the NF4 table"
    dyn_t = create_dynamic_map(signed=True)
    dyn = dyn_t.numpy().astype(F32)
    assert dyn.size == 256 and float(dyn[-1]) == 1.0
    tensors["nf4_code"] = torch.from_numpy(nf4.copy())
    tensors["fp4_code"] = torch.from_numpy(fp4.copy())
    tensors["dynamic_map"] = dyn_t.clone()
    # midpoint facts behind the tie rule
    for t in NF4_T:                      # each literal is within one float32 step of a true midpoint
        m = min(((Fraction(NF4[i]) + Fraction(NF4[i + 1])) / 2 for i in range(15)), key=lambda m: abs(m - Fraction(float(t))))
        assert abs(Fraction(float(t)) - m) < Fraction(abs(float(np.spacing(F32(t))))), t

    ins = inputs()
    for name, (dtype, shape, vals) in ins.items():
        t, f = stored(dtype, vals)
        tensors["in." + name] = t.reshape(shape).contiguous()
        ins[name] = (dtype, shape, f)

    full_dequant = {"odd257.nf4.64.nested", "odd_2d.fp4.64.plain", "ties_nf4.nf4.64.plain", "ties_fp4.fp4.64.plain",
                    "tiny.nf4.64.nested", "huge.fp4.64.nested", "zeros.nf4.64.nested"}
    plan = []
    for bs in (32, 64, 128, 256, 512, 1024, 2048, 4096):
        for qt in ("nf4", "fp4"):
            for nested in (False, True):
                plan.append(("random", qt, bs, nested))
    for name in ins:
        if name == "random":
            continue
        bss = (32, 64) if name == "mixed_bf16" else (64,)
        for bs in bss:
            for qt in ("nf4", "fp4"):
                for nested in (False, True):
                    plan.append((name, qt, bs, nested))
    notes_argmin = {}
    for name, qt, bs, nested in plan:
        dtype, shape, f = ins[name]
        cid = "%s.%s.%d.%s" % (name, qt, bs, "nested" if nested else "plain")
        packed, absmax, codes = quantize4(f, qt, bs)
        if bs in (64, 4096) or name != "random":
            quantize4_literal_check(f, qt, bs, codes)
        if not nested:                      # the nested case has the same codes: stored once, under the plain id
            tensors[cid + ".packed"] = torch.from_numpy(packed.copy())
        entry = {"id": cid, "input": name, "dtype": dtype, "shape": list(shape), "quant_type": qt, "blocksize": bs,
                 "nested": nested}
        if nested:
            q, absmax2, offset, torch_mean = double_quant(absmax, dyn)
            tensors[cid + ".qabsmax"] = torch.from_numpy(q.copy())
            tensors[cid + ".absmax2"] = torch.from_numpy(absmax2.copy())
            tensors[cid + ".offset"] = torch.tensor([float(offset)], dtype=torch.float32)
            scales = dequant_scales(q, absmax2, offset, dyn)
            entry["torch_mean_matches"] = torch_mean
        else:
            tensors[cid + ".absmax"] = torch.from_numpy(absmax.copy())
            scales = absmax
        deq = dequant4(codes, scales, bs, qt)
        entry["dequant_sha256"] = sha(deq)
        if cid in full_dequant:
            tensors[cid + ".dequant"] = torch.from_numpy(deq.copy())
        am = argmin_codes(f, qt, bs)
        diff = np.nonzero(am != codes)[0]
        entry["argmin_differences"] = int(diff.size)
        if diff.size:
            notes_argmin[cid] = [[float(f[i]), int(codes[i]), int(am[i])] for i in diff[:8]]
        cases.append(entry)

    # the NF4 argmin backend differs only on the four literals above their midpoint (twice: scale 1 and 1/2)
    for cid, diffs in notes_argmin.items():
        if cid.split(".")[1] == "nf4":
            assert cid.startswith("ties_nf4"), (cid, diffs)
    assert all(c["argmin_differences"] == 8 for c in cases if c["input"] == "ties_nf4" and c["quant_type"] == "nf4"), "NF4 ties"
    # random data: the two NF4 forms agree everywhere
    assert all(c["argmin_differences"] == 0 for c in cases if c["input"] == "random" and c["quant_type"] == "nf4")

    # 8-bit quantizer probes: code values, float32 midpoints and their neighbours, random, specials
    rng = np.random.default_rng(7)
    xs = list(dyn)
    for i in range(255):
        m = F32((dyn[i] + dyn[i + 1]) * F32(0.5))
        xs += [m, next_up(m), next_down(m)]
    xs += list(rng.uniform(-1, 1, 2000).astype(F32)) + [F32(0.0), F32(-0.0), F32(1.0), F32(-1.0), F32(np.nan),
                                                         F32(1.5), F32(-1.5), F32(np.inf), F32(-np.inf)]
    xs = np.array(xs, dtype=F32)
    tensors["q8.x"] = torch.from_numpy(xs.copy())
    tensors["q8.code"] = torch.from_numpy(np.array([dquantize8(dyn, x) for x in xs], dtype=np.uint8))

    safetensors.torch.save_file(tensors, os.path.join(OUT, "codec.safetensors"), metadata={"format": "pt"})
    manifest = {
        "generator": "tools/golden/nf4_reference.py",
        "torch": torch.__version__, "numpy": np.__version__, "transformers": transformers.__version__,
        "cases": cases,
        "argmin_examples": notes_argmin,
        "notes": [
            "codes follow the CUDA kernels (dQuantizeNF4 / dQuantizeFP4 / dQuantize<0>); argmin_differences counts where "
            "the pure-torch default backend's argmin(|x - code|) picks another code",
            "offset = float32(sequential float64 sum(absmax) / n); torch_mean_matches: whether torch's float32 mean on CPU "
            "gives the same float",
        ],
    }
    with open(os.path.join(OUT, "codec.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    write_state_dicts(dyn)
    print("wrote", len(cases), "cases,", len(tensors), "tensors to", OUT)


# ---------------------------------------------------------------- checkpoint layout

def pack_dict_to_tensor(source_dict):
    """bitsandbytes/utils.py pack_dict_to_tensor."""
    json_bytes = json.dumps(source_dict).encode("utf-8")
    return torch.tensor(list(json_bytes), dtype=torch.uint8)


def linear4bit_state(prefix, w, quant_type, blocksize, nested, dyn):
    """Linear4bit._save_to_state_dict: weight (packed) + QuantState.as_dict(packed=True) under 'weight.'."""
    f = w.float().numpy().astype(F32).reshape(-1)
    packed, absmax, _ = quantize4(f, quant_type, blocksize)
    code = torch.from_numpy(nf4_table() if quant_type == "nf4" else fp4_table())
    out = {prefix + "weight": torch.from_numpy(packed.copy()).reshape(-1, 1)}
    qs = {"quant_type": quant_type, "blocksize": blocksize,
          "dtype": str(w.dtype).strip("torch."), "shape": tuple(w.shape)}
    tens = {"absmax": torch.from_numpy(absmax.copy()), "quant_map": code}
    if nested:
        q, absmax2, offset, _ = double_quant(absmax, dyn)
        tens = {"absmax": torch.from_numpy(q.copy()), "quant_map": code,
                "nested_absmax": torch.from_numpy(absmax2.copy()),
                "nested_quant_map": torch.from_numpy(dyn.copy()).clone()}
        qs.update({"nested_blocksize": 256, "nested_dtype": "float32",
                   "nested_offset": torch.tensor(float(offset), dtype=torch.float32).item()})
    for k, v in tens.items():
        out[prefix + "weight." + k] = v
    out[prefix + "weight.quant_state.bitsandbytes__" + quant_type] = pack_dict_to_tensor(qs)
    return out


def write_state_dicts(dyn):
    g = torch.Generator().manual_seed(11)
    shapes = {
        "model.embed_tokens.weight": (50, 24),
        "model.layers.0.self_attn.q_proj": (24, 24),
        "model.layers.0.self_attn.k_proj": (8, 24),
        "model.layers.0.mlp.up_proj": (40, 24),
        "model.layers.0.mlp.down_proj": (24, 40),
        "model.layers.0.odd_proj": (7, 9),
        "lm_head.weight": (50, 24),
    }
    inputs_ = {}
    for variant, qt, bs, nested, dt in (("nf4", "nf4", 64, True, torch.bfloat16), ("fp4", "fp4", 128, False, torch.float32)):
        state = {}
        for name, shp in shapes.items():
            w = (torch.randn(shp, generator=g) * 0.05).to(dt)
            key = name if name.endswith(".weight") else name + ".weight"
            inputs_[variant + "." + key] = w.clone()
            if name.endswith(".weight"):                      # embedding and lm_head stay unquantized
                state[name] = w
            else:
                state.update(linear4bit_state(name + ".", w, qt, bs, nested, dyn))
        state["model.layers.0.self_attn.q_proj.bias"] = torch.linspace(-1, 1, 24).to(dt)
        inputs_[variant + ".model.layers.0.self_attn.q_proj.bias"] = state["model.layers.0.self_attn.q_proj.bias"].clone()
        state["model.norm.weight"] = torch.ones(24, dtype=dt)
        inputs_[variant + ".model.norm.weight"] = state["model.norm.weight"].clone()
        safetensors.torch.save_file(state, os.path.join(OUT, "state_%s.safetensors" % variant), metadata={"format": "pt"})
    safetensors.torch.save_file(inputs_, os.path.join(OUT, "state_inputs.safetensors"), metadata={"format": "pt"})
    cfg = transformers.LlamaConfig(vocab_size=50, hidden_size=24, intermediate_size=40, num_hidden_layers=1,
                                   num_attention_heads=3, num_key_value_heads=1, max_position_embeddings=64)
    cfg.quantization_config = transformers.BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16)
    with open(os.path.join(OUT, "config_nf4.json"), "w") as fh:
        fh.write(cfg.to_json_string())


if __name__ == "__main__":
    main()
