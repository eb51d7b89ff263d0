package finetune4j.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link HfRegex} against Oniguruma as HF tokenizers runs it: for each character class, every code
 * point below U+3400 and in the emoji/symbol planes U+1F000..U+1FAFF is classified by HF (a
 * tokenizer whose Replace normalizer turns a match into "a") and by our translated pattern. A full
 * scan up to U+30000 found Oniguruma's {@code \w} to differ from Java's exactly on ZWJ/ZWNJ and
 * ¹²³¼½¾ (outside brackets); this keeps that, and the other classes, pinned.
 */
class HfRegexTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;

    @BeforeAll
    static void offline() {
        System.setProperty("OPT_OUT_TRACKING", "true");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\\w", "\\W", "[^\\w\\s]", "[\\w-]", "[^\\W]", "\\s", "\\d", "\\h", "\\p{L}", "\\p{N}", "\\p{^L}",
            "[^\\s\\p{L}\\p{N}]", "(?i:\\w)", "(?i:s)", "\\p{Han}", "\\p{Hiragana}"})
    void characterClassMatchesOniguruma(String re) throws Exception {
        ObjectNode t = (ObjectNode) JSON.readTree(SharedData.require("tokenizers/gpt2/tokenizer.json").toFile());
        ObjectNode rep = JSON.createObjectNode().put("type", "Replace");
        rep.set("pattern", JSON.createObjectNode().put("Regex", re));
        rep.put("content", "a");
        t.set("normalizer", rep);
        t.set("pre_tokenizer", JSON.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false)
                .put("trim_offsets", true).put("use_regex", false));
        Path file = tmp.resolve("class.json");
        JSON.writeValue(file.toFile(), t);
        int aId = 64;                                   // "a" in GPT-2's vocab
        Pattern ours = HfRegex.compile(re);
        List<String> inputs = new ArrayList<>();
        for (int cp = 1; cp < 0x3400; cp++) if (cp != 'a' && !Character.isSurrogate((char) cp)) inputs.add(Character.toString(cp));
        for (int cp = 0x1F000; cp < 0x1FB00; cp++) inputs.add(Character.toString(cp));
        List<String> diffs = new ArrayList<>();
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(file).optTruncation(false).optPadding(false).build()) {
            var enc = hf.batchEncode(inputs.toArray(new String[0]), false, false);
            for (int i = 0; i < enc.length; i++) {
                long[] ids = enc[i].getIds();
                boolean onig = ids.length == 1 && ids[0] == aId;
                boolean java = ours.matcher(inputs.get(i)).matches();
                if (onig != java && diffs.size() < 20) {
                    diffs.add(String.format("U+%04X %s (Oniguruma %s, ours %s)", inputs.get(i).codePointAt(0), Character.getName(inputs.get(i).codePointAt(0)), onig, java));
                }
            }
        }
        assertThat(diffs).as("code points classified differently by /%s/", re).isEmpty();
    }

    @Test
    void translation() {
        assertThat(HfRegex.translate("\\p{Han}\\p{L}\\p{^N}")).isEqualTo("\\p{IsHan}\\p{L}\\P{N}");
        assertThat(HfRegex.translate("[\\h]\\h")).isEqualTo("[0-9a-fA-F][0-9a-fA-F]");
        assertThat(HfRegex.compile("\\w+").matcher("x\u00B2").matches()).isTrue();          // Latin-1 table outside brackets
        assertThat(HfRegex.compile("[\\w]+").matcher("x\u00B2").matches()).isFalse();       // Unicode table inside
        assertThat(HfRegex.compile("\\w").matcher("\u200D").matches()).isFalse();           // ZWJ is not a word char
        assertThat(HfRegex.compile("\\s").matcher("\u00A0").matches()).isTrue();            // Unicode White_Space
        assertThat(HfRegex.compile("\\s").matcher("\u3000").matches()).isTrue();
        assertThat(HfRegex.compile("\\s").matcher("\u2028").matches()).isTrue();
        assertThat(HfRegex.compile("\\s").matcher("\u200B").matches()).isFalse();           // ZWSP is not White_Space
        assertThat(HfRegex.compile("^a$").matcher("x\na").find()).isTrue();                 // Ruby: ^ $ are line anchors
        assertThat(HfRegex.compile(".").matcher("\u2028").matches()).isTrue();              // . excludes only \n
        assertThat(HfRegex.compile(".").matcher("\n").matches()).isFalse();
    }
}
