package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The 4-bit commands end to end on a small random model: quantize writes a bitsandbytes checkpoint
 * that inspect, generate and train load in 4 bits; --load-in-4bit quantizes the same way on load;
 * train --method qlora trains LoRA over the 4-bit base; init-model --quantize writes 4-bit directly.
 */
class QuantizeCommandsTest {
    @TempDir
    static Path tmp;
    static Path dense, quantized;

    @BeforeAll
    static void models() throws Exception {
        dense = tmp.resolve("dense");
        quantized = tmp.resolve("q");
        CliRunner r = CliRunner.run("init-model", "--preset", "stories260k", "--out", dense.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode q = CliCommandsTest.json(CliRunner.run("quantize", "--model", dense.toString(), "--out", quantized.toString(),
                "--type", "nf4", "--double-quant", "--json"));
        assertThat(q.get("quantized_layers").asInt()).isEqualTo(5 * 7);
        assertThat(q.get("output_bytes").asLong()).isLessThan(q.get("input_bytes").asLong() / 2);
    }

    @Test
    void quantizedCheckpointInspectsAndGeneratesLikeLoadIn4bit() throws Exception {
        String config = Files.readString(quantized.resolve("config.json"));
        assertThat(config).contains("\"quantization_config\"").contains("\"bnb_4bit_quant_type\": \"nf4\"")
                .contains("\"bnb_4bit_use_double_quant\": true");
        JsonNode i = CliCommandsTest.json(CliRunner.run("inspect", "--model", quantized.toString(), "--json"));
        assertThat(i.get("parameters").asLong()).isEqualTo(260_032);
        assertThat(i.get("dtypes").has("U8")).isTrue();
        String[] gen = {"--prompt", "Lily", "--max-new-tokens", "8", "--json"};
        JsonNode a = CliCommandsTest.json(CliRunner.run(concat(new String[]{"generate", "--model", quantized.toString()}, gen)));
        JsonNode b = CliCommandsTest.json(CliRunner.run(concat(new String[]{"generate", "--model", dense.toString(), "--load-in-4bit"}, gen)));
        assertThat(a.get("generated_ids")).as("a saved checkpoint and quantize-on-load compute the same").isEqualTo(b.get("generated_ids"));
    }

    @Test
    void trainQloraOverADenseAndAQuantizedModel() throws Exception {
        Path data = tmp.resolve("train.jsonl");
        Files.writeString(data, "{\"text\": \"Lily had a red ball. She liked to play.\"}\n{\"text\": \"Tom saw a big dog in the park.\"}\n");
        for (Path m : new Path[]{dense, quantized}) {
            Path out = tmp.resolve("out-" + m.getFileName());
            JsonNode j = CliCommandsTest.json(CliRunner.run("train", "--model", m.toString(), "--data", data.toString(),
                    "--method", "qlora", "--target", "all-linear", "--rank", "4", "--steps", "2", "--batch-size", "2",
                    "--output", out.toString(), "--json"));
            assertThat(j.get("method").asText()).isEqualTo("qlora");
            assertThat(j.get("steps").asInt()).isEqualTo(2);
            assertThat(out.resolve("adapter_model.safetensors")).exists();
            assertThat(Files.readString(out.resolve("adapter_config.json"))).contains("\"peft_type\": \"LORA\"");
        }
        CliRunner full = CliRunner.run("train", "--model", quantized.toString(), "--data", data.toString(), "--method", "full",
                "--steps", "1", "--output", tmp.resolve("full").toString());
        assertThat(full.code()).isEqualTo(1);
        assertThat(full.err()).contains("4-bit").contains("qlora");
    }

    @Test
    void initModelWritesFourBitDirectly() throws Exception {
        Path q = tmp.resolve("init4");
        JsonNode j = CliCommandsTest.json(CliRunner.run("init-model", "--preset", "stories260k", "--out", q.toString(), "--quantize",
                "nf4", "--double-quant", "--json"));
        assertThat(j.get("quantized").asText()).isEqualTo("nf4");
        // the same random values as the dense init, quantized: the same bits as quantizing the dense model
        assertThat(Files.readAllBytes(q.resolve("model.safetensors"))).isEqualTo(Files.readAllBytes(quantized.resolve("model.safetensors")));
        JsonNode g = CliCommandsTest.json(CliRunner.run("generate", "--model", q.toString(), "--prompt", "Lily", "--max-new-tokens", "3", "--json"));
        assertThat(g.get("generated_ids").size()).isBetween(1, 3);
    }

    @Test
    void benchTrainQlora() throws Exception {
        JsonNode j = CliCommandsTest.json(CliRunner.run("bench", "train", "--preset", "stories260k", "--method", "qlora", "--rank", "4",
                "--batch-size", "1", "--seq-len", "32", "--warmup", "0", "--steps", "1", "--no-ceiling", "--json"));
        assertThat(j.get("method").asText()).isEqualTo("qlora");
        assertThat(j.get("grad_checkpoint").asBoolean()).as("on by default for QLoRA").isTrue();
        JsonNode d = CliCommandsTest.json(CliRunner.run("bench", "train", "--model", dense.toString(), "--method", "qdora", "--rank", "2",
                "--batch-size", "1", "--seq-len", "16", "--warmup", "0", "--steps", "1", "--no-grad-checkpoint", "--no-ceiling", "--json"));
        assertThat(d.get("method").asText()).isEqualTo("qdora");
        assertThat(d.get("grad_checkpoint").asBoolean()).isFalse();
    }

    @Test
    void badQuantizeFlags() {
        CliRunner r = CliRunner.run("quantize", "--model", dense.toString(), "--out", tmp.resolve("x").toString(), "--blocksize", "48");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("blocksize = 48").contains("power of two");
        r = CliRunner.run("quantize", "--model", dense.toString(), "--out", tmp.resolve("y").toString(), "--type", "int4");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("'int4'").contains("nf4 or fp4");
        r = CliRunner.run("quantize", "--model", quantized.toString(), "--out", tmp.resolve("z").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("already has a quantization_config");
    }

    static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
