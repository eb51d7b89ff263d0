#!/usr/bin/env python3
"""Safetensors writer goldens, produced by an independent implementation of the reference writer.

What it makes (committed under core/src/test/resources/finetune4j/engine/io/):
  golden_mixed.safetensors   tensors of 15 dtypes (F64, F32, BF16, F16, I64, U64, I32, U32, I16,
                             U16, I8, U8, BOOL, F8_E4M3, F4), a scalar, a zero-size tensor, awkward
                             names (empty, quotes, backslash, control chars, DEL, non-ASCII, and
                             "w\uFF5E" / "w\U0001F600", which sort one way in UTF-8 (Rust, Python)
                             and the other way in UTF-16 (Java's String.compareTo)), metadata with
                             three keys in non-sorted order and escapes.
  golden_mixed.json          the manifest: metadata pairs and tensors in the order they are added
                             (deliberately not the storage order), with the rule that makes each
                             tensor's bytes, so the Java test can rebuild the inputs on its own.
  golden_index.json          a model.safetensors.index.json as transformers writes it
                             (json.dumps(indent=2, sort_keys=True) + "\\n") for awkward names.

Writer rules implemented here from huggingface/safetensors safetensors/src/tensor.rs (prepare)
and serde_json's compact serializer (SPECS.md section 3d):
  1. sort tensors by Dtype enum position descending, then name (Rust str order = UTF-8 bytes);
  2. compact JSON, "__metadata__" first, then tensors in offset order, each
     {"dtype":..,"shape":[..],"data_offsets":[b,e]}; strings escaped like serde_json
     (\\" \\\\ \\b \\t \\n \\f \\r, other bytes < 0x20 as \\u00xx lowercase, the rest raw UTF-8);
  3. pad the header with spaces to a multiple of 8; prefix its length as u64 little-endian.
The real `safetensors` Python package is not installable here (no Debian package, no PyPI);
apt-cache policy python3-safetensors finds nothing. Requires only numpy.

Rerun from the repository root:  python3 tools/golden/make_safetensors_golden.py
"""
import json
import os
import struct
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "core", "src", "test", "resources", "finetune4j", "engine", "io")

# Dtype enum of safetensors/src/tensor.rs, "in increasing alignment order".
DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
               "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32",
               "C64", "F64", "I64", "U64"]
BITS = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
        "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64}
INT_NP = {"U8": "<u1", "I8": "<i1", "I16": "<i2", "U16": "<u2", "I32": "<i4", "U32": "<u4",
          "I64": "<i8", "U64": "<u8"}


def serde_string(s):
    out = ['"']
    short = {'"': '\\"', '\\': '\\\\', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r'}
    for ch in s:
        if ch in short:
            out.append(short[ch])
        elif ord(ch) < 0x20:
            out.append('\\u%04x' % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def save(tensors, metadata):
    """tensors: list of (name, dtype, shape, bytes); metadata: list of (key, value) or None."""
    items = sorted(tensors, key=lambda t: (-DTYPE_ORDER.index(t[1]), t[0].encode("utf-8")))
    parts = []
    if metadata is not None:
        parts.append('"__metadata__":{' + ",".join(serde_string(k) + ":" + serde_string(v) for k, v in metadata) + "}")
    offset = 0
    for name, dtype, shape, data in items:
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        assert len(data) * 8 == numel * BITS[dtype], name
        parts.append(serde_string(name) + ':{"dtype":"' + dtype + '","shape":[' + ",".join(str(d) for d in shape)
                     + '],"data_offsets":[' + str(offset) + "," + str(offset + len(data)) + "]}")
        offset += len(data)
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * ((8 - len(header) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(t[3] for t in items)


def make_bytes(k, dtype, shape):
    """The bytes of the k-th tensor of the manifest (the Java test applies the same rules)."""
    numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
    i = np.arange(numel, dtype=np.int64)
    if dtype in ("F64", "F32", "F16", "BF16"):
        v = (i - numel // 2) * 0.25 + k          # exact in every float format used
        if dtype == "F64":
            return v.astype("<f8").tobytes(), "float"
        if dtype == "F32":
            return v.astype("<f4").tobytes(), "float"
        if dtype == "F16":
            return v.astype("<f2").tobytes(), "float"
        bits = v.astype("<f4").view("<u4")
        return (bits >> 16).astype("<u2").tobytes(), "float"   # exact values: truncation == rounding
    if dtype in INT_NP:
        v = i * 37 + k * 11 - 50
        width = BITS[dtype]
        mask = (1 << width) - 1                  # two's complement wrap to the dtype's width
        return b"".join((int(x) & mask).to_bytes(width // 8, "little") for x in v), "int"
    if dtype == "BOOL":
        return bytes(int((x + k) % 2) for x in i), "bool"
    nbytes = numel * BITS[dtype] // 8
    return bytes((j * 37 + k) & 0xFF for j in range(nbytes)), "raw"


MANIFEST = [
    ("model.layers.1.w", "F32", [2, 3]),
    ("model.layers.0.w", "F32", [3]),
    ("", "U8", [4]),
    ("quote\"back\\slash", "BF16", [2, 2]),
    ("ctl\x01\x1f\x7f tab\t nl\n cr\r bs\b ff\f", "I64", [2]),
    ("\u00fcn\u00efc\u00f8d\u00e9", "F16", [3]),
    ("w\U0001F600", "F32", []),
    ("w\uFF5E", "F32", [1]),
    ("zero", "F32", [0, 3]),
    ("ids", "I32", [5]),
    ("mask", "BOOL", [3]),
    ("big", "U64", [2]),
    ("f64", "F64", [2]),
    ("i8", "I8", [3]),
    ("i16", "I16", [2]),
    ("u16", "U16", [2]),
    ("u32", "U32", [1]),
    ("fp8", "F8_E4M3", [4]),
    ("nibbles", "F4", [2, 3]),
    ("/slash/\u00e9", "F32", [2]),
]
METADATA = [("format", "pt"), ("zeta", "\u00fc\U0001F600 \"quoted\" \\ \n\t\x01\x7f"), ("alpha", "")]


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors, entries = [], []
    for k, (name, dtype, shape) in enumerate(MANIFEST):
        data, rule = make_bytes(k, dtype, shape)
        tensors.append((name, dtype, shape, data))
        entries.append({"name": name, "dtype": dtype, "shape": shape, "rule": rule})
    blob = save(tensors, METADATA)
    with open(os.path.join(OUT, "golden_mixed.safetensors"), "wb") as f:
        f.write(blob)
    manifest = {
        "generator": "tools/golden/make_safetensors_golden.py",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "rules": {
            "float": "element i of tensor k = (i - numel//2) * 0.25 + k",
            "int": "element i of tensor k = (i*37 + k*11 - 50) mod 2^bits, little-endian",
            "bool": "element i of tensor k = (i + k) % 2",
            "raw": "byte j of tensor k = (j*37 + k) & 0xFF",
        },
        "metadata": [[k, v] for k, v in METADATA],
        "tensors": entries,
    }
    with open(os.path.join(OUT, "golden_mixed.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=True)
        f.write("\n")
    weight_map = {name: "model-%05d-of-%05d.safetensors" % (1 + k % 3, 3) for k, (name, _, _) in enumerate(MANIFEST)}
    index = {"metadata": {"total_size": sum(len(t[3]) for t in tensors)}, "weight_map": weight_map}
    with open(os.path.join(OUT, "golden_index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    print("wrote", len(blob), "bytes,", len(tensors), "tensors to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
