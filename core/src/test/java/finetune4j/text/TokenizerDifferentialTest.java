package finetune4j.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Randomized differential test: our tokenizer against HF tokenizers (Rust, through DJL's JNI
 * binding) on 10,000 seeded adversarial strings per real tokenizer.json (see {@link RandomText}).
 * Compared: ids with and without special tokens, decode of those ids in both modes, decode of random
 * id sequences (invalid byte groups, stray special tokens), and our incremental decoder against our
 * full decode. Truncation and padding are disabled on the DJL side (gpt2 and smollm-135m carry those
 * blocks; our {@code encode} never applies them). Zero mismatches allowed; the first ones are
 * printed with the escaped string and both id lists.
 */
class TokenizerDifferentialTest {
    static final int STRINGS = 10_000;

    @BeforeAll
    static void offline() {
        System.setProperty("OPT_OUT_TRACKING", "true");   // DJL: no usage ping
    }

    @ParameterizedTest
    @ValueSource(strings = {"tokenizers/llama2-converted/tokenizer.json", "tokenizers/mistral/tokenizer.json",
            "tokenizers/gpt2/tokenizer.json", "tokenizers/smollm-135m/tokenizer.json", "tokenizers/torchtune-tiny-bpe/tokenizer.json",
            "tokenizers/gemma-chat-template/tokenizer_gemma_cropped.json", "models/stories260K/hf/tokenizer.json"})
    void matchesHuggingFace(String rel) throws IOException {
        Path file = SharedData.require(rel);
        Report r = compare(file, STRINGS, rel.hashCode());
        System.out.println(r.summary(rel));
        assertThat(r.failures).as("mismatches for %s (first %d shown)", rel, r.failures.size()).isEmpty();
    }

    /** Result of one differential run. */
    static final class Report {
        final List<String> failures = new ArrayList<>();
        int mismatches, strings, idsCompared;
        long oursNanos, hfNanos, incrementalNanos;

        void fail(String msg) {
            mismatches++;
            if (failures.size() < 15) failures.add(msg);
        }

        String summary(String name) {
            return String.format("%s: %d strings, %d ids, %d mismatches; encode+decode ours %.2fs, HF %.2fs; incremental check %.2fs",
                    name, strings, idsCompared, mismatches, oursNanos / 1e9, hfNanos / 1e9, incrementalNanos / 1e9);
        }
    }

