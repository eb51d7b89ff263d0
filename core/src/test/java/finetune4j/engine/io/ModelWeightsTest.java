package finetune4j.engine.io;

import finetune4j.ModelFormatException;
import finetune4j.engine.tensor.DType;
import finetune4j.engine.tensor.Weight;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static finetune4j.engine.io.StBytes.concat;
import static finetune4j.engine.io.StBytes.file;
import static finetune4j.engine.io.StBytes.floatsLe;
import static finetune4j.engine.io.StBytes.shortsLe;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Model directories: single file, sharded with index, and the ways an index can be wrong. */
class ModelWeightsTest {
    @TempDir
    Path dir;

    // shard 1: w (2,2) BF16 and norm (2) F16; shard 2: bias (3) F32 and ids (2) I64
    private static final byte[] SHARD1 = file("{\"norm\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                    + "\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}",
            concat(shortsLe(0x3F80, 0x4000, 0xBF80, 0x4040), shortsLe(0x3C00, 0xC000)));
    private static final byte[] SHARD2 = file("{\"bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]},"
                    + "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}",
            concat(new byte[16], floatsLe(0.5f, -1, 2)));
    private static final String S1 = "model-00001-of-00002.safetensors", S2 = "model-00002-of-00002.safetensors";

    private void writeSharded(String weightMap) throws Exception {
        StBytes.write(dir, S1, SHARD1);
        StBytes.write(dir, S2, SHARD2);
        Files.writeString(dir.resolve(ModelWeights.INDEX_FILE),
                "{\"metadata\":{\"total_size\":40},\"weight_map\":{" + weightMap + "}}");
    }

    private static final String GOOD_MAP = "\"w\":\"" + S1 + "\",\"norm\":\"" + S1 + "\",\"bias\":\"" + S2 + "\",\"ids\":\"" + S2 + "\"";

    @Test
    void shardedModelReadsAcrossShardsAndConverts() throws Exception {
        writeSharded(GOOD_MAP);
        try (ModelWeights w = ModelWeights.open(dir)) {
            assertThat(w.names()).containsExactly("bias", "ids", "norm", "w");
            assertThat(w.fileOf("bias").getFileName().toString()).isEqualTo(S2);
            assertThat(w.fileOf("nope")).isNull();
            Weight m = w.weight("w");
            assertThat(m.dtype()).isEqualTo(DType.BF16);
            assertThat(m.rows()).isEqualTo(2);
            assertThat(m.toFloatArray()).containsExactly(1, 2, -1, 3);
            assertThat(w.floats("norm")).containsExactly(1, -2);
            assertThat(w.floats("bias")).containsExactly(0.5f, -1, 2);
            assertThat(w.floats("w")).containsExactly(1, 2, -1, 3);
            assertThat(w.info("ids").dtype()).isEqualTo(DType.I64);
        }
    }

    @Test
    void weightErrorsNameFileKeyDtypeAndShape() throws Exception {
        writeSharded(GOOD_MAP);
        try (ModelWeights w = ModelWeights.open(dir)) {
            assertThatThrownBy(() -> w.weight("bias")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContainingAll(S2, "'bias'", "[3]", "rank 1");
            assertThatThrownBy(() -> w.weight("ids")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContainingAll(S2, "'ids'", "I64");
            assertThatThrownBy(() -> w.floats("ids")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContainingAll(S2, "'ids'", "I64");
            assertThatThrownBy(() -> w.weight("lm_head.weight")).isInstanceOf(ModelFormatException.class)
                    .hasMessageContainingAll(dir.toString(), "'lm_head.weight'");
        }
    }

    @Test
    void missingShard() throws Exception {
        writeSharded(GOOD_MAP.replace(S2, "model-00002-of-00003.safetensors"));
        assertThatThrownBy(() -> ModelWeights.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll(ModelWeights.INDEX_FILE, "model-00002-of-00003.safetensors", "missing");
    }

    @Test
    void indexDisagreeingWithShards() throws Exception {
        writeSharded(GOOD_MAP.replace(",\"ids\":\"" + S2 + "\"", ""));   // ids not listed
        assertThatThrownBy(() -> ModelWeights.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll(ModelWeights.INDEX_FILE, "'ids'", "does not list it");

        writeSharded(GOOD_MAP.replace("\"norm\":\"" + S1, "\"norm\":\"" + S2)); // wrong shard
        assertThatThrownBy(() -> ModelWeights.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll("'norm'", "assigns it to '" + S2 + "'");

        writeSharded(GOOD_MAP + ",\"extra\":\"" + S1 + "\"");               // listed, absent
        assertThatThrownBy(() -> ModelWeights.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll("'extra'", S1, "has no such tensor");
    }

    @Test
    void badIndexAndMissingWeights() throws Exception {
        assertThatThrownBy(() -> ModelWeights.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll(dir.toString(), "no weights", "model.safetensors");
        Files.writeString(dir.resolve(ModelWeights.INDEX_FILE), "{\"weight_map\": [1]}");
        assertThatThrownBy(() -> ModelWeights.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll(ModelWeights.INDEX_FILE, "'weight_map' must be an object");
        Files.writeString(dir.resolve(ModelWeights.INDEX_FILE), "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
        assertThatThrownBy(() -> ModelWeights.open(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll("'a'", "../x.safetensors");
        assertThatThrownBy(() -> ModelWeights.open(dir.resolve("absent"))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("not found");
    }

    @Test
    void singleFilePreferredOverIndex() throws Exception {
        writeSharded("\"zzz\":\"" + S1 + "\"");   // a broken index is never read when model.safetensors exists
        StBytes.write(dir, ModelWeights.SINGLE_FILE, SHARD2);
        try (ModelWeights w = ModelWeights.open(dir)) {
            assertThat(w.names()).containsExactly("bias", "ids");
        }
    }

    @Test
    void realStories260K() {
        Path dir = SharedData.require("models/stories260K/hf/model.safetensors").getParent();
        try (ModelWeights w = ModelWeights.open(dir)) {
            assertThat(w.names()).hasSize(47);
            assertThat(w.names()).doesNotContain("lm_head.weight");
            for (String n : w.names()) assertThat(w.info(n).dtype()).as(n).isEqualTo(DType.F32);
            Weight emb = w.weight("model.embed_tokens.weight");
            assertThat(emb.rows()).isEqualTo(512);
            assertThat(emb.cols()).isEqualTo(64);
            Weight down = w.weight("model.layers.4.mlp.down_proj.weight");
            assertThat(down.rows()).isEqualTo(64);
            assertThat(down.cols()).isEqualTo(172);
            float[] norm = w.floats("model.norm.weight");
            assertThat(norm).hasSize(64);
            // values read with numpy from the same file
            assertThat(norm[0]).isEqualTo(2.4583089351654053f);
            assertThat(norm[63]).isEqualTo(1.7077769041061401f);
            assertThat(down.get(63, 171)).isEqualTo(-0.0035068716388195753f);
            assertThat(down.get(1, 2)).isEqualTo(-0.07738927751779556f);
            float[] row = new float[64];
            emb.rowToFloat(1, row, 0);
            assertThat(row).isEqualTo(java.util.Arrays.copyOfRange(w.floats("model.embed_tokens.weight"), 64, 128));
            assertThatThrownBy(() -> w.weight("lm_head.weight")).hasMessageContaining("tied embeddings");
        }
    }
}
