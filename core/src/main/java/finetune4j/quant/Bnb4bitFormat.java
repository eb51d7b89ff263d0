package finetune4j.quant;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.ModelFormatException;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.QuantType;
import finetune4j.engine.tensor.QuantizedWeight;
import finetune4j.internal.PyJson;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One 4-bit weight in a Hugging Face bitsandbytes checkpoint (bitsandbytes {@code Linear4bit._save_to_state_dict}
 * + {@code QuantState.as_dict(packed=True)}; SPECS.md §3b). For the weight {@code W = <module>.weight}:
 *
 * <pre>
 *   W                                       U8 [(n+1)/2, 1]   packed codes (high nibble first)
 *   W.absmax                                F32 [blocks], or U8 [blocks] when double-quantized
 *   W.quant_map                             F32 [16]          the NF4 / FP4 table
 *   W.nested_absmax                         F32 [ceil(blocks/256)]   (double quantization only)
 *   W.nested_quant_map                      F32 [256]         the 8-bit map  (double quantization only)
 *   W.quant_state.bitsandbytes__nf4|fp4     U8 [len]          json.dumps of {"quant_type", "blocksize", "dtype",
 *                                                             "shape", ["nested_blocksize", "nested_dtype", "nested_offset"]}
 * </pre>
 *
 * Reading checks every key and size against the quant state and names the tensor in each error
 * ({@link ModelFormatException}); the weight keeps the mapped segments (no copy to the heap; only
 * the 256-value nested map is copied). Writing produces the same keys, shapes and JSON bytes as
 * bitsandbytes (the safetensors file is then byte-identical to {@code safetensors.torch.save_file}
 * of transformers' state dict, see the golden test).
 */
final class Bnb4bitFormat {
    static final String STATE = ".quant_state.bitsandbytes__";
    private static final Set<String> SUFFIXES = Set.of(".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
            STATE + "nf4", STATE + "fp4");

    private Bnb4bitFormat() {
    }

    /** True when {@code weightName} has a quant-state key (any bitsandbytes type, supported or not). */
    static boolean isQuantized(ModelWeights w, String weightName) {
        return !stateKeys(w, weightName).isEmpty();
    }

    /** The {@code W.quant_state.*} keys of a weight. */
    private static List<String> stateKeys(ModelWeights w, String weightName) {
        String p = weightName + ".quant_state.";
        List<String> out = new ArrayList<>();
        for (String k : w.names()) if (k.startsWith(p)) out.add(k);
        return out;
    }

    /**
     * The names of the weights of {@code w} that carry a quant state.
     *
     * @throws ModelFormatException for quant-state tensors ({@code W.absmax}, {@code W.quant_map}, ...)
     *                              of a weight that has no quant-state key
     */
    static List<String> quantizedWeights(ModelWeights w) {
        Set<String> out = new LinkedHashSet<>();
        for (String k : w.names()) {
            int i = k.indexOf(".quant_state.");
            if (i > 0) out.add(k.substring(0, i));
        }
        for (String k : w.names()) {
            for (String suffix : List.of(".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map")) {
                if (k.endsWith(".weight" + suffix)) {
                    String weight = k.substring(0, k.length() - suffix.length());
                    if (!out.contains(weight)) {
                        throw new ModelFormatException(String.valueOf(w.fileOf(k)), "tensor '" + k + "' belongs to the quant state of '"
                                + weight + "', which has no quant-state key '" + weight + STATE + "nf4' (or fp4): the 4-bit"
                                + " checkpoint is incomplete");
                    }
                }
            }
        }
        return new ArrayList<>(out);
    }

    /**
     * Reads and validates the 4-bit weight {@code weightName}.
     *
     * @throws ModelFormatException naming the tensor: a missing or unexpected key, an unsupported
     *                              quant type, block size or dtype, a shape or size that disagrees
     *                              with the quant state, a malformed quant-state JSON
     */
    static QuantizedWeight read(ModelWeights w, String weightName) {
        String W = weightName;
        List<String> states = stateKeys(w, W);
        String file = String.valueOf(w.fileOf(states.isEmpty() ? W : states.getFirst()));
        if (states.size() != 1) {
            throw new ModelFormatException(file, states.isEmpty() ? "tensor '" + W + "' has no quant-state key '" + W + STATE
                    + "nf4' or '" + W + STATE + "fp4'" : "tensor '" + W + "' has " + states.size() + " quant-state keys " + states
                    + "; bitsandbytes requires exactly one");
        }
        String stateKey = states.getFirst();
        String suffixType = stateKey.substring((W + ".quant_state.").length());
        if (!suffixType.startsWith("bitsandbytes__") || QuantType.parse(suffixType.substring("bitsandbytes__".length())) == null) {
            throw new ModelFormatException(file, "quant-state key '" + stateKey + "' has an unsupported type '" + suffixType
                    + "'; supported: bitsandbytes__nf4, bitsandbytes__fp4");
        }
        QuantType keyType = QuantType.parse(suffixType.substring("bitsandbytes__".length()));
        for (String k : w.names()) {
            if (k.startsWith(W + ".") && !SUFFIXES.contains(k.substring(W.length()))) {
                throw new ModelFormatException(String.valueOf(w.fileOf(k)), "unexpected tensor '" + k + "' next to the 4-bit weight '"
                        + W + "' (a bitsandbytes quant state has absmax, quant_map, nested_absmax, nested_quant_map and one"
                        + " quant_state.bitsandbytes__nf4|fp4)");
            }
        }
        JsonNode st = stateJson(w, stateKey, file);

        String qt = text(st, "quant_type", stateKey, file);
        QuantType type = QuantType.parse(qt);
        if (type == null) {
            throw new ModelFormatException(file, "tensor '" + stateKey + "': unsupported quant_type '" + qt + "' (supported: nf4, fp4)");
        }
        if (type != keyType) {
            throw new ModelFormatException(file, "tensor '" + stateKey + "' says quant_type '" + qt + "' but its key names "
                    + keyType.bnbName() + "; the quant state is inconsistent");
        }
        int blocksize = integer(st, "blocksize", stateKey, file);
        if (!QuantizedWeight.isSupportedBlocksize(blocksize)) {
            throw new ModelFormatException(file, "tensor '" + stateKey + "': unsupported blocksize " + blocksize
                    + " (bitsandbytes uses powers of two from 32 to 4096)");
        }
        DType dtype = torchDtype(text(st, "dtype", stateKey, file));
        if (dtype == null) {
            throw new ModelFormatException(file, "tensor '" + stateKey + "': dtype '" + st.get("dtype").asText()
                    + "' is not one of float32, bfloat16, float16");
        }
        JsonNode shape = st.get("shape");
        if (shape == null || !shape.isArray() || shape.size() != 2 || !shape.get(0).canConvertToInt() || !shape.get(1).canConvertToInt()
                || shape.get(0).asInt() < 0 || shape.get(1).asInt() < 0) {
            throw new ModelFormatException(file, "tensor '" + stateKey + "': 'shape' must be [out_features, in_features], got " + shape);
        }
        int rows = shape.get(0).asInt(), cols = shape.get(1).asInt();
        long n = (long) rows * cols;
        long blocks = QuantizedWeight.blocks(n, blocksize);

        TensorInfo packedInfo = require(w, W, "the packed 4-bit codes", file);
        if (packedInfo.byteSize() != QuantizedWeight.packedBytes(n)) {
            throw new ModelFormatException(String.valueOf(w.fileOf(W)), "tensor '" + W + "' holds " + packedInfo.byteSize() + " bytes "
                    + packedInfo.dtype() + " " + packedInfo.shapeString() + " but its quant state says shape [" + rows + ", " + cols
                    + "]: " + n + " 4-bit codes need " + QuantizedWeight.packedBytes(n) + " bytes");
        }
        TensorInfo qmap = require(w, W + ".quant_map", "the " + type.bnbName() + " code table", file);
        float[] map = floats(w, qmap, DType.F32, 16, file);
        if (!Arrays.equals(map, type.code())) {
            QuantType other = type == QuantType.NF4 ? QuantType.FP4 : QuantType.NF4;
            throw new ModelFormatException(String.valueOf(w.fileOf(qmap.name())), "tensor '" + qmap.name() + "' is not the "
                    + type.bnbName() + " table" + (Arrays.equals(map, other.code()) ? " (it is the " + other.bnbName() + " table)" : "")
                    + " although the quant state says quant_type " + type.bnbName());
        }
        boolean nestedJson = st.has("nested_offset") || st.has("nested_blocksize") || st.has("nested_dtype");
        boolean nestedTensors = w.contains(W + ".nested_absmax") || w.contains(W + ".nested_quant_map");
        if (nestedJson != nestedTensors) {
            throw new ModelFormatException(file, "the quant state of '" + W + "' is inconsistent: " + (nestedJson
                    ? "'" + stateKey + "' describes double quantization (nested_*) but '" + W + ".nested_absmax' / '"
                      + W + ".nested_quant_map' are missing"
                    : "'" + W + ".nested_absmax' / '.nested_quant_map' are present but '" + stateKey + "' has no nested_offset,"
                      + " nested_blocksize, nested_dtype"));
        }
        TensorInfo am = require(w, W + ".absmax", "the block scales", file);
        QuantizedWeight.Scales scales;
        if (nestedJson) {
            for (String k : List.of("nested_offset", "nested_blocksize", "nested_dtype")) {
                if (!st.has(k)) {
                    throw new ModelFormatException(file, "tensor '" + stateKey + "' lacks '" + k + "' (double quantization needs"
                            + " nested_offset, nested_blocksize and nested_dtype)");
                }
            }
            int nbs = integer(st, "nested_blocksize", stateKey, file);
            if (nbs <= 0) throw new ModelFormatException(file, "tensor '" + stateKey + "': nested_blocksize " + nbs + " must be > 0");
            if (!"float32".equals(st.get("nested_dtype").asText())) {
                throw new ModelFormatException(file, "tensor '" + stateKey + "': nested_dtype '" + st.get("nested_dtype").asText()
                        + "' is not float32");
            }
            JsonNode off = st.get("nested_offset");
            if (!off.isNumber() || !Double.isFinite(off.asDouble())) {
                throw new ModelFormatException(file, "tensor '" + stateKey + "': nested_offset must be a finite number, got " + off);
            }
            checkTensor(w, am, DType.U8, blocks, "one 8-bit code per block of " + blocksize + " (double quantization)", file);
            long groups = (blocks + nbs - 1) / nbs;
            TensorInfo na = require(w, W + ".nested_absmax", "the nested block scales", file);
            checkTensor(w, na, DType.F32, groups, "one FP32 scale per " + nbs + " blocks", file);
            TensorInfo nm = require(w, W + ".nested_quant_map", "the 8-bit map", file);
            float[] code = floats(w, nm, DType.F32, 256, file);
            scales = new QuantizedWeight.Scales.Nested(w.data(am.name()), w.data(na.name()), code, (float) off.asDouble(), nbs);
        } else {
            checkTensor(w, am, DType.F32, blocks, "one FP32 absmax per block of " + blocksize, file);
            scales = new QuantizedWeight.Scales.Absmax(w.data(am.name()));
        }
        return new QuantizedWeight(W, type, rows, cols, blocksize, w.data(W), scales, dtype);
    }

    private static JsonNode stateJson(ModelWeights w, String key, String file) {
        TensorInfo t = w.info(key);
        if (t.dtype() != DType.U8 || t.rank() != 1) {
            throw new ModelFormatException(file, "quant-state tensor '" + key + "' is " + t.dtype() + " " + t.shapeString()
                    + "; expected U8 [len] holding UTF-8 JSON");
        }
        String text = new String(w.data(key).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        JsonNode n;
        try {
            n = PyJson.parse(text);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file, "quant-state tensor '" + key + "' is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (n == null || !n.isObject()) throw new ModelFormatException(file, "quant-state tensor '" + key + "' is not a JSON object");
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!List.of("quant_type", "blocksize", "dtype", "shape", "nested_blocksize", "nested_dtype", "nested_offset").contains(k)) {
                throw new ModelFormatException(file, "quant-state tensor '" + key + "' has an unknown key '" + k + "'");
            }
        }
        return n;
    }

    private static TensorInfo require(ModelWeights w, String name, String what, String file) {
        TensorInfo t = w.info(name);
        if (t == null) {
            throw new ModelFormatException(file, "tensor '" + name + "' (" + what + ") is missing from the 4-bit checkpoint"
                    + " (hint: an incomplete download or a checkpoint saved without its quant state)");
        }
        return t;
    }

    private static void checkTensor(ModelWeights w, TensorInfo t, DType dtype, long count, String what, String file) {
        if (t.dtype() != dtype || t.rank() != 1 || t.dim(0) != count) {
            throw new ModelFormatException(String.valueOf(w.fileOf(t.name())), "tensor '" + t.name() + "' is " + t.dtype() + " "
                    + t.shapeString() + "; the quant state needs " + dtype + " [" + count + "]: " + what);
        }
    }

    private static float[] floats(ModelWeights w, TensorInfo t, DType dtype, int count, String file) {
        checkTensor(w, t, dtype, count, count + " code values", file);
        return w.data(t.name()).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
    }

    private static String text(JsonNode st, String key, String stateKey, String file) {
        JsonNode v = st.get(key);
        if (v == null || !v.isTextual()) {
            throw new ModelFormatException(file, "tensor '" + stateKey + "' lacks the string '" + key + "' (got " + v + ")");
        }
        return v.asText();
    }

    private static int integer(JsonNode st, String key, String stateKey, String file) {
        JsonNode v = st.get(key);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ModelFormatException(file, "tensor '" + stateKey + "' lacks the integer '" + key + "' (got " + v + ")");
        }
        return v.asInt();
    }

    /** torch dtype names as {@code str(dtype).strip("torch.")} writes them. */
    static DType torchDtype(String s) {
        return switch (s) {
            case "float32" -> DType.F32;
            case "bfloat16" -> DType.BF16;
            case "float16" -> DType.F16;
            default -> null;
        };
    }

    static String torchName(DType d) {
        return switch (d) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> throw new IllegalArgumentException(d + " is not a float dtype");
        };
    }

    // ------------------------------------------------------------------ writing

    /** Adds the weight and its quant state under {@code q.name()} as bitsandbytes saves them. */
    static void write(SafetensorsWriter out, QuantizedWeight q) {
        String W = q.name();
        out.add(W, DType.U8, new long[]{q.packed().byteSize(), 1}, q.packed());
        switch (q.scales()) {
            case QuantizedWeight.Scales.Absmax a -> out.add(W + ".absmax", DType.F32, new long[]{a.blocks()}, a.absmax());
            case QuantizedWeight.Scales.Nested nst -> {
                out.add(W + ".absmax", DType.U8, new long[]{nst.blocks()}, nst.q());
                out.add(W + ".nested_absmax", DType.F32, new long[]{nst.absmax2().byteSize() / 4}, nst.absmax2());
                out.add(W + ".nested_quant_map", new long[]{256}, nst.code());
            }
        }
        out.add(W + ".quant_map", new long[]{16}, q.type().code());
        byte[] json = stateJson(q).getBytes(StandardCharsets.UTF_8);
        out.add(W + STATE + q.type().bnbName(), DType.U8, new long[]{json.length}, MemorySegment.ofArray(json));
    }

    /**
     * {@code json.dumps} of the non-tensor part of {@code QuantState.as_dict(packed=True)}: default
     * separators, keys in bitsandbytes' order, {@code nested_offset} as Python's {@code repr} of
     * the FP32 value widened to double ({@code offset.item()}).
     */
    static String stateJson(QuantizedWeight q) {
        StringBuilder sb = new StringBuilder(160);
        sb.append("{\"quant_type\": \"").append(q.type().bnbName()).append("\", \"blocksize\": ").append(q.blocksize())
                .append(", \"dtype\": \"").append(torchName(q.dtype())).append("\", \"shape\": [").append(q.rows()).append(", ")
                .append(q.cols()).append(']');
        if (q.scales() instanceof QuantizedWeight.Scales.Nested nst) {
            sb.append(", \"nested_blocksize\": ").append(nst.blocksize()).append(", \"nested_dtype\": \"float32\", \"nested_offset\": ")
                    .append(PyJson.floatRepr(nst.offset()));
        }
        return sb.append('}').toString();
    }
}
