package finetune4j.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads an HF {@code tokenizer.json} (SPECS.md §3e) into the pipeline parts of {@link HfTokenizer}.
 *
 * <p>Every problem is a {@link ModelFormatException} naming the file and the JSON key path
 * ({@code normalizer.normalizers[1].type}), what was found and what is supported. Types outside
 * the supported set are refused rather than guessed: a silently different tokenization would
 * train a model on the wrong ids.
 */
final class TokenizerJson {
    static final String FILE_NAME = "tokenizer.json";

    private final String file;

    private TokenizerJson(String file) {
        this.file = file;
    }

    /** {@code tokenizer.json} given directly, or inside the model directory {@code path}. */
    static HfTokenizer load(Path path) {
        Path json = Files.isDirectory(path) ? path.resolve(FILE_NAME) : path;
        if (!Files.isRegularFile(json)) {
            String hint = Files.isDirectory(path)
                    ? "the model directory has no " + FILE_NAME + " (hint: only HF 'fast' tokenizers are supported; "
                      + "convert a tokenizer.model/vocab.json with transformers' AutoTokenizer.from_pretrained(dir).save_pretrained(dir))"
                    : "no such file (hint: pass the model directory or its " + FILE_NAME + ")";
            throw new ModelFormatException(json.toString(), hint);
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json.toFile());
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            String where = loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
            throw new ModelFormatException(json.toString(), "malformed JSON" + where + ": " + e.getOriginalMessage(), e);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(json.toString(), "no such file", e);
        } catch (IOException e) {
            throw new ModelFormatException(json.toString(), "cannot read: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(json.toString(), "expected a JSON object at the top level (is this a tokenizer.json?)");
        }
        TokenizerJson reader = new TokenizerJson(json.toString());
        return reader.parse(reader.new Node("", root));
    }

    private HfTokenizer parse(Node root) {
        Node version = root.opt("version");
        if (version != null && !"1.0".equals(version.text())) {
            throw error(version, "unsupported tokenizer.json version '" + version.text() + "' (supported: 1.0)");
        }
        Node modelNode = root.obj("model");
        BpeModel model = model(modelNode);
        Normalizer normalizer = root.isNullOrAbsent("normalizer") ? null : normalizer(root.obj("normalizer"));
        PreTokenizer preTokenizer = root.isNullOrAbsent("pre_tokenizer") ? null : preTokenizer(root.obj("pre_tokenizer"));
        List<AddedVocabulary.AddedToken> added = new ArrayList<>();
        if (!root.isNullOrAbsent("added_tokens")) {
            for (Node t : root.arr("added_tokens")) {
                added.add(new AddedVocabulary.AddedToken(t.str("content"), t.bool("single_word", false), t.bool("lstrip", false),
                        t.bool("rstrip", false), t.bool("normalized", true), t.bool("special", false)));
            }
        }
        AddedVocabulary addedVocab = new AddedVocabulary(added, model, normalizer);
        PostProcessor post = root.isNullOrAbsent("post_processor") ? null : postProcessor(root.obj("post_processor"), addedVocab, model);
        Decoder decoder = root.isNullOrAbsent("decoder") ? null : decoder(root.obj("decoder"));
        HfTokenizer.Truncation truncation = root.isNullOrAbsent("truncation") ? null : truncation(root.obj("truncation"));
        HfTokenizer.Padding padding = root.isNullOrAbsent("padding") ? null : padding(root.obj("padding"));
        return new HfTokenizer(file, model, addedVocab, normalizer, preTokenizer, post, decoder, truncation, padding);
    }

    // ---------------------------------------------------------------- model

