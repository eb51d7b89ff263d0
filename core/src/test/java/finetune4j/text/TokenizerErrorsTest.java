package finetune4j.text;

import finetune4j.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Bad input gives a {@link ModelFormatException} that names the file, the JSON key path, what was
 * found and what is supported; never a raw exception from deep inside.
 */
class TokenizerErrorsTest {
    @TempDir
    Path tmp;

    private Path write(String json) {
        return TinyTokenizers.write(tmp.resolve("t" + System.nanoTime()), json);
    }

    private static String tiny() {
        return TinyTokenizers.spmJson();
    }

    @Test
    void missingTokenizerJsonNamesThePathWithAHint() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("model"));
        assertThatThrownBy(() -> Tokenizer.load(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString())
                .hasMessageContaining("no tokenizer.json").hasMessageContaining("hint:");
        assertThatThrownBy(() -> Tokenizer.load(tmp.resolve("nope.json"))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("nope.json").hasMessageContaining("hint:");
    }

    @Test
    void malformedJsonNamesLineAndColumn() {
        Path dir = write("{\n  \"model\": {\"type\": \"BPE\",\n  \"vocab\": {\"a\": 0,,}\n}");
        assertThatThrownBy(() -> Tokenizer.load(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString())
                .hasMessageContaining("malformed JSON at line 3");
        assertThatThrownBy(() -> Tokenizer.load(write("[1, 2]"))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("expected a JSON object");
    }

    @Test
    void unknownModelType() {
        String json = tiny().replace("\"model\": {\"type\": \"BPE\"", "\"model\": {\"type\": \"WordPiece\"");
        assertThatThrownBy(() -> Tokenizer.load(write(json))).isInstanceOf(ModelFormatException.class)
                .hasMessageContaining("key 'model.type'").hasMessageContaining("unsupported model type 'WordPiece' (supported: BPE)");
    }

    @Test
    void unknownComponentTypesNameTheirKeyPath() {
        assertError(tiny().replace("{\"type\": \"Prepend\", \"prepend\": \"▁\"}", "{\"type\": \"Precompiled\"}"),
                "key 'normalizer.normalizers[0].type'", "unknown normalizer type 'Precompiled'");
        assertError(tiny().replace("\"pre_tokenizer\": null", "\"pre_tokenizer\": {\"type\": \"UnicodeScripts\"}"),
                "key 'pre_tokenizer.type'", "unknown pre_tokenizer type 'UnicodeScripts'");
        assertError(tiny().replace("{\"type\": \"Fuse\"}", "{\"type\": \"CTC\"}"),
                "key 'decoder.decoders[2].type'", "unknown decoder type 'CTC'");
        assertError(tiny().replace("\"post_processor\": {\"type\": \"TemplateProcessing\"", "\"post_processor\": {\"type\": \"Magic\""),
                "key 'post_processor.type'", "unknown post_processor type 'Magic'");
    }

    @Test
    void brokenValuesNameTheirKeyPath() {
        assertError(tiny().replace("\"hell o\"", "\"hell oo\""), "key 'model.merges[3]'", "'oo' is not in model.vocab");
        assertError(tiny().replace("\"hell o\"", "\"hello\""), "key 'model.merges[3]'", "exactly one space");
        assertError(tiny().replace("\"unk_token\": \"<unk>\"", "\"unk_token\": \"<UNK>\""), "key 'model.unk_token'", "'<UNK>' is not in model.vocab");
        assertError(tiny().replace("\"<s>\": 1,", "\"<s>\": -1,"), "key 'model.vocab.<s>'", "non-negative integer");
        assertError(tiny().replace("\"dropout\": null", "\"dropout\": 0.1"), "key 'model.dropout'", "dropout 0.1 is not supported");
        assertError(tiny().replace("\"pre_tokenizer\": null", "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\", \"invert\": false}"),
                "key 'pre_tokenizer.pattern.Regex'", "regex does not compile");
        assertError(tiny().replace("\"pre_tokenizer\": null", "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"a\"}, \"behavior\": \"Sideways\", \"invert\": false}"),
                "key 'pre_tokenizer.behavior'", "unknown split behavior 'Sideways'");
        assertError(tiny().replace("\"ids\": [1]", "\"ids\": [\"one\"]"), "key 'post_processor.special_tokens.<s>.ids[0]'", "expected an integer id");
        assertError(tiny().replace("{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\"", "{\"SpecialToken\": {\"id\": \"<bos>\", \"type_id\": 0}}, {\"Sequence\""),
                "key 'post_processor.single[0].SpecialToken.id'", "'<bos>' is not listed in special_tokens");
        assertError(tiny().replace("\"start\": 1", "\"start\": \"one\""), "key 'decoder.decoders[3].start'", "non-negative integer");
        assertError(tiny().replace("\"version\": \"1.0\"", "\"version\": \"2.0\""), "key 'version'", "unsupported tokenizer.json version '2.0'");
        assertError(tiny().replace("\"vocab\": {", "\"vocab\": \"none\", \"old_vocab\": {"), "key 'model.vocab'", "expected an object, got \"none\"");
    }

    private void assertError(String json, String key, String what) {
        Path dir = write(json);
        assertThat(json).as("the mutation must change the JSON").isNotEqualTo(tiny());
        assertThatThrownBy(() -> Tokenizer.load(dir)).isInstanceOf(ModelFormatException.class)
                .hasMessageStartingWith(dir.resolve("tokenizer.json").toString())
                .hasMessageContaining(key).hasMessageContaining(what);
    }
}
