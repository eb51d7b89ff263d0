package finetune4j.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.Finetune4jException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Trains a byte-level BPE tokenizer (the GPT-2 / Llama-3 / SmolLM family) on a text corpus and
 * writes it as Hugging Face {@code tokenizer.json} + {@code tokenizer_config.json} +
 * {@code special_tokens_map.json}, so the result loads in Hugging Face tokenizers and here.
 *
 * <p>Used for models the project makes itself ({@code init-model}, the demo base model). The
 * algorithm is the classic one (Sennrich et al. 2016; HF {@code BpeTrainer}): split the corpus
 * into words with the GPT-2 pre-tokenizer regex, map bytes to the printable byte-level alphabet,
 * then repeatedly merge the most frequent adjacent pair (ties: the lexicographically smallest pair,
 * so training is deterministic) until the vocabulary is full or no pair occurs twice.
 *
 * <p>Layout of the ids: the special tokens first (in the order given), then the 256 byte-level
 * symbols in byte order, then one token per merge.
 */
public final class BpeTrainer {
    /** GPT-2's pre-tokenizer pattern (HF ByteLevel with use_regex = true). */
    static final Pattern GPT2_SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    /** The special tokens and roles of a trained tokenizer. */
    public record Specials(List<String> tokens, String bos, String eos, String pad, String unk) {
        /** {@code <unk>, <s>, </s>, <|im_start|>, <|im_end|>} with BOS {@code <s>}, EOS {@code </s>}. */
        public static Specials llamaChatMl() {
            return new Specials(List.of("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"), "<s>", "</s>", null, "<unk>");
        }
    }

    /** A trained tokenizer: vocabulary in id order and merges in rank order. */
    public record Trained(List<String> vocab, List<String[]> merges, Specials specials) {
        public int id(String token) {
            return vocab.indexOf(token);
        }
    }