    private BpeModel model(Node m) {
        String type = m.has("type") ? m.str("type") : (m.has("merges") ? "BPE" : null);
        if (!"BPE".equals(type)) {
            throw error(m.opt("type") != null ? m.opt("type") : m, "unsupported model type '" + type + "' (supported: BPE)");
        }
        Node dropout = m.opt("dropout");
        if (dropout != null && !dropout.json.isNull() && dropout.json.asDouble() != 0.0) {
            throw error(dropout, "BPE dropout " + dropout.json.asDouble() + " is not supported (it randomizes encoding; set it to null)");
        }
        Node vocabNode = m.obj("vocab");
        Map<String, Integer> vocab = new HashMap<>(vocabNode.json.size() * 2);
        for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.json.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (!v.canConvertToInt() || !v.isIntegralNumber() || v.intValue() < 0) {
                throw error(vocabNode.child(e.getKey()), "expected a non-negative integer id, got " + v);
            }
            vocab.put(e.getKey(), v.intValue());
        }
        String prefix = m.optStr("continuing_subword_prefix");
        String suffix = m.optStr("end_of_word_suffix");
        int prefixLen = prefix == null ? 0 : prefix.length();
        List<Node> mergeNodes = m.arr("merges");
        int[] left = new int[mergeNodes.size()], right = new int[mergeNodes.size()], merged = new int[mergeNodes.size()];
        int rank = 0;
        for (Node mn : mergeNodes) {
            String a, b;
            if (mn.json.isTextual()) {
                String line = mn.json.textValue();
                if (line.startsWith("#version")) continue;
                String[] parts = line.split(" ", -1);
                if (parts.length != 2) throw error(mn, "expected a merge \"left right\" with exactly one space, got '" + line + "'");
                a = parts[0];
                b = parts[1];
            } else if (mn.json.isArray() && mn.json.size() == 2 && mn.json.get(0).isTextual() && mn.json.get(1).isTextual()) {
                a = mn.json.get(0).textValue();
                b = mn.json.get(1).textValue();
            } else {
                throw error(mn, "expected a merge as \"left right\" or [\"left\", \"right\"], got " + mn.json);
            }
            Integer ia = vocab.get(a), ib = vocab.get(b);
            if (ia == null || ib == null) throw error(mn, "merge token '" + (ia == null ? a : b) + "' is not in model.vocab");
            if (b.length() < prefixLen) throw error(mn, "merge token '" + b + "' is shorter than continuing_subword_prefix");
            String joined = a + b.substring(prefixLen);
            Integer im = vocab.get(joined);
            if (im == null) throw error(mn, "merged token '" + joined + "' is not in model.vocab");
            left[rank] = ia;
            right[rank] = ib;
            merged[rank] = im;
            rank++;
        }
        left = java.util.Arrays.copyOf(left, rank);
        right = java.util.Arrays.copyOf(right, rank);
        merged = java.util.Arrays.copyOf(merged, rank);
        String unk = m.optStr("unk_token");
        int unkId = -1;
        if (unk != null) {
            Integer id = vocab.get(unk);
            if (id == null) throw error(m.child("unk_token"), "unk_token '" + unk + "' is not in model.vocab");
            unkId = id;
        }
        return new BpeModel(vocab, left, right, merged, unkId, m.bool("fuse_unk", false), m.bool("byte_fallback", false),
                prefix, suffix, m.bool("ignore_merges", false));
    }

    // ---------------------------------------------------------------- normalizers

    private static final String NORMALIZERS = "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip, ByteLevel";

    private Normalizer normalizer(Node n) {
        String type = n.str("type");
        return switch (type) {
            case "Sequence" -> {
                List<Normalizer> list = new ArrayList<>();
                for (Node c : n.arr("normalizers")) list.add(normalizer(c));
                yield new Normalizer.Sequence(list);
            }
            case "Prepend" -> new Normalizer.Prepend(n.str("prepend"));
            case "Replace" -> {
                Node p = n.obj("pattern");
                yield new Normalizer.Replace(pattern(p), literal(p), n.str("content"));
            }
            case "NFC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFC);
            case "NFD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKD);
            case "Lowercase" -> new Normalizer.Lowercase();
            case "Strip" -> new Normalizer.Strip(n.bool("strip_left", true), n.bool("strip_right", true));
            case "ByteLevel" -> new Normalizer.ByteLevel();
            default -> throw error(n.child("type"), "unknown normalizer type '" + type + "' (supported: " + NORMALIZERS + ")");
        };
    }

    // ---------------------------------------------------------------- pre-tokenizers

    private static final String PRE_TOKENIZERS =
            "Sequence, ByteLevel, Split, Digits, Metaspace, Whitespace, WhitespaceSplit, Punctuation, CharDelimiterSplit, BertPreTokenizer";

    private PreTokenizer preTokenizer(Node n) {
        String type = n.str("type");
        return switch (type) {
            case "Sequence" -> {
                List<PreTokenizer> list = new ArrayList<>();
                for (Node c : n.arr("pretokenizers")) list.add(preTokenizer(c));
                yield new PreTokenizer.Sequence(list);
            }
            case "ByteLevel" -> new PreTokenizer.ByteLevel(n.bool("add_prefix_space", true), n.bool("use_regex", true));
            case "Split" -> new PreTokenizer.Split(pattern(n.obj("pattern")), behavior(n, "behavior", null), n.bool("invert", false));
            case "Digits" -> new PreTokenizer.Digits(n.bool("individual_digits", false));
            case "Metaspace" -> new PreTokenizer.Metaspace(singleChar(n, "replacement"), prependScheme(n), n.bool("split", true));
            case "Whitespace" -> new PreTokenizer.Whitespace();
            case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
            case "Punctuation" -> new PreTokenizer.Punctuation(behavior(n, "behavior", Splits.Behavior.Isolated));
            case "CharDelimiterSplit" -> new PreTokenizer.CharDelimiterSplit(singleChar(n, "delimiter"));
            case "BertPreTokenizer" -> new PreTokenizer.BertPreTokenizer();
            default -> throw error(n.child("type"), "unknown pre_tokenizer type '" + type + "' (supported: " + PRE_TOKENIZERS + ")");
        };
    }

    private Splits.Behavior behavior(Node n, String key, Splits.Behavior dflt) {
        if (!n.has(key) && dflt != null) return dflt;
        String v = n.str(key);
        for (Splits.Behavior b : Splits.Behavior.values()) if (b.name().equals(v)) return b;
        throw error(n.child(key), "unknown split behavior '" + v + "' (supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
    }

    /** Metaspace {@code prepend_scheme}, or the older {@code add_prefix_space} spelling (HF's deserializer rules). */
    private PreTokenizer.PrependScheme prependScheme(Node n) {
        PreTokenizer.PrependScheme scheme = PreTokenizer.PrependScheme.always;
        if (n.has("prepend_scheme") && !n.isNullOrAbsent("prepend_scheme")) {
            String v = n.str("prepend_scheme");
            try {
                scheme = PreTokenizer.PrependScheme.valueOf(v);
            } catch (IllegalArgumentException e) {
                throw error(n.child("prepend_scheme"), "unknown prepend_scheme '" + v + "' (supported: first, never, always)");
            }
        }
        if (n.has("add_prefix_space") && !n.bool("add_prefix_space", true)) {
            if (scheme != PreTokenizer.PrependScheme.never && n.has("prepend_scheme")) {
                throw error(n.child("add_prefix_space"), "add_prefix_space=false contradicts prepend_scheme '" + scheme + "'");
            }
            scheme = PreTokenizer.PrependScheme.never;
        }
        return scheme;
    }

    // ---------------------------------------------------------------- post-processors

    private static final String POST_PROCESSORS = "TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence";

    private PostProcessor postProcessor(Node n, AddedVocabulary added, BpeModel model) {
        String type = n.str("type");
        return switch (type) {
            case "TemplateProcessing" -> template(n, added, model);
            case "ByteLevel" -> new PostProcessor.ByteLevel(n.bool("trim_offsets", true), n.bool("add_prefix_space", true));
            case "BertProcessing" -> new PostProcessor.ClsSep(tokenPairId(n, "cls"), tokenPairId(n, "sep"), false, false);
            case "RobertaProcessing" -> new PostProcessor.ClsSep(tokenPairId(n, "cls"), tokenPairId(n, "sep"),
                    n.bool("trim_offsets", true), n.bool("add_prefix_space", true));
            case "Sequence" -> {
                List<PostProcessor> list = new ArrayList<>();
                for (Node c : n.arr("processors")) list.add(postProcessor(c, added, model));
                yield new PostProcessor.Sequence(list);
            }
            default -> throw error(n.child("type"), "unknown post_processor type '" + type + "' (supported: " + POST_PROCESSORS + ")");
        };
    }

    /** BertProcessing's {@code ["[CLS]", 101]}. */
    private int tokenPairId(Node n, String key) {
        Node p = n.child(key);
        if (p.json == null || !p.json.isArray() || p.json.size() != 2 || !p.json.get(1).canConvertToInt()) {
            throw error(p, "expected [\"token\", id], got " + p.json);
        }
        return p.json.get(1).intValue();
    }

    private PostProcessor template(Node n, AddedVocabulary added, BpeModel model) {
        Map<String, int[]> specials = new LinkedHashMap<>();
        Node st = n.obj("special_tokens");
        for (Iterator<Map.Entry<String, JsonNode>> it = st.json.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Node t = st.child(e.getKey());
            List<Node> idNodes = t.arr("ids");
            int[] ids = new int[idNodes.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!idNodes.get(i).json.canConvertToInt()) throw error(idNodes.get(i), "expected an integer id, got " + idNodes.get(i).json);
                ids[i] = idNodes.get(i).json.intValue();
            }
            specials.put(e.getKey(), ids);
        }
        Node single = n.child("single");
        List<PostProcessor.Item> items = new ArrayList<>();
        if (single.json != null && single.json.isTextual()) {
            for (String part : single.json.textValue().trim().split("\\s+")) {
                String name = part.replaceFirst(":\\d+$", "");
                if (name.equals("$") || name.equals("$A") || name.equals("$0")) items.add(new PostProcessor.Item.Sequence());
                else if (name.startsWith("$")) throw error(single, "the single template may only use sequence $A, got '" + part + "'");
                else items.add(special(single, name, specials));
            }
        } else {
            List<Node> parts = n.arr("single");
            for (Node part : parts) {
                if (part.has("SpecialToken")) {
                    Node s = part.obj("SpecialToken");
                    items.add(special(s.child("id"), s.str("id"), specials));
                } else if (part.has("Sequence")) {
                    String id = part.obj("Sequence").str("id");
                    if (!"A".equals(id)) throw error(part, "the single template may only use sequence A, got '" + id + "'");
                    items.add(new PostProcessor.Item.Sequence());
                } else {
                    throw error(part, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}, got " + part.json);
                }
            }
        }
        return new PostProcessor.Template(items);
    }

    private PostProcessor.Item special(Node where, String name, Map<String, int[]> specials) {
        int[] ids = specials.get(name);
        if (ids == null) throw error(where, "special token '" + name + "' is not listed in special_tokens");
        return new PostProcessor.Item.Special(name, ids);
    }

    // ---------------------------------------------------------------- decoders

    private static final String DECODERS = "Sequence, Replace, ByteFallback, Fuse, Strip, ByteLevel, Metaspace, BPEDecoder";

    private Decoder decoder(Node n) {
        String type = n.str("type");
        return switch (type) {
            case "Sequence" -> {
                List<Decoder> list = new ArrayList<>();
                for (Node c : n.arr("decoders")) list.add(decoder(c));
                yield new Decoder.Sequence(list);
            }
            case "Replace" -> {
                Node p = n.obj("pattern");
                yield new Decoder.Replace(pattern(p), literal(p), n.str("content"));
            }
            case "ByteFallback" -> new Decoder.ByteFallback();
            case "Fuse" -> new Decoder.Fuse();
            case "Strip" -> new Decoder.Strip(singleChar(n, "content"), n.nonNegInt("start"), n.nonNegInt("stop"));
            case "ByteLevel" -> new Decoder.ByteLevel();
            case "Metaspace" -> new Decoder.Metaspace(singleChar(n, "replacement"), prependScheme(n) != PreTokenizer.PrependScheme.never);
            case "BPEDecoder" -> new Decoder.BpeSuffix(n.has("suffix") ? n.str("suffix") : "</w>");
            default -> throw error(n.child("type"), "unknown decoder type '" + type + "' (supported: " + DECODERS + ")");
        };
    }

    // ---------------------------------------------------------------- truncation / padding

    private HfTokenizer.Truncation truncation(Node n) {
        return new HfTokenizer.Truncation(n.nonNegInt("max_length"), n.has("stride") ? n.nonNegInt("stride") : 0,
                n.has("strategy") ? n.str("strategy") : "LongestFirst", n.has("direction") ? n.str("direction") : "Right");
    }

    private HfTokenizer.Padding padding(Node n) {
        Node strategy = n.child("strategy");
        Integer fixed = null;
        if (strategy.json != null && strategy.json.isObject() && strategy.json.has("Fixed")) {
            fixed = strategy.child("Fixed").nonNegIntValue();
        } else if (strategy.json == null || !"BatchLongest".equals(strategy.json.asText())) {
            throw error(strategy, "expected \"BatchLongest\" or {\"Fixed\": n}, got " + strategy.json);
        }
        return new HfTokenizer.Padding(fixed, n.has("pad_id") ? n.nonNegInt("pad_id") : 0,
                n.isNullOrAbsent("pad_token") ? null : n.str("pad_token"), n.has("direction") ? n.str("direction") : "Right",
                n.isNullOrAbsent("pad_to_multiple_of") ? null : n.nonNegInt("pad_to_multiple_of"));
    }

    // ---------------------------------------------------------------- shared pieces

    /** {@code {"String": s}} (literal) or {@code {"Regex": r}} (Oniguruma). */
    private Pattern pattern(Node p) {
        if (p.has("String")) return HfRegex.literal(p.str("String"));
        if (p.has("Regex")) {
            String re = p.str("Regex");
            try {
                return HfRegex.compile(re);
            } catch (PatternSyntaxException e) {
                throw error(p.child("Regex"), "regex does not compile: " + e.getDescription() + " in /" + re + "/");
            }
        }
        throw error(p, "expected {\"String\": ...} or {\"Regex\": ...}, got " + p.json);
    }

    private static String literal(Node p) {
        return p.has("String") ? p.json.get("String").asText() : null;
    }

    private int singleChar(Node n, String key) {
        String s = n.str(key);
        if (s.codePointCount(0, s.length()) != 1) throw error(n.child(key), "expected a single character, got '" + s + "'");
        return s.codePointAt(0);
    }

    private ModelFormatException error(Node where, String what) {
        return new ModelFormatException(file, "key '" + where.path + "': " + what);
    }

    /** A JSON node with its key path, for error messages. */
    private final class Node {
        final String path;
        final JsonNode json;     // null when absent

        Node(String path, JsonNode json) {
            this.path = path;
            this.json = json;
        }

        Node child(String key) {
            return new Node(path.isEmpty() ? key : path + "." + key, json == null ? null : json.get(key));
        }

        boolean has(String key) {
            return json != null && json.has(key);
        }

        boolean isNullOrAbsent(String key) {
            return json == null || !json.has(key) || json.get(key).isNull();
        }

        Node opt(String key) {
            return has(key) ? child(key) : null;
        }

        String text() {
            return json == null ? "null" : json.asText();
        }

        Node obj(String key) {
            Node c = child(key);
            if (c.json == null) throw error(c, "missing (expected an object)");
            if (!c.json.isObject()) throw error(c, "expected an object, got " + abbreviate(c.json));
            return c;
        }

        List<Node> arr(String key) {
            Node c = child(key);
            if (c.json == null) throw error(c, "missing (expected an array)");
            if (!c.json.isArray()) throw error(c, "expected an array, got " + abbreviate(c.json));
            List<Node> out = new ArrayList<>(c.json.size());
            for (int i = 0; i < c.json.size(); i++) out.add(new Node(c.path + "[" + i + "]", c.json.get(i)));
            return out;
        }

        String str(String key) {
            Node c = child(key);
            if (c.json == null) throw error(c, "missing (expected a string)");
            if (!c.json.isTextual()) throw error(c, "expected a string, got " + abbreviate(c.json));
            return c.json.textValue();
        }

        String optStr(String key) {
            return isNullOrAbsent(key) ? null : str(key);
        }

        boolean bool(String key, boolean dflt) {
            if (isNullOrAbsent(key)) return dflt;
            Node c = child(key);
            if (!c.json.isBoolean()) throw error(c, "expected true or false, got " + abbreviate(c.json));
            return c.json.booleanValue();
        }

        int nonNegInt(String key) {
            Node c = child(key);
            if (c.json == null) throw error(c, "missing (expected a non-negative integer)");
            return c.nonNegIntValue();
        }

        int nonNegIntValue() {
            if (json == null || !json.isIntegralNumber() || !json.canConvertToInt() || json.intValue() < 0) {
                throw error(this, "expected a non-negative integer, got " + (json == null ? "nothing" : abbreviate(json)));
            }
            return json.intValue();
        }
    }

    private static String abbreviate(JsonNode n) {
        String s = n.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
