package finetune4j.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.InvalidDataException;
import finetune4j.data.BadRecords;
import finetune4j.testing.SharedData;
import finetune4j.text.ChatTemplate;
import finetune4j.text.ChatTemplates;
import finetune4j.text.TrainOn;
import finetune4j.text.Tokenizer;
import finetune4j.text.TokenizerConfig;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Token ids and loss masks against goldens made with the real transformers (tools/golden/sft_masks.py:
 * transformers' template rendering, HF tokenizer offsets, return_assistant_tokens_mask, TRL's
 * prompt/completion masking). Repo-only: a tiny tokenizer and handmade records of every layout, every
 * named template, every --train-on mode, exact ids and labels. With ../shared: the first records of
 * every dataset sample with real tokenizers (ids by sha256, trained token ranges exact), including the
 * Qwen3 template that is refused as not prefix-stable on multi-turn chats with --train-on assistant.
 * An expected error must be a bad record at the same line; no example may appear that the golden lacks.
 */
class SftGoldenTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /** The golden script pins strftime_now to this local time. */
    static final Clock CLOCK = Clock.fixed(LocalDateTime.of(2025, 3, 9, 7, 4, 5).atZone(ZoneId.systemDefault()).toInstant(),
            ZoneId.systemDefault());

    static Path resource(String rel) throws URISyntaxException {
        return Path.of(SftGoldenTest.class.getResource("/finetune4j/batch/sft/" + rel).toURI());
    }

    static JsonNode golden(String name) throws Exception {
        try (InputStream in = SftGoldenTest.class.getResourceAsStream("/finetune4j/batch/sft/" + name)) {
            return JSON.readTree(in);
        }
    }

    /** What one scan gave, by record ("7", or "1[16]" in a JSON array). */
    record Scan(Map<String, List<Tokenized>> examples, Map<String, List<InvalidDataException>> bad) {
    }

    static Scan scan(ExampleTokenizer et, Path file, int limit) {
        Map<String, List<Tokenized>> ex = new HashMap<>();
        Map<String, List<InvalidDataException>> bad = new HashMap<>();
        BadRecords br = new BadRecords(BadRecords.Policy.SKIP);
        finetune4j.data.DatasetLoader loader = new finetune4j.data.DatasetLoader(finetune4j.data.DataOptions.DEFAULT, br);
        int[] n = {0};
        try {
            loader.read(file, e -> {
                if (limit > 0 && n[0]++ >= limit) throw new IllegalStateException("enough");
                try {
                    ex.computeIfAbsent(key(e.source()), k -> new ArrayList<>()).add(et.encode(e).tokenized());
                } catch (InvalidDataException x) {
                    bad.computeIfAbsent(key(e.source()), k -> new ArrayList<>()).add(x);
                }
            });
        } catch (IllegalStateException stop) {
            // read enough examples
        }
        for (InvalidDataException x : br.skipped()) {
            String f = x.field();
            String k = x.line() + (f != null && f.startsWith("[") ? f.substring(0, f.indexOf(']') + 1) : "");
            bad.computeIfAbsent(k, kk -> new ArrayList<>()).add(x);
        }
        return new Scan(ex, bad);
    }

    /** "7" or "1[16]" from a source "path:7" / "path:1[16]" (an OpenAssistant thread's "#n" dropped). */
    static String key(String source) {
        String s = source.replaceFirst("#\\d+$", "");
        return s.substring(s.lastIndexOf(':') + 1);
    }

    static List<List<Integer>> trained(Tokenized t) {
        List<List<Integer>> out = new ArrayList<>();
        int[] l = t.labels();
        for (int i = 0; i < l.length; ) {
            if (l[i] == Tokenized.IGNORE) {
                i++;
                continue;
            }
            int j = i;
            while (j < l.length && l[j] != Tokenized.IGNORE) j++;
            out.add(List.of(i, j));
            i = j;
        }
        return out;
    }

    static List<List<Integer>> ranges(JsonNode r) {
        List<List<Integer>> out = new ArrayList<>();
        for (JsonNode p : r) out.add(List.of(p.get(0).asInt(), p.get(1).asInt()));
        return out;
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) out[i] = a.get(i).asInt();
        return out;
    }

    static String sha256(int[] ids) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < ids.length; i++) sb.append(i == 0 ? "" : ",").append(ids[i]);
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(sb.toString().getBytes(StandardCharsets.UTF_8)));
    }

    /** Compares one scan with the golden cases of one mode; returns the mismatches. */
    static List<String> compare(String what, JsonNode cases, String mode, Scan scan, boolean fullIds) throws Exception {
        List<String> fails = new ArrayList<>();
        int expectedExamples = 0;
        for (JsonNode c : cases) {
            String line = c.get("record").asText();
            String where = what + " [" + mode + "] record " + line;
            String error = c.has("error") ? c.get("error").asText() : c.path("errors").path(mode).asText(null);
            if (error != null) {
                if (!scan.bad().containsKey(line)) fails.add(where + ": expected a bad record (" + error + "), got " + scan.examples().get(line));
                continue;
            }
            expectedExamples++;
            List<Tokenized> got = scan.examples().get(line);
            if (got == null || got.size() != 1) {
                fails.add(where + ": expected one example, got " + got + (scan.bad().containsKey(line) ? " bad: " + scan.bad().get(line) : ""));
                continue;
            }
            Tokenized t = got.getFirst();
            if (fullIds) {
                int[] want = ints(c.get("ids"));
                if (!java.util.Arrays.equals(t.ids(), want)) {
                    fails.add(where + ": ids differ\n   ours " + java.util.Arrays.toString(t.ids()) + "\n   HF   " + java.util.Arrays.toString(want));
                    continue;
                }
            } else if (t.length() != c.get("n").asInt() || !sha256(t.ids()).equals(c.get("sha256").asText())) {
                fails.add(where + ": ids differ: ours " + t.length() + " tokens starting " + java.util.Arrays.toString(java.util.Arrays.copyOf(t.ids(), 8))
                        + ", HF " + c.get("n") + " tokens starting " + c.get("head"));
                continue;
            }
            List<List<Integer>> want = ranges(c.get("trained").get(mode));
            if (!trained(t).equals(want)) fails.add(where + ": trained tokens ours " + trained(t) + ", HF " + want);
        }
        long ours = scan.examples().values().stream().mapToLong(List::size).sum();
        if (fullIds && ours != expectedExamples) fails.add(what + " [" + mode + "]: " + ours + " examples, golden has " + expectedExamples);
        return fails;
    }

    @Test
    void handmadeRecordsMatchTransformersForEveryTemplateAndMode() throws Exception {
        JsonNode g = golden("handmade_golden.json");
        Path tiny = resource("tiny"), records = resource("handmade.jsonl");
        Tokenizer tok = Tokenizer.load(tiny);
        TokenizerConfig cfg = TokenizerConfig.load(tiny);
        List<String> fails = new ArrayList<>();
        int compared = 0;
        for (var e : g.get("templates").properties()) {
            for (TrainOn mode : TrainOn.values()) {
                ChatTemplates.Choice choice = ChatTemplates.choose(e.getKey(), cfg, null);
                choice = new ChatTemplates.Choice(choice.name(), choice.template().withClock(CLOCK), choice.addSpecialTokens());
                ExampleTokenizer et = new ExampleTokenizer(tok, tok.tokenToId("</s>"), 4096, Truncation.RIGHT, choice, mode);
                fails.addAll(compare(e.getKey(), e.getValue(), mode.id(), scan(et, records, 0), true));
                compared++;
            }
        }
        assertThat(compared).isEqualTo(9 * 4);
        assertThat(fails).isEmpty();
    }

    @Test
    void sharedSamplesMatchTransformers() throws Exception {
        JsonNode g = golden("shared_golden.json");
        List<String> fails = new ArrayList<>();
        for (JsonNode combo : g.get("combos")) {
            Path tdir = SharedData.require(combo.get("tokenizer").asText());
            Path file = SharedData.require("datasets/" + combo.get("file").asText());
            Tokenizer tok = Tokenizer.load(tdir);
            TokenizerConfig cfg = TokenizerConfig.load(tdir);
            String template = combo.get("template").asText();
            JsonNode cases = combo.get("cases");
            java.util.Set<String> modes = new java.util.LinkedHashSet<>();
            for (JsonNode c : cases) {
                c.path("trained").fieldNames().forEachRemaining(modes::add);
                c.path("errors").fieldNames().forEachRemaining(modes::add);
            }
            for (String mode : modes) {
                ChatTemplates.Choice choice;
                if (template.startsWith("@")) {
                    TokenizerConfig q = TokenizerConfig.load(SharedData.require(template.substring(1)));
                    Map<String, Object> special = new java.util.LinkedHashMap<>(cfg.specialTokensMap());
                    choice = new ChatTemplates.Choice("model", ChatTemplate.fromConfig(q).withSpecialTokens(special), false);
                } else {
                    choice = ChatTemplates.choose(template, cfg, tok.eosId().isPresent() ? tok.idToToken(tok.eosId().getAsInt()) : null);
                }
                choice = new ChatTemplates.Choice(choice.name(), choice.template().withClock(CLOCK), choice.addSpecialTokens());
                Integer eos = cfg.eosToken() == null ? null : tok.tokenToId(cfg.eosToken());
                ExampleTokenizer et = new ExampleTokenizer(tok, eos != null ? eos : tok.eosId().orElse(0), 1 << 20, Truncation.RIGHT, choice,
                        TrainOn.parse(mode));
                String what = combo.get("tokenizer").asText() + " + " + template + " on " + combo.get("file").asText();
                fails.addAll(compare(what, cases, mode, scan(et, file, cases.size()), false));
            }
        }
        assertThat(fails).isEmpty();
    }
}