    /** ChatML template, as written by models that use {@code <|im_start|>} / {@code <|im_end|>}. */
    public static final String CHATML_TEMPLATE = "{% for message in messages %}"
            + "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private BpeTrainer() {
    }

    /** Byte → printable char of the byte-level alphabet (GPT-2 {@code bytes_to_unicode}). */
    public static char[] byteToUnicode() {
        char[] map = new char[256];
        boolean[] direct = new boolean[256];
        for (int b = '!'; b <= '~'; b++) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) direct[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++) {
            if (direct[b]) map[b] = (char) b;
            else map[b] = (char) (256 + n++);
        }
        return map;
    }

    /**
     * Trains on {@code corpus} until the vocabulary holds {@code vocabSize} tokens (specials + 256
     * bytes + merges) or no pair occurs at least twice.
     */
    public static Trained train(String corpus, int vocabSize, Specials specials) {
        int base = specials.tokens().size() + 256;
        if (vocabSize < base) {
            throw new Finetune4jException("vocabulary size " + vocabSize + " is smaller than the "
                    + base + " special and byte tokens a byte-level BPE needs");
        }
        char[] b2u = byteToUnicode();
        // word (as byte-level string) -> count
        Map<String, Integer> wordCounts = new HashMap<>();
        Matcher m = GPT2_SPLIT.matcher(corpus);
        while (m.find()) {
            byte[] bytes = m.group().getBytes(StandardCharsets.UTF_8);
            StringBuilder sb = new StringBuilder(bytes.length);
            for (byte b : bytes) sb.append(b2u[b & 0xFF]);
            wordCounts.merge(sb.toString(), 1, Integer::sum);
        }
        // words as symbol lists, sorted for determinism
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (Map.Entry<String, Integer> e : new TreeMap<>(wordCounts).entrySet()) {
            List<String> syms = new ArrayList<>();
            e.getKey().codePoints().forEach(cp -> syms.add(new String(Character.toChars(cp))));
            words.add(syms);
            counts.add(e.getValue());
        }
        List<String> vocab = new ArrayList<>(specials.tokens());
        for (int b = 0; b < 256; b++) vocab.add(String.valueOf(b2u[b]));
        List<String[]> merges = new ArrayList<>();
        while (vocab.size() < vocabSize) {
            Map<String, Long> pairCounts = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<String> s = words.get(w);
                for (int i = 0; i + 1 < s.size(); i++) {
                    pairCounts.merge(s.get(i) + '\u0000' + s.get(i + 1), (long) counts.get(w), Long::sum);
                }
            }
            String best = null;
            long bestCount = 1;
            for (Map.Entry<String, Long> e : pairCounts.entrySet()) {
                long c = e.getValue();
                if (c > bestCount || (c == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
                    best = e.getKey();
                    bestCount = c;
                }
            }
            if (best == null) break;
            int sep = best.indexOf('\u0000');
            String a = best.substring(0, sep), b = best.substring(sep + 1), ab = a + b;
            merges.add(new String[]{a, b});
            if (!vocab.contains(ab)) vocab.add(ab);
            for (List<String> s : words) {
                for (int i = 0; i + 1 < s.size(); i++) {
                    if (s.get(i).equals(a) && s.get(i + 1).equals(b)) {
                        s.set(i, ab);
                        s.remove(i + 1);
                    }
                }
            }
        }
        return new Trained(List.copyOf(vocab), List.copyOf(merges), specials);
    }

    /**
     * Writes {@code tokenizer.json}, {@code tokenizer_config.json} (with {@code chatTemplate} when
     * not null) and {@code special_tokens_map.json} into {@code dir}, each atomically.
     */
    public static void write(Trained t, Path dir, String chatTemplate, int modelMaxLength) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        Specials sp = t.specials();
        for (String s : sp.tokens()) {
            ObjectNode a = added.addObject();
            a.put("id", t.id(s));
            a.put("content", s);
            a.put("single_word", false);
            a.put("lstrip", false);
            a.put("rstrip", false);
            a.put("normalized", false);
            a.put("special", true);
        }
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        ArrayNode pair = post.putArray("pair");
        if (sp.bos() != null) {
            single.addObject().putObject("SpecialToken").put("id", sp.bos()).put("type_id", 0);
            pair.addObject().putObject("SpecialToken").put("id", sp.bos()).put("type_id", 0);
        }
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        if (sp.bos() != null) pair.addObject().putObject("SpecialToken").put("id", sp.bos()).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode stm = post.putObject("special_tokens");
        if (sp.bos() != null) {
            ObjectNode st = stm.putObject(sp.bos());
            st.put("id", sp.bos());
            st.putArray("ids").add(t.id(sp.bos()));
            st.putArray("tokens").add(sp.bos());
        }
        ObjectNode dec = root.putObject("decoder");
        dec.put("type", "ByteLevel");
        dec.put("add_prefix_space", true);
        dec.put("trim_offsets", true);
        dec.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < t.vocab().size(); i++) vocab.put(t.vocab().get(i), i);
        ArrayNode merges = model.putArray("merges");
        for (String[] mg : t.merges()) merges.addArray().add(mg[0]).add(mg[1]);

        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("add_bos_token", sp.bos() != null);
        cfg.put("add_eos_token", false);
        Map<String, Object> decoder = new LinkedHashMap<>();
        for (String s : sp.tokens()) {
            decoder.put(String.valueOf(t.id(s)), Map.of("content", s, "lstrip", false, "normalized", false,
                    "rstrip", false, "single_word", false, "special", true));
        }
        cfg.put("added_tokens_decoder", decoder);
        cfg.put("bos_token", sp.bos());
        if (chatTemplate != null) cfg.put("chat_template", chatTemplate);
        cfg.put("clean_up_tokenization_spaces", false);
        cfg.put("eos_token", sp.eos());
        cfg.put("model_max_length", modelMaxLength);
        cfg.put("pad_token", sp.pad());
        cfg.put("tokenizer_class", "PreTrainedTokenizerFast");
        cfg.put("unk_token", sp.unk());

        Map<String, Object> stmap = new LinkedHashMap<>();
        if (sp.bos() != null) stmap.put("bos_token", sp.bos());
        if (sp.eos() != null) stmap.put("eos_token", sp.eos());
        if (sp.pad() != null) stmap.put("pad_token", sp.pad());
        if (sp.unk() != null) stmap.put("unk_token", sp.unk());

        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        try {
            Files.createDirectories(dir);
            writeAtomic(dir.resolve("tokenizer.json"), om.writeValueAsBytes(root));
            writeAtomic(dir.resolve("tokenizer_config.json"), om.writeValueAsBytes(cfg));
            writeAtomic(dir.resolve("special_tokens_map.json"), om.writeValueAsBytes(stmap));
        } catch (IOException e) {
            throw new Finetune4jException("cannot write tokenizer files to " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void writeAtomic(Path target, byte[] bytes) {
        finetune4j.internal.AtomicFiles.write(target, bytes);
    }
}