    static Report compare(Path file, int n, long seed) throws IOException {
        Report r = new Report();
        Tokenizer ours = Tokenizer.load(file);
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.builder().optTokenizerPath(file)
                .optTruncation(false).optPadding(false).optAddSpecialTokens(true).build()) {
            RandomText gen = new RandomText(seed, specials(ours), vocabWords(ours, seed));
            for (int i = 0; i < n; i++) {
                String s = i == 0 ? "" : gen.next();
                r.strings++;
                for (boolean special : new boolean[]{true, false}) {
                    long t0 = System.nanoTime();
                    int[] got = ours.encode(s, special);
                    long t1 = System.nanoTime();
                    int[] want = toInts(hf.encode(s, special, false).getIds());
                    long t2 = System.nanoTime();
                    r.oursNanos += t1 - t0;
                    r.hfNanos += t2 - t1;
                    r.idsCompared += want.length;
                    if (!Arrays.equals(got, want)) {
                        r.fail("encode(add_special_tokens=" + special + ") of \"" + TokenizerReferenceTest.escape(s) + "\"\n   ours " + Arrays.toString(got)
                                + "\n   HF   " + Arrays.toString(want));
                        continue;
                    }
                    if (special) {
                        compareDecode(ours, hf, want, "ids of \"" + TokenizerReferenceTest.escape(s) + "\"", r);
                        checkIncremental(ours, want, "ids of \"" + TokenizerReferenceTest.escape(s) + "\"", r);
                    }
                }
                if (i % 5 == 0) {
                    int[] ids = randomIds(ours, gen);
                    compareDecode(ours, hf, ids, "random ids", r);
                    checkIncremental(ours, ids, "random ids", r);
                }
            }
        }
        return r;
    }

    private static void compareDecode(Tokenizer ours, HuggingFaceTokenizer hf, int[] ids, String what, Report r) {
        long[] lids = Arrays.stream(ids).asLongStream().toArray();
        for (boolean skip : new boolean[]{false, true}) {
            long t0 = System.nanoTime();
            String got = ours.decode(ids, skip);
            long t1 = System.nanoTime();
            String want = hf.decode(lids, skip);
            r.oursNanos += t1 - t0;
            r.hfNanos += System.nanoTime() - t1;
            if (!got.equals(want)) {
                r.fail("decode(skip_special=" + skip + ") of " + what + " " + Arrays.toString(ids) + "\n   ours \""
                        + TokenizerReferenceTest.escape(got) + "\"\n   HF   \"" + TokenizerReferenceTest.escape(want) + "\"");
            }
        }
    }

    /** Incremental decode: concatenation equals the full decode; pieces never end inside a character. */
    static void checkIncremental(Tokenizer ours, int[] ids, String what, Report r) {
        long t0 = System.nanoTime();
        incremental(ours, ids, what, r);
        r.incrementalNanos += System.nanoTime() - t0;
    }

    private static void incremental(Tokenizer ours, int[] ids, String what, Report r) {
        for (boolean skip : new boolean[]{false, true}) {
            String full = ours.decode(ids, skip);
            IncrementalDecoder dec = ours.incrementalDecoder(skip);
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                String piece = dec.push(id);
                if (!piece.isEmpty() && (Character.isHighSurrogate(piece.charAt(piece.length() - 1)) || piece.charAt(piece.length() - 1) == '\uFFFD')) {
                    r.fail("incremental piece ends inside a character for " + what + " " + Arrays.toString(ids) + ": \"" + TokenizerReferenceTest.escape(piece) + "\"");
                }
                sb.append(piece);
            }
            sb.append(dec.flush());
            if (!sb.toString().equals(full)) {
                r.fail("incremental(skip=" + skip + ") of " + what + " " + Arrays.toString(ids) + "\n   pieces \"" + TokenizerReferenceTest.escape(sb.toString())
                        + "\"\n   full   \"" + TokenizerReferenceTest.escape(full) + "\"");
            }
        }
    }

    /** Random ids biased towards byte tokens, specials and their neighbours (invalid UTF-8 groups, stray BOS/EOS). */
    private static int[] randomIds(Tokenizer tok, RandomText gen) {
        int[] ids = new int[gen.nextInt(16)];
        Integer[] specials = tok.specialIds().toArray(new Integer[0]);
        for (int i = 0; i < ids.length; i++) {
            int k = gen.nextInt(10);
            Integer byteTok = tok.tokenToId(String.format("<0x%02X>", gen.nextInt(256)));
            if (k < 3 && byteTok != null) ids[i] = byteTok;
            else if (k < 4 && specials.length > 0) ids[i] = specials[gen.nextInt(specials.length)];
            else if (k < 5) ids[i] = gen.nextInt(Math.min(tok.vocabSize(), 400));   // low ids: bytes / single chars
            else ids[i] = gen.nextInt(tok.vocabSize() + 2);                          // may be out of range
        }
        return ids;
    }

    /** Contents of all added tokens (special or not), to embed in the random text. */
    static List<String> specials(Tokenizer tok) {
        return ((HfTokenizer) tok).addedContents();
    }

    /** A sample of vocabulary entries rendered as text (so the input exercises long merges). */
    static List<String> vocabWords(Tokenizer tok, long seed) {
        List<String> out = new ArrayList<>();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        for (int i = 0; i < 3000; i++) {
            String s = tok.decode(new int[]{rnd.nextInt(tok.vocabSize())}, true);
            if (!s.isEmpty() && s.indexOf('\uFFFD') < 0) out.add(s);
        }
        return out;
    }

    private static int[] toInts(long[] a) {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) out[i] = Math.toIntExact(a[i]);
        return out;
    }
}
