package finetune4j.text;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Self-contained tests (no shared data): the pipeline on a tiny Llama-layout tokenizer, decoder
 * and UTF-8 details with HF's own expected values, and the incremental decoder over byte fallback.
 */
class TokenizerUnitTest {
    @TempDir
    Path tmp;

    private Tokenizer tiny() {
        return Tokenizer.load(TinyTokenizers.write(tmp.resolve("tiny"), TinyTokenizers.spmJson()));
    }

    @Test
    void encodesWithMergesBosAndByteFallback() {
        Tokenizer t = tiny();
        // "hello hi" → "▁hello▁hi": merges give ▁hello (271) and ▁hi (266)
        assertThat(t.encode("hello hi", true)).containsExactly(1, 271, 266);
        assertThat(t.encode("hello hi", false)).containsExactly(271, 266);
        // "😀" is not in the vocab: ▁ then its four UTF-8 bytes F0 9F 98 80 as <0xNN> tokens (id = 3 + byte)
        assertThat(t.encode("😀", false)).containsExactly(259, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80);
        assertThat(t.tokens(t.encode("😀", false))).containsExactly("▁", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>");
        assertThat(t.encode("", true)).containsExactly(1);
        assertThat(t.encode("", false)).isEmpty();
        // special tokens in the text are matched whatever addSpecialTokens says; the rest is normalized per piece
        assertThat(t.encode("hi</s>hi", false)).containsExactly(266, 2, 266);
    }

    @Test
    void mergesAsPairsEqualMergesAsStrings() {
        String pairs = TinyTokenizers.spmJson().replace("\"merges\": [\"h e\", \"l l\", \"he ll\", \"hell o\", \"▁ hello\", \"▁ h\", \"▁h i\"]",
                "\"merges\": [[\"h\", \"e\"], [\"l\", \"l\"], [\"he\", \"ll\"], [\"hell\", \"o\"], [\"▁\", \"hello\"], [\"▁\", \"h\"], [\"▁h\", \"i\"]]");
        assertThat(pairs).isNotEqualTo(TinyTokenizers.spmJson());
        Tokenizer a = tiny(), b = Tokenizer.load(TinyTokenizers.write(tmp.resolve("pairs"), pairs));
        for (String s : new String[]{"hello hi", "hhelloo", "ihello hell", "oh hi"}) assertThat(b.encode(s, true)).containsExactly(a.encode(s, true));
    }

    @Test
    void decodesLikeHf() {
        Tokenizer t = tiny();
        int[] ids = t.encode("hello 😀 hi", true);
        assertThat(t.decode(ids, true)).isEqualTo("hello 😀 hi");
        assertThat(t.decode(ids, false)).isEqualTo("<s> hello 😀 hi");
        // an invalid byte group becomes one U+FFFD per byte (ByteFallback), unknown ids are ignored
        assertThat(t.decode(new int[]{266, 3 + 0xF0, 3 + 0x9F, 9999, 266}, true)).isEqualTo("hi\uFFFD\uFFFD hi");
    }

    @Test
    void vocabularyAccessors() {
        Tokenizer t = tiny();
        assertThat(t.vocabSize()).isEqualTo(272);
        assertThat(t.tokenToId("▁hello")).isEqualTo(271);
        assertThat(t.tokenToId("nope")).isNull();
        assertThat(t.idToToken(1)).isEqualTo("<s>");
        assertThat(t.idToToken(272)).isNull();
        assertThat(t.bosId()).hasValue(1);
        assertThat(t.eosId()).hasValue(2);
        assertThat(t.specialIds()).containsExactlyInAnyOrder(0, 1, 2);
        assertThatThrownBy(() -> t.tokens(new int[]{1, 272})).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("id 272").hasMessageContaining("index 1");
    }

    @Test
    void loneSurrogateIsReadAsReplacementChar() {
        Tokenizer t = tiny();
        assertThat(t.encode("h\uD800i", false)).containsExactly(t.encode("h\uFFFDi", false));
    }

    @Test
    void incrementalDecoderHoldsEmojiBytesUntilTheGroupEnds() {
        Tokenizer t = tiny();
        int[] ids = t.encode("hi 😀 hello", false);     // ▁hi ▁ <0xF0> <0x9F> <0x98> <0x80> ▁hello
        IncrementalDecoder dec = t.incrementalDecoder(true);
        List<String> pieces = new ArrayList<>();
        for (int id : ids) pieces.add(dec.push(id));
        pieces.add(dec.flush());
        // a ByteFallback group decodes all or nothing, so the emoji is released with the next non-byte token
        assertThat(pieces).containsExactly("hi", " ", "", "", "", "", "😀 hello", "");
        assertThat(String.join("", pieces)).isEqualTo(t.decode(ids, true));
    }

    @Test
    void incrementalDecoderFlushShowsAnIncompleteGroupAsDecodeDoes() {
        Tokenizer t = tiny();
        IncrementalDecoder dec = t.incrementalDecoder(false);
        assertThat(dec.push(1)).isEqualTo("<s>");
        assertThat(dec.push(266)).isEqualTo(" hi");
        assertThat(dec.push(3 + 0xF0)).isEmpty();
        assertThat(dec.push(3 + 0x9F)).isEmpty();
        assertThat(dec.flush()).isEqualTo("\uFFFD\uFFFD");
        assertThat(t.decode(new int[]{1, 266, 3 + 0xF0, 3 + 0x9F}, false)).isEqualTo("<s> hi\uFFFD\uFFFD");
        // flush ended that sequence: the next one starts fresh (its leading space is stripped again)
        assertThat(dec.push(266)).isEqualTo("hi");
        assertThat(dec.push(271)).isEqualTo(" hello");
        assertThat(dec.flush()).isEmpty();
    }

    @Test
    void incrementalDecoderSkipsSpecialTokensAndKeepsTheLeadingStrip() {
        Tokenizer t = tiny();
        IncrementalDecoder dec = t.incrementalDecoder(true);
        assertThat(dec.push(1)).isEmpty();             // <s> skipped
        assertThat(dec.push(259)).isEmpty();           // "▁" alone: stripped as the text's first space, not settled yet
        assertThat(dec.push(266)).isEqualTo(" hi");    // "▁▁hi" → strip one → " hi"
        assertThat(dec.push(266)).isEqualTo(" hi");
        assertThat(dec.flush()).isEmpty();
        assertThat(t.decode(new int[]{1, 259, 266, 266}, true)).isEqualTo(" hi hi");
    }

    // ---------------------------------------------------------------- decoders, HF's own unit-test values

    @Test
    void stripDecoder() {
        assertThat(new Decoder.Strip('H', 1, 0).decodeChain(List.of("Hey", " friend!", "HHH"))).containsExactly("ey", " friend!", "HH");
        assertThat(new Decoder.Strip('y', 0, 1).decodeChain(List.of("Hey", " friend!"))).containsExactly("He", " friend!");
        // HF 0.21 panics here (stop larger than what is left); upstream's fix gives this
        assertThat(new Decoder.Strip(' ', 1, 1).decodeChain(List.of("", " ", "  "))).containsExactly("", "", "");
    }

    @Test
    void byteFallbackDecoder() {
        Decoder d = new Decoder.ByteFallback();
        assertThat(d.decodeChain(List.of("Hey", "friend!"))).containsExactly("Hey", "friend!");
        assertThat(d.decodeChain(List.of("<0x61>"))).containsExactly("a");
        assertThat(d.decodeChain(List.of("<0xE5>"))).containsExactly("\uFFFD");
        assertThat(d.decodeChain(List.of("<0xE5>", "<0x8f>"))).containsExactly("\uFFFD", "\uFFFD");
        assertThat(d.decodeChain(List.of("<0xE5>", "<0x8f>", "<0xab>"))).containsExactly("叫");
        assertThat(d.decodeChain(List.of("<0xE5>", "<0x8f>", "<0xab>", "a"))).containsExactly("叫", "a");
        assertThat(d.decodeChain(List.of("<0xE5>", "<0x8f>", "a"))).containsExactly("\uFFFD", "\uFFFD", "a");
    }

    @Test
    void metaspaceDecoder() {
        assertThat(new Decoder.Metaspace('▁', true).decodeChain(List.of("▁Hey", "▁friend!"))).containsExactly("Hey", " friend!");
        assertThat(new Decoder.Metaspace('▁', false).decodeChain(List.of("▁Hey", "▁friend!"))).containsExactly(" Hey", " friend!");
    }

    @Test
    void lossyUtf8FollowsRust() {
        assertThat(lossy(0xF0, 0x9F, 0x98)).isEqualTo("\uFFFD");                       // truncated: one U+FFFD
        assertThat(lossy(0xE2, 0x41)).isEqualTo("\uFFFDA");
        assertThat(lossy(0xED, 0xA0, 0x80)).isEqualTo("\uFFFD\uFFFD\uFFFD");           // surrogate: each byte
        assertThat(lossy(0xC0, 0x80)).isEqualTo("\uFFFD\uFFFD");
        assertThat(lossy(0xF4, 0x90, 0x80, 0x80)).isEqualTo("\uFFFD\uFFFD\uFFFD\uFFFD");
        assertThat(lossy(0xF0, 0x9F, 0x98, 0x80, 0x80)).isEqualTo("😀\uFFFD");
        assertThat(Utf8.decodeStrict(new byte[]{(byte) 0xE2, (byte) 0x82}, 2)).isNull();
    }

    private static String lossy(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) bytes[i];
        return Utf8.decodeLossy(b, b.length);
    }

    @Test
    void cleanUpTokenizationSpaces() {
        assertThat(Tokenizer.cleanUpTokenizationSpaces("A\n'll !!to?'d''d of , can't .")).isEqualTo("A\n'll!!to?'d''d of, can't.");
        assertThat(Tokenizer.cleanUpTokenizationSpaces("I do n't know , it 's ok ?")).isEqualTo("I don't know, it's ok?");
    }
}
