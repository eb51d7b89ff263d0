package finetune4j.engine.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.Finetune4jException;
import finetune4j.engine.tensor.DType;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The writer against goldens of an independent implementation of the reference writer
 * ({@code tools/golden/make_safetensors_golden.py}), the real stories260K file, and round trips.
 */
class SafetensorsWriterTest {
    @TempDir
    Path tmp;

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = SafetensorsWriterTest.class.getResourceAsStream("/finetune4j/engine/io/" + name)) {
            assertThat(in).as("test resource " + name).isNotNull();
            return in.readAllBytes();
        }
    }

    /** Rebuilds the golden's inputs from its manifest, in manifest (= insertion, not storage) order. */
    private static SafetensorsWriter fromManifest() throws IOException {
        JsonNode m = new ObjectMapper().readTree(resource("golden_mixed.json"));
        SafetensorsWriter w = SafetensorsWriter.create();
        for (JsonNode kv : m.get("metadata")) w.metadata(kv.get(0).asText(), kv.get(1).asText());
        int k = 0;
        for (JsonNode t : m.get("tensors")) {
            String name = t.get("name").asText();
            DType dtype = DType.valueOf(t.get("dtype").asText());
            long[] shape = new long[t.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = t.get("shape").get(i).asLong();
            long numel = Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            switch (t.get("rule").asText()) {
                case "float" -> {
                    double[] v = new double[(int) numel];
                    for (int i = 0; i < numel; i++) v[i] = (i - numel / 2) * 0.25 + k;
                    if (dtype == DType.F64) {
                        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                        for (double d : v) b.putDouble(d);
                        w.add(name, dtype, shape, MemorySegment.ofArray(b.array()));
                    } else {
                        float[] f = new float[v.length];
                        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
                        w.add(name, dtype, shape, f);   // converted by the writer
                    }
                }
                case "int" -> {
                    int width = dtype.bits() / 8;
                    ByteBuffer b = ByteBuffer.allocate((int) numel * width).order(ByteOrder.LITTLE_ENDIAN);
                    for (long i = 0; i < numel; i++) {
                        long v = i * 37 + k * 11L - 50;
                        for (int j = 0; j < width; j++) b.put((byte) (v >>> (8 * j)));
                    }
                    w.add(name, dtype, shape, MemorySegment.ofArray(b.array()));
                }
                case "bool" -> {
                    byte[] b = new byte[(int) numel];
                    for (int i = 0; i < numel; i++) b[i] = (byte) ((i + k) % 2);
                    w.add(name, dtype, shape, MemorySegment.ofArray(b));
                }
                case "raw" -> {
                    byte[] b = new byte[(int) dtype.byteSize(numel)];
                    for (int j = 0; j < b.length; j++) b[j] = (byte) (j * 37 + k);
                    w.add(name, dtype, shape, MemorySegment.ofArray(b));
                }
                default -> throw new AssertionError("unknown rule " + t.get("rule"));
            }
            k++;
        }
        return w;
    }

    @Test
    void mixedDtypesAndAwkwardNamesMatchTheIndependentGolden() throws IOException {
        byte[] golden = resource("golden_mixed.safetensors");
        SafetensorsWriter w = fromManifest();
        assertThat(new String(w.toBytes(), StandardCharsets.UTF_8)).isEqualTo(new String(golden, StandardCharsets.UTF_8));
        assertThat(w.toBytes()).isEqualTo(golden);
        Path out = tmp.resolve("mixed.safetensors");
        w.write(out);
        assertThat(Files.readAllBytes(out)).isEqualTo(golden);
    }

    @Test
    void readThenWriteIsByteIdenticalWhateverTheInsertionOrder() throws IOException {
        byte[] golden = resource("golden_mixed.safetensors");
        Path in = StBytes.write(tmp, "in.safetensors", golden);
        try (SafetensorsFile f = SafetensorsFile.open(in)) {
            List<TensorInfo> shuffled = new ArrayList<>(f.tensors());
            Collections.reverse(shuffled);
            SafetensorsWriter w = SafetensorsWriter.create().metadata(f.metadata());
            for (TensorInfo t : shuffled) w.add(t.name(), t.dtype(), t.shape(), f.data(t.name()));
            Path out = tmp.resolve("out.safetensors");
            w.write(out);
            assertThat(Files.readAllBytes(out)).isEqualTo(golden);
            try (SafetensorsFile g = SafetensorsFile.open(out)) {
                assertThat(g.tensors()).isEqualTo(f.tensors());
                assertThat(g.metadata()).containsExactlyEntriesOf(f.metadata());
                for (TensorInfo t : f.tensors()) {
                    assertThat(g.data(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))
                            .as(t.name()).isEqualTo(f.data(t.name()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                }
            }
        }
    }

    /**
     * stories260K was written by a numpy converter, not by the Rust writer: it puts
     * {@code __metadata__} last. Everything else (order, JSON, padding, data) must match; the
     * only difference is that our file, like the reference writer, puts {@code __metadata__} first.
     */
    @Test
    void stories260KRoundTripDiffersOnlyInMetadataPlacement() throws IOException {
        Path src = SharedData.require("models/stories260K/hf/model.safetensors");
        byte[] original = Files.readAllBytes(src);
        Path out = tmp.resolve("model.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            SafetensorsWriter w = SafetensorsWriter.create().metadata(f.metadata());
            for (TensorInfo t : f.tensors()) w.add(t.name(), t.dtype(), t.shape(), f.data(t.name()));
            w.write(out);
        }
        byte[] ours = Files.readAllBytes(out);
        String meta = ",\"__metadata__\":{\"format\":\"pt\"}";
        String origHeader = new String(original, 8, (int) ByteBuffer.wrap(original).order(ByteOrder.LITTLE_ENDIAN).getLong(0),
                StandardCharsets.UTF_8);
        assertThat(origHeader).contains(meta + "}");
        String moved = "{\"__metadata__\":{\"format\":\"pt\"}," + origHeader.substring(1).replace(meta, "");
        byte[] expected = original.clone();
        System.arraycopy(moved.getBytes(StandardCharsets.UTF_8), 0, expected, 8, moved.length());
        assertThat(ours.length).isEqualTo(original.length);
        assertThat(new String(ours, 0, 8 + origHeader.length(), StandardCharsets.UTF_8).substring(8)).isEqualTo(moved);
        assertThat(ours).isEqualTo(expected);

        // Without metadata the bytes are identical except the header, which is 31 bytes shorter.
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            SafetensorsWriter w = SafetensorsWriter.create();
            for (TensorInfo t : f.tensors()) w.add(t.name(), t.dtype(), t.shape(), f.data(t.name()));
            byte[] bare = w.toBytes();
            int dataStart = 8 + origHeader.length();
            byte[] origData = Arrays.copyOfRange(original, dataStart, original.length);
            assertThat(Arrays.copyOfRange(bare, bare.length - origData.length, bare.length)).isEqualTo(origData);
        }
    }

    @Test
    void indexJsonMatchesPythonJsonDumps() throws IOException {
        JsonNode m = new ObjectMapper().readTree(resource("golden_mixed.json"));
        Map<String, String> weightMap = new TreeMap<>(JsonText.CODE_POINT_ORDER);
        int k = 0;
        for (JsonNode t : m.get("tensors")) {
            weightMap.put(t.get("name").asText(), String.format("model-%05d-of-%05d.safetensors", 1 + k % 3, 3));
            k++;
        }
        long total = fromManifest().dataSize();
        assertThat(SafetensorsWriter.indexJson(total, weightMap))
                .isEqualTo(new String(resource("golden_index.json"), StandardCharsets.UTF_8));
    }

    @Test
    void serdeEscaping() {
        StringBuilder sb = new StringBuilder();
        JsonText.serde(sb, "a\"b\\c\b\t\n\f\r\u0000\u001f\u007f/é😀");
        assertThat(sb.toString()).isEqualTo("\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0000\\u001f\u007f/é😀\"");
        sb.setLength(0);
        JsonText.pythonAscii(sb, "é😀\u007f~");
        assertThat(sb.toString()).isEqualTo("\"\\u00e9\\ud83d\\ude00\\u007f~\"");
    }

    @Test
    void shardingFollowsHubSplitRulesAndRemovesStaleFiles() throws IOException {
        Files.writeString(tmp.resolve("model.safetensors"), "stale");
        Files.writeString(tmp.resolve("model-00001-of-00009.safetensors"), "stale");
        Files.writeString(tmp.resolve("config.json"), "{}");
        // sizes 60, 32, 20, 160, 12 bytes with a 100-byte limit: [a,b] [big] [c,e]
        // (the oversized tensor's shard is emitted before the shard still being filled, as in huggingface_hub)
        SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt")
                .add("a", new long[]{15}, new float[15])
                .add("b", DType.BF16, new long[]{16}, new float[16])
                .add("c", new long[]{5}, new float[5])
                .add("big", new long[]{40}, new float[40])
                .add("e", DType.F16, new long[]{2, 3}, new float[]{1, 2, 3, 4, 5, 6});
        List<Path> files = w.writeSharded(tmp, 100);
        assertThat(files).extracting(p -> p.getFileName().toString()).containsExactly(
                "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors", "model.safetensors.index.json");
        assertThat(Files.exists(tmp.resolve("model.safetensors"))).isFalse();
        assertThat(Files.exists(tmp.resolve("model-00001-of-00009.safetensors"))).isFalse();
        assertThat(Files.exists(tmp.resolve("config.json"))).isTrue();
        assertThat(Files.readString(tmp.resolve("model.safetensors.index.json"))).isEqualTo("""
                {
                  "metadata": {
                    "total_size": 284
                  },
                  "weight_map": {
                    "a": "model-00001-of-00003.safetensors",
                    "b": "model-00001-of-00003.safetensors",
                    "big": "model-00002-of-00003.safetensors",
                    "c": "model-00003-of-00003.safetensors",
                    "e": "model-00003-of-00003.safetensors"
                  }
                }
                """);
        try (ModelWeights mw = ModelWeights.open(tmp)) {
            assertThat(mw.names()).containsExactly("a", "b", "big", "c", "e");
            assertThat(mw.floats("e")).containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(mw.fileOf("big").getFileName().toString()).isEqualTo("model-00002-of-00003.safetensors");
        }
        try (SafetensorsFile f = SafetensorsFile.open(tmp.resolve("model-00003-of-00003.safetensors"))) {
            assertThat(f.metadata()).containsEntry("format", "pt");
            assertThat(f.tensors()).extracting(TensorInfo::name).containsExactly("c", "e");  // F32 before F16
        }

        List<Path> single = w.writeSharded(tmp, 1L << 30);
        assertThat(single).extracting(p -> p.getFileName().toString()).containsExactly("model.safetensors");
        try (var l = Files.list(tmp)) {
            assertThat(l.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("config.json", "model.safetensors");
        }
    }

    @Test
    void floatsAreRoundedToNearestEvenAndReadBackBitExact() throws IOException {
        float[] v = {1.00390625f, 1.01171875f, -0f, Float.MIN_VALUE, 65520f, Float.NaN, 3.1415927f};
        Path out = tmp.resolve("r.safetensors");
        SafetensorsWriter.create()
                .add("f32", new long[]{7}, v)
                .add("bf16", DType.BF16, new long[]{7}, v)
                .add("f16", DType.F16, new long[]{7}, v)
                .write(out);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            float[] f32 = ModelWeights.toFloats(DType.F32, f.data("f32"), 7);
            for (int i = 0; i < 7; i++) {
                assertThat(Float.floatToRawIntBits(f32[i])).as("f32[%d]", i).isEqualTo(Float.floatToRawIntBits(v[i]));
                assertThat(f.data("bf16").get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i)).as("bf16[%d]", i)
                        .isEqualTo(DType.floatToBf16(v[i]));
                assertThat(f.data("f16").get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i)).as("f16[%d]", i)
                        .isEqualTo(Float.floatToFloat16(v[i]));
            }
            assertThat(DType.BF16.getFloat(f.data("bf16"), 0)).isEqualTo(1.0f);       // tie → even
            assertThat(DType.BF16.getFloat(f.data("bf16"), 1)).isEqualTo(1.015625f);  // tie → even (up)
        }
    }

    @Test
    void atomicWriteReplacesAndLeavesNoTempFiles() throws IOException {
        Path out = tmp.resolve("x.safetensors");
        Files.writeString(out, "old");
        SafetensorsWriter.create().add("a", new long[]{1}, new float[]{1}).write(out);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertThat(f.tensors()).hasSize(1);
        }
        try (var l = Files.list(tmp)) {
            assertThat(l.map(p -> p.getFileName().toString()).toList()).containsExactly("x.safetensors");
        }
        Path blocked = tmp.resolve("file-not-dir");
        Files.writeString(blocked, "");
        assertThatThrownBy(() -> SafetensorsWriter.create().write(blocked.resolve("y.safetensors")))
                .isInstanceOf(Finetune4jException.class).hasMessageContaining("y.safetensors");
    }

    @Test
    void emptyWriterMatchesReferenceBytes() {
        // safetensors tensor.rs test_empty: [8,0,0,0,0,0,0,0] + "{}" + 6 spaces; with metadata 40 bytes
        assertThat(SafetensorsWriter.create().toBytes()).isEqualTo(
                new byte[]{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '});
        byte[] withMeta = SafetensorsWriter.create().metadata("framework", "pt").toBytes();
        assertThat(new String(withMeta, 8, withMeta.length - 8, StandardCharsets.UTF_8))
                .isEqualTo("{\"__metadata__\":{\"framework\":\"pt\"}}     ");
        assertThat(withMeta[0]).isEqualTo((byte) 40);
    }

    @Test
    void programmerErrorsAreRefused() {
        SafetensorsWriter w = SafetensorsWriter.create().add("a", new long[]{2}, new float[2]);
        assertThatThrownBy(() -> w.add("a", new long[]{2}, new float[2])).hasMessageContaining("added twice");
        assertThatThrownBy(() -> w.add("b", new long[]{3}, new float[2])).hasMessageContaining("holds 3 elements");
        assertThatThrownBy(() -> w.add("c", DType.I32, new long[]{3}, MemorySegment.ofArray(new byte[8])))
                .hasMessageContaining("needs 12 bytes");
        assertThatThrownBy(() -> w.add("__metadata__", new long[]{1}, new float[1])).hasMessageContaining("reserved");
        assertThatThrownBy(() -> w.add("bad\uD800", new long[]{1}, new float[1])).hasMessageContaining("lone surrogate");
        assertThatThrownBy(() -> w.add("d", DType.I8, new long[]{1}, new float[1])).hasMessageContaining("cannot convert");
    }
}
