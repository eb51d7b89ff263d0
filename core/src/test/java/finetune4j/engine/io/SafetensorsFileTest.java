package finetune4j.engine.io;

import finetune4j.ModelFormatException;
import finetune4j.engine.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static finetune4j.engine.io.StBytes.concat;
import static finetune4j.engine.io.StBytes.file;
import static finetune4j.engine.io.StBytes.floatsLe;
import static finetune4j.engine.io.StBytes.shortsLe;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The safetensors reader: a valid file in all its corners, then every kind of broken file. */
class SafetensorsFileTest {
    @TempDir
    Path tmp;

    /** Header listed out of offset order, metadata last, a scalar and a zero-size tensor. */
    private static final String GOOD_HEADER = "{"
            + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[24,28]},"
            + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
            + "\"empty\":{\"dtype\":\"I64\",\"shape\":[0,4],\"data_offsets\":[28,28]},"
            + "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[28,32]},"
            + "\"__metadata__\":{\"format\":\"pt\",\"z\":\"ü\"}}   ";
    private static final byte[] GOOD_DATA = concat(floatsLe(1, 2, 3, 4, 5, -6), shortsLe(0x3F80, 0xC000), floatsLe(7.5f));

    private SafetensorsFile open(byte[] bytes) {
        return SafetensorsFile.open(StBytes.write(tmp, "t.safetensors", bytes));
    }

    private void assertRefused(byte[] bytes, String... fragments) {
        assertThatThrownBy(() -> open(bytes).close())
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("t.safetensors")
                .hasMessageContainingAll(fragments);
    }

    @Test
    void readsEntriesInOffsetOrderWithMetadataAndData() {
        try (SafetensorsFile f = open(file(GOOD_HEADER, GOOD_DATA))) {
            assertThat(f.tensors()).extracting(TensorInfo::name).containsExactly("a", "b", "empty", "s");
            assertThat(f.metadata()).isEqualTo(Map.of("format", "pt", "z", "ü"));
            TensorInfo a = f.info("a");
            assertThat(a.dtype()).isEqualTo(DType.F32);
            assertThat(a.shape()).containsExactly(2, 3);
            assertThat(a.numel()).isEqualTo(6);
            assertThat(f.info("s").rank()).isZero();
            assertThat(f.info("s").numel()).isEqualTo(1);
            assertThat(f.info("empty").numel()).isZero();
            assertThat(f.info("missing")).isNull();

            MemorySegment d = f.data("a");
            assertThat(d.byteSize()).isEqualTo(24);
            assertThat(d.isReadOnly()).isTrue();
            float[] got = d.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            assertThat(got).containsExactly(1, 2, 3, 4, 5, -6);
            assertThat(DType.BF16.getFloat(f.data("b"), 1)).isEqualTo(-2f);
            assertThat(f.data("s").get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0)).isEqualTo(7.5f);
            assertThat(f.data("empty").byteSize()).isZero();
        }
    }

    @Test
    void emptyHeaderAndNoTensorsIsValid() {
        try (SafetensorsFile f = open(file("{}      ", new byte[0]))) {
            assertThat(f.tensors()).isEmpty();
            assertThat(f.metadata()).isEmpty();
        }
    }

    @Test
    void missingKeyNamesFileAndKey() {
        try (SafetensorsFile f = open(file(GOOD_HEADER, GOOD_DATA))) {
            assertThatThrownBy(() -> f.data("model.norm.weight"))
                    .isInstanceOf(ModelFormatException.class)
                    .hasMessageContainingAll("t.safetensors", "'model.norm.weight'");
        }
    }

    @Test
    void segmentsDieWithTheFile() {
        SafetensorsFile f = open(file(GOOD_HEADER, GOOD_DATA));
        MemorySegment d = f.data("a");
        f.close();
        f.close(); // idempotent
        assertThatThrownBy(() -> d.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void missingFile() {
        assertThatThrownBy(() -> SafetensorsFile.open(tmp.resolve("nope.safetensors")))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll("nope.safetensors", "not found");
    }

    @Test
    void truncatedFile() {
        byte[] full = file(GOOD_HEADER, GOOD_DATA);
        assertRefused(Arrays.copyOf(full, full.length - 3), "truncated", "'s'");
        assertRefused(Arrays.copyOf(full, 5), "5 bytes", "too short");
        assertRefused(Arrays.copyOf(full, 40), "header length field says", "truncated");
    }

    @Test
    void terabyteHeaderIsRefusedBeforeAllocating() {
        assertRefused(file(1L << 40, "{}".getBytes(StandardCharsets.UTF_8), new byte[0]),
                "1099511627776", "limit of 100000000");
        assertRefused(file(-1L, new byte[0], new byte[0]), "18446744073709551615");
    }

    @Test
    void corruptedHeader() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]", floatsLe(1)), "not valid JSON");
        assertRefused(file("[1,2,3]", new byte[0]), "not a JSON object");
        assertRefused(file(7, new byte[]{'{', '"', (byte) 0xC3, '"', ':', '1', '}'}, new byte[0]), "not valid UTF-8");
        assertRefused(file("{} x", new byte[0]), "not valid JSON");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[0]), "'a'", "missing 'data_offsets'");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", floatsLe(1)),
                "'a'", "'shape' must be an array");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", floatsLe(1)),
                "'shape' must hold non-negative integers", "1.0");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", floatsLe(1)), "-1");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", floatsLe(1)), "[begin, end]");
        assertRefused(file("{\"a\":[1]}", new byte[0]), "'a'", "expected an object");
        assertRefused(file("{\"__metadata__\":{\"format\":1}}", new byte[0]), "'format'", "must be a string");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999,99999999999,99999999999],"
                + "\"data_offsets\":[0,4]}}", floatsLe(1)), "overflows");
    }

    @Test
    void badDtype() {
        assertRefused(file("{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", floatsLe(1)),
                "'a'", "unknown dtype 'F31'");
        assertRefused(file("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", floatsLe(1)),
                "unknown dtype 'f32'");
    }

    @Test
    void duplicateKeys() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", floatsLe(1, 2)), "'a' twice");
    }

    @Test
    void overlappingTensors() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", floatsLe(1, 2, 3)),
                "'b'", "overlap tensor 'a'");
    }

    @Test
    void gapBetweenTensors() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", floatsLe(1, 2, 3)),
                "'b'", "gap of 4 bytes", "'a'");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", floatsLe(1, 2)),
                "gap of 4 bytes after the start");
    }

    @Test
    void wrongSize() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", new byte[20]),
                "'a'", "needs 24 bytes", "span 20");
        assertRefused(file("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", new byte[2]),
                "not a whole number of bytes");
    }

    @Test
    void trailingBytes() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", floatsLe(1, 2)),
                "4 trailing bytes");
    }

    @Test
    void offsetOrderIsUsedNotHeaderOrder() {
        // 'z' listed first but stored second: tiling is checked in offset order.
        try (SafetensorsFile f = open(file("{\"z\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
                + "\"y\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[0,2]}}", new byte[]{1, 0, 9}))) {
            assertThat(f.tensors()).extracting(TensorInfo::name).isEqualTo(List.of("y", "z"));
            assertThat(f.data("z").get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 9);
        }
    }

    @Test
    void filesLargerThan2GiBAreMapped() throws Exception {
        // A sparse file: 8 + header + (2^31 + 8) bytes of U8 data, of which only the last one is written.
        long n = (1L << 31) + 8;
        String header = "{\"huge\":{\"dtype\":\"U8\",\"shape\":[" + n + "],\"data_offsets\":[0," + n + "]}}";
        byte[] head = file(header, new byte[0]);
        Path p = tmp.resolve("t.safetensors");
        try (var raf = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            raf.write(head);
            raf.setLength(head.length + n);
            raf.seek(head.length + n - 1);
            raf.write(42);
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            MemorySegment d = f.data("huge");
            assertThat(d.byteSize()).isEqualTo(n);
            assertThat(d.get(ValueLayout.JAVA_BYTE, n - 1)).isEqualTo((byte) 42);
            assertThat(d.get(ValueLayout.JAVA_BYTE, 1L << 31)).isEqualTo((byte) 0);
        }
    }
}
