"""Minimal safetensors reader/writer on numpy (the `safetensors` package is not installed here).

Format (huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
{"__metadata__": {...}, name: {"dtype", "shape", "data_offsets": [begin, end]}}, then the data.
The writer follows the Rust writer's rules (SPECS.md 3d): tensors sorted by dtype alignment
descending then name, compact JSON with __metadata__ first, header padded with spaces to 8 bytes.
BF16 is carried as uint16 bit patterns (numpy has no bfloat16).
"""
import json
import struct

import numpy as np

# safetensors Dtype enum order ("increasing alignment"); the writer sorts by it descending
DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
               "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
               "C64", "F64", "I64", "U64"]
NP = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I32": np.int32, "I64": np.int64,
      "U8": np.uint8, "F64": np.float64}


def bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x):
    """Round-to-nearest-even float32 -> bfloat16 bits, as torch's .to(torch.bfloat16) does for finite values."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounding = 0x7FFF + ((u >> 16) & 1)
    return ((u + rounding) >> 16).astype(np.uint16)


def read(path):
    """Returns {name: (dtype, np.ndarray)}; BF16 tensors come back as float32 values."""
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        arr = np.frombuffer(buf[base + b:base + en], dtype=NP[e["dtype"]]).reshape(e["shape"])
        if e["dtype"] == "BF16":
            arr = bf16_bits_to_f32(arr)
        out[name] = (e["dtype"], arr.copy())
    return out


def write(path, tensors, metadata=None):
    """tensors: {name: (dtype, np.ndarray)}; for BF16 pass float32 values (rounded here)."""
    items = sorted(tensors.items(), key=lambda kv: (-DTYPE_ORDER.index(kv[1][0]), kv[0]))
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs = []
    off = 0
    for name, (dt, arr) in items:
        if dt == "BF16":
            raw = f32_to_bf16_bits(arr).tobytes()
        else:
            raw = np.ascontiguousarray(arr, dtype=NP[dt]).astype(np.dtype(NP[dt]).newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)
