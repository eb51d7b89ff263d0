package finetune4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Our tokenizer against expected outputs produced elsewhere: Python transformers 4.57.1 baselines
 * for 30 multilingual inputs (TinyLlama ↔ our llama2-converted tokenizer.json, GPT-2), the
 * swift-transformers test vectors for the tokenizers we hold (Llama-2 ↔ llama2-converted,
 * distilgpt2 ↔ gpt2), and the stories260K examples. All mismatches are collected and reported together.
 */
class TokenizerReferenceTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void multilingualBaselinesTinyLlama() throws IOException {
        checkMultilingual("tokenizers/llama2-converted", "TinyLlama__TinyLlama-1.1B-Chat-v1.0.json");
    }

    @Test
    void multilingualBaselinesGpt2() throws IOException {
        checkMultilingual("tokenizers/gpt2", "openai-community__gpt2.json");
    }

    private void checkMultilingual(String tokenizerDir, String baselineFile) throws IOException {
        Tokenizer tok = Tokenizer.load(SharedData.require(tokenizerDir));
        Path refDir = SharedData.require("tokenizers/reference-encodings");
        JsonNode inputs = JSON.readTree(refDir.resolve("multilingual_inputs.json").toFile()).get("inputs");
        JsonNode entries = JSON.readTree(refDir.resolve(baselineFile).toFile()).get("entries");
        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (JsonNode in : inputs) {
            String id = in.get("id").asText(), text = in.get("text").asText();
            JsonNode want = entries.get(id);
            assertThat(want).as("baseline entry for %s", id).isNotNull();
            int[] wantIds = ints(want.get("input_ids"));
            int[] ids = tok.encode(text, true);
            if (!Arrays.equals(ids, wantIds)) failures.add(id + ": ids " + Arrays.toString(ids) + " want " + Arrays.toString(wantIds));
            String[] wantTokens = strings(want.get("tokens"));
            if (!Arrays.equals(tok.tokens(wantIds), wantTokens)) {
                failures.add(id + ": tokens " + Arrays.toString(tok.tokens(wantIds)) + " want " + Arrays.toString(wantTokens));
            }
            check(failures, id + ": decoded_with_special", tok.decode(wantIds, false), want.get("decoded_with_special").asText());
            check(failures, id + ": decoded_skip_special", tok.decode(wantIds, true), want.get("decoded_skip_special").asText());
            checked++;
        }
        assertThat(checked).isEqualTo(30);
        assertThat(failures).as("mismatches against %s", baselineFile).isEmpty();
    }

    @Test
    void swiftTransformersVectorsLlama2() throws IOException {
        checkSwift("coreml-projects/Llama-2-7b-chat-coreml", "tokenizers/llama2-converted", false);
    }

    /** distilgpt2's tokenizer is GPT-2's; its vectors were decoded with clean_up_tokenization_spaces=true (as our gpt2/tokenizer_config.json says). */
    @Test
    void swiftTransformersVectorsDistilGpt2() throws IOException {
        JsonNode cfg = JSON.readTree(SharedData.require("tokenizers/gpt2/tokenizer_config.json").toFile());
        checkSwift("distilgpt2", "tokenizers/gpt2", cfg.get("clean_up_tokenization_spaces").asBoolean());
    }

    private void checkSwift(String key, String tokenizerDir, boolean cleanUp) throws IOException {
        Tokenizer tok = Tokenizer.load(SharedData.require(tokenizerDir));
        JsonNode vectors = JSON.readTree(SharedData.require("tokenizers/reference-encodings/swift_transformers_tokenizer_tests.json").toFile()).get(key);
        assertThat(vectors).as("vectors for %s", key).isNotNull();
        List<String> failures = new ArrayList<>();
        for (JsonNode v : vectors) {
            String text = v.get("input").asText();
            int[] want = ints(v.get("encoded").get("input_ids"));
            int[] ids = tok.encode(text, true);
            String label = "'" + escape(text) + "'";
            if (!Arrays.equals(ids, want)) failures.add(label + ": ids " + Arrays.toString(ids) + " want " + Arrays.toString(want));
            String with = tok.decode(want, false), without = tok.decode(want, true);
            if (cleanUp) {
                with = Tokenizer.cleanUpTokenizationSpaces(with);
                without = Tokenizer.cleanUpTokenizationSpaces(without);
            }
            check(failures, label + " decoded_with_special", with, v.get("decoded_with_special").asText());
            check(failures, label + " decoded_without_special", without, v.get("decoded_without_special").asText());
        }
        assertThat(vectors.size()).isEqualTo(18);
        assertThat(failures).as("mismatches against swift-transformers %s", key).isEmpty();
    }

    /** The example in {@link Tokenizer}'s Javadoc (TinyLlama uses the Llama-2 vocabulary). */
    @Test
    void javadocExample() {
        Tokenizer tok = Tokenizer.load(SharedData.require("tokenizers/llama2-converted"));
        int[] ids = tok.encode("Once upon a time", true);
        assertThat(ids).containsExactly(1, 9038, 2501, 263, 931);
        assertThat(tok.decode(ids, true)).isEqualTo("Once upon a time");
    }

    @Test
    void stories260kExamples() {
        Tokenizer tok = Tokenizer.load(SharedData.require("models/stories260K/hf"));
        assertThat(tok.encode("Once upon a time", true)).containsExactly(1, 403, 407, 261, 378);
        assertThat(tok.encode("The cat sat on the", true)).containsExactly(1, 291, 280, 294, 262, 294, 353, 265);
        assertThat(tok.encode("Once upon a time", false)).containsExactly(403, 407, 261, 378);
        assertThat(tok.decode(new int[]{1, 403, 407, 261, 378}, true)).isEqualTo("Once upon a time");
        assertThat(tok.vocabSize()).isEqualTo(512);
        assertThat(tok.bosId()).hasValue(1);
        assertThat(tok.eosId()).hasValue(2);
    }

    private static void check(List<String> failures, String what, String got, String want) {
        if (!got.equals(want)) failures.add(what + ": '" + escape(got) + "' want '" + escape(want) + "'");
    }

    static int[] ints(JsonNode arr) {
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = arr.get(i).intValue();
        return out;
    }

    private static String[] strings(JsonNode arr) {
        String[] out = new String[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = arr.get(i).asText();
        return out;
    }

    /** Java-escaped form of {@code s} (control, non-ASCII and surrogate chars as \\uXXXX) for failure messages. */
    static String escape(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '\\') sb.append("\\\\");
            else if (c == '\n') sb.append("\\n");
            else if (c == '\t') sb.append("\\t");
            else if (c == '\'') sb.append("\\'");
            else if (c < 0x20 || c >= 0x7F) sb.append(String.format("\\u%04X", (int) c));
            else sb.append(c);
        }
        return sb.toString();
    }
}
