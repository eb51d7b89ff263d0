package finetune4j.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.engine.io.SafetensorsFile;
import finetune4j.engine.io.TensorInfo;
import finetune4j.engine.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Access to the goldens of tools/golden/nf4_reference.py (core/src/test/resources/golden/quant). */
final class QuantGolden {
    private QuantGolden() {
    }

    static Path resource(String rel) {
        URL url = QuantGolden.class.getResource("/golden/quant/" + rel);
        if (url == null) throw new IllegalStateException("test resource missing: golden/quant/" + rel + " (run tools/golden/nf4_reference.py)");
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode manifest() {
        try {
            return new ObjectMapper().readTree(resource("codec.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A float tensor (F32/BF16/F16) converted to FP32. */
    static float[] floats(SafetensorsFile f, String name) {
        TensorInfo t = info(f, name);
        MemorySegment seg = f.data(name);
        float[] out = new float[(int) t.numel()];
        for (int i = 0; i < out.length; i++) out[i] = t.dtype().getFloat(seg, i);
        return out;
    }

    static byte[] bytes(SafetensorsFile f, String name) {
        info(f, name);
        return f.data(name).toArray(ValueLayout.JAVA_BYTE);
    }

    static TensorInfo info(SafetensorsFile f, String name) {
        TensorInfo t = f.info(name);
        if (t == null) throw new IllegalStateException("no golden tensor " + name + " in " + f.path());
        return t;
    }

    static DType dtype(SafetensorsFile f, String name) {
        return info(f, name).dtype();
    }

    /** SHA-256 of the little-endian FP32 bytes, as the reference script computes it. */
    static String sha256(float[] v) {
        ByteBuffer bb = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) bb.putFloat(x);
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bb.array()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] segmentBytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }
}
