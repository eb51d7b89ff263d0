package finetune4j.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.ModelFormatException;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What a Hugging Face tokenizer directory says besides the vocabulary: special tokens, whether to
 * add BOS/EOS, the maximum length, the added tokens, and the chat templates.
 *
 * <p>Read the way transformers 4.4x reads them ({@code PreTrainedTokenizerBase._from_pretrained}):
 * <ul>
 *   <li>{@code tokenizer_config.json} (optional; unknown keys ignored). Special tokens are a string,
 *       null, or an AddedToken object {@code {"content": ..., "__type": "AddedToken"}}.</li>
 *   <li>{@code chat_template.jinja} (the default template) and {@code additional_chat_templates/*.jinja}
 *       (named ones): when any exists they replace the config's {@code chat_template} entirely.
 *       Otherwise {@code chat_template} is a string (the default) or a list of
 *       {@code {"name", "template"}} (named; "default" is the default).</li>
 *   <li>{@code special_tokens_map.json}: in the legacy layout (a config without
 *       {@code added_tokens_decoder}) its tokens override the config's, as transformers does;
 *       otherwise it only fills tokens the config does not name.</li>
 * </ul>
 *
 * @param directory                 the tokenizer directory, or null for a config parsed from text
 * @param bosToken                  null when not set (Qwen has none)
 * @param addBosToken               null when the config does not say (the tokenizer class decides)
 * @param modelMaxLength            {@link Long#MAX_VALUE} when unbounded (transformers' 1e30 sentinel or absent)
 * @param addedTokensDecoder        id -> added token, sorted by id
 * @param chatTemplates             name -> template ("default" for the unnamed one), in file order
 * @param tokenizerClass            informational ("LlamaTokenizer", ...), null when absent
 */
public record TokenizerConfig(
        Path directory,
        String bosToken, String eosToken, String unkToken, String padToken,
        String sepToken, String clsToken, String maskToken,
        List<String> additionalSpecialTokens,
        Boolean addBosToken, Boolean addEosToken,
        long modelMaxLength,
        SortedMap<Integer, AddedToken> addedTokensDecoder,
        Map<String, TemplateSource> chatTemplates,
        String tokenizerClass) {

    public static final String CONFIG_FILE = "tokenizer_config.json";
    public static final String SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json";
    public static final String CHAT_TEMPLATE_FILE = "chat_template.jinja";
    public static final String CHAT_TEMPLATE_DIR = "additional_chat_templates";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> TOKEN_KEYS = List.of("bos_token", "eos_token", "unk_token", "sep_token",
            "pad_token", "cls_token", "mask_token");

    /** An entry of {@code added_tokens_decoder} (tokenizers' AddedToken). */
    public record AddedToken(String content, boolean lstrip, boolean rstrip, boolean normalized,
                             boolean singleWord, boolean special) {
    }

    /**
     * A chat template's source and where it came from, e.g. {@code /m/tokenizer_config.json key
     * 'chat_template'} or {@code /m/chat_template.jinja}; the origin is named in every template error.
     */
    public record TemplateSource(String source, String origin) {
    }

    public TokenizerConfig {
        additionalSpecialTokens = List.copyOf(additionalSpecialTokens);
        addedTokensDecoder = Collections.unmodifiableSortedMap(new TreeMap<>(addedTokensDecoder));
        chatTemplates = Collections.unmodifiableMap(new LinkedHashMap<>(chatTemplates));
    }

    /**
     * Reads a tokenizer directory (or the {@code tokenizer_config.json} inside it). A directory
     * without {@code tokenizer_config.json} (only {@code tokenizer.json}) gives an empty config.
     *
     * @throws ModelFormatException naming the file and the key when a file is unreadable or malformed
     */
    public static TokenizerConfig load(Path path) {
        Path dir = Files.isRegularFile(path) ? path.toAbsolutePath().getParent() : path;
        if (!Files.isDirectory(dir)) {
            throw new ModelFormatException(path, "no such tokenizer directory (expected a folder with tokenizer_config.json"
                    + " and/or tokenizer.json)");
        }
        Path cfgFile = dir.resolve(CONFIG_FILE);
        JsonNode cfg = Files.isRegularFile(cfgFile) ? readJson(cfgFile) : JSON.createObjectNode();
        String cfgName = cfgFile.toString();
        if (!cfg.isObject()) throw new ModelFormatException(cfgFile, "expected a JSON object at top level, got " + cfg.getNodeType());

        Map<String, JsonNode> tokens = new LinkedHashMap<>();
        for (String k : TOKEN_KEYS) if (cfg.has(k)) tokens.put(k, cfg.get(k));
        if (cfg.has("additional_special_tokens")) tokens.put("additional_special_tokens", cfg.get("additional_special_tokens"));
        Map<String, String> tokenOrigin = new LinkedHashMap<>();
        tokens.keySet().forEach(k -> tokenOrigin.put(k, cfgName));
        Path stmFile = dir.resolve(SPECIAL_TOKENS_MAP_FILE);
        if (Files.isRegularFile(stmFile)) {
            JsonNode stm = readJson(stmFile);
            if (!stm.isObject()) throw new ModelFormatException(stmFile, "expected a JSON object at top level, got " + stm.getNodeType());
            boolean legacy = !cfg.has("added_tokens_decoder");
            for (Map.Entry<String, JsonNode> e : stm.properties()) {
                boolean known = TOKEN_KEYS.contains(e.getKey()) || e.getKey().equals("additional_special_tokens");
                if (known && (legacy || !tokens.containsKey(e.getKey()))) {
                    tokens.put(e.getKey(), e.getValue());
                    tokenOrigin.put(e.getKey(), stmFile.toString());
                }
            }
        }

        Map<String, TemplateSource> templates = templateFiles(dir);
        if (templates.isEmpty()) templates = chatTemplateKey(cfg, cfgName);
        return build(dir, cfg, cfgName, tokens, tokenOrigin, templates);
    }

    /**
     * Parses the text of a {@code tokenizer_config.json} ({@code origin} names it in errors). Only
     * the config's own keys count: no sibling files are read.
     */
    public static TokenizerConfig parse(String json, String origin) {
        JsonNode cfg;
        try {
            cfg = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(origin, "not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")" : ""));
        }
        if (cfg == null || !cfg.isObject()) throw new ModelFormatException(origin, "expected a JSON object at top level");
        Map<String, JsonNode> tokens = new LinkedHashMap<>();
        Map<String, String> tokenOrigin = new LinkedHashMap<>();
        for (String k : TOKEN_KEYS) if (cfg.has(k)) tokens.put(k, cfg.get(k));
        if (cfg.has("additional_special_tokens")) tokens.put("additional_special_tokens", cfg.get("additional_special_tokens"));
        tokens.keySet().forEach(k -> tokenOrigin.put(k, origin));
        return build(null, cfg, origin, tokens, tokenOrigin, chatTemplateKey(cfg, origin));
    }

    private static TokenizerConfig build(Path dir, JsonNode cfg, String cfgName, Map<String, JsonNode> tokens,
                                         Map<String, String> tokenOrigin, Map<String, TemplateSource> templates) {
        String[] t = new String[TOKEN_KEYS.size()];
        for (int i = 0; i < t.length; i++) {
            String k = TOKEN_KEYS.get(i);
            t[i] = tokenString(tokens.get(k), tokenOrigin.get(k), k);
        }
        List<String> additional = new ArrayList<>();
        JsonNode add = tokens.get("additional_special_tokens");
        if (add != null && !add.isNull()) {
            if (!add.isArray()) {
                throw new ModelFormatException(tokenOrigin.get("additional_special_tokens"),
                        "key 'additional_special_tokens': expected a list of tokens, got " + add.getNodeType());
            }
            for (int i = 0; i < add.size(); i++) {
                String s = tokenString(add.get(i), tokenOrigin.get("additional_special_tokens"), "additional_special_tokens[" + i + "]");
                if (s != null) additional.add(s);
            }
        }
        return new TokenizerConfig(dir, t[0], t[1], t[2], t[4], t[3], t[5], t[6], additional,
                bool(cfg, "add_bos_token", cfgName), bool(cfg, "add_eos_token", cfgName),
                maxLength(cfg, cfgName), addedTokens(cfg, cfgName), templates,
                cfg.hasNonNull("tokenizer_class") && cfg.get("tokenizer_class").isTextual() ? cfg.get("tokenizer_class").asText() : null);
    }

    // ------------------------------------------------------------------ derived views

    /**
     * transformers' {@code special_tokens_map}: the special tokens that are set, by attribute name
     * ({@code bos_token}, ..., {@code additional_special_tokens} as a list). These are the variables
     * {@code apply_chat_template} passes to every template.
     */
    public Map<String, Object> specialTokensMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        String[] values = {bosToken, eosToken, unkToken, sepToken, padToken, clsToken, maskToken};
        for (int i = 0; i < values.length; i++) {
            if (values[i] != null && !values[i].isEmpty()) m.put(TOKEN_KEYS.get(i), values[i]);
        }
        if (!additionalSpecialTokens.isEmpty()) m.put("additional_special_tokens", additionalSpecialTokens);
        return Collections.unmodifiableMap(m);
    }

    /** True when a chat template (file or config key) is present. */
    public boolean hasChatTemplate() {
        return !chatTemplates.isEmpty();
    }

    /** Where this config came from, for messages. */
    public String describe() {
        return directory != null ? directory.toString() : "tokenizer config";
    }

    // ------------------------------------------------------------------ parsing helpers

    private static JsonNode readJson(Path file) {
        try {
            JsonNode n = JSON.readTree(Files.readString(file, StandardCharsets.UTF_8));
            if (n == null) throw new ModelFormatException(file, "empty file (expected a JSON object)");
            return n;
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file, "not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")" : ""));
        } catch (IOException e) {
            throw new ModelFormatException(file.toString(), "cannot read: " + e, e);
        }
    }

    /** A special token: a string, null, or an AddedToken object with a string "content". */
    private static String tokenString(JsonNode v, String file, String key) {
        if (v == null || v.isNull()) return null;
        if (v.isTextual()) return v.asText();
        if (v.isObject() && v.has("content") && v.get("content").isTextual()) return v.get("content").asText();
        throw new ModelFormatException(file, "key '" + key + "': expected a token string or an AddedToken object"
                + " {\"content\": ...}, got " + v);
    }

    private static Boolean bool(JsonNode cfg, String key, String file) {
        JsonNode v = cfg.get(key);
        if (v == null || v.isNull()) return null;
        if (!v.isBoolean()) throw new ModelFormatException(file, "key '" + key + "': expected true or false, got " + v);
        return v.asBoolean();
    }

    /** model_max_length; transformers writes int(1e30) (or 1e30 as a float) for "no limit". */
    private static long maxLength(JsonNode cfg, String file) {
        JsonNode v = cfg.get("model_max_length");
        if (v == null || v.isNull()) return Long.MAX_VALUE;
        if (!v.isNumber()) throw new ModelFormatException(file, "key 'model_max_length': expected a positive integer, got " + v);
        if (v.isIntegralNumber()) {
            BigInteger b = v.bigIntegerValue();
            if (b.signum() <= 0) throw new ModelFormatException(file, "key 'model_max_length': expected a positive integer, got " + v);
            return b.bitLength() < 64 ? b.longValue() : Long.MAX_VALUE;
        }
        double d = v.doubleValue();
        if (!(d > 0) || d != Math.rint(d)) throw new ModelFormatException(file, "key 'model_max_length': expected a positive integer, got " + v);
        return d >= 9.2e18 ? Long.MAX_VALUE : (long) d;
    }

    private static SortedMap<Integer, AddedToken> addedTokens(JsonNode cfg, String file) {
        SortedMap<Integer, AddedToken> out = new TreeMap<>();
        JsonNode v = cfg.get("added_tokens_decoder");
        if (v == null || v.isNull()) return out;
        if (!v.isObject()) throw new ModelFormatException(file, "key 'added_tokens_decoder': expected an object {id: token}, got " + v.getNodeType());
        for (Map.Entry<String, JsonNode> e : v.properties()) {
            int id;
            try {
                id = Integer.parseInt(e.getKey());
            } catch (NumberFormatException ex) {
                throw new ModelFormatException(file, "key 'added_tokens_decoder': id '" + e.getKey() + "' is not an integer");
            }
            if (id < 0) throw new ModelFormatException(file, "key 'added_tokens_decoder': id " + id + " is negative");
            JsonNode t = e.getValue();
            if (!t.isObject() || !t.has("content") || !t.get("content").isTextual()) {
                throw new ModelFormatException(file, "key 'added_tokens_decoder[" + id + "]': expected {\"content\": string, ...}, got " + t);
            }
            out.put(id, new AddedToken(t.get("content").asText(), flag(t, "lstrip", false), flag(t, "rstrip", false),
                    flag(t, "normalized", true), flag(t, "single_word", false), flag(t, "special", false)));
        }
        return out;
    }

    private static boolean flag(JsonNode t, String key, boolean dflt) {
        JsonNode v = t.get(key);
        return v == null || !v.isBoolean() ? dflt : v.asBoolean();
    }

    /** chat_template.jinja (default) and additional_chat_templates/NAME.jinja, which win over the config key. */
    private static Map<String, TemplateSource> templateFiles(Path dir) {
        Map<String, TemplateSource> out = new LinkedHashMap<>();
        Path main = dir.resolve(CHAT_TEMPLATE_FILE);
        if (Files.isRegularFile(main)) out.put("default", new TemplateSource(readText(main), main.toString()));
        Path extra = dir.resolve(CHAT_TEMPLATE_DIR);
        if (Files.isDirectory(extra)) {
            List<Path> files = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(extra, "*.jinja")) {
                ds.forEach(files::add);
            } catch (IOException e) {
                throw new ModelFormatException(extra.toString(), "cannot list: " + e, e);
            }
            files.sort(null);
            for (Path f : files) {
                String name = f.getFileName().toString();
                out.put(name.substring(0, name.length() - ".jinja".length()), new TemplateSource(readText(f), f.toString()));
            }
        }
        return out;
    }

    private static String readText(Path f) {
        try {
            return Files.readString(f, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelFormatException(f.toString(), "cannot read: " + e, e);
        }
    }

    /** The config's chat_template: a string, or a list of {"name", "template"}. */
    private static Map<String, TemplateSource> chatTemplateKey(JsonNode cfg, String file) {
        Map<String, TemplateSource> out = new LinkedHashMap<>();
        JsonNode v = cfg.get("chat_template");
        if (v == null || v.isNull()) return out;
        if (v.isTextual()) {
            out.put("default", new TemplateSource(v.asText(), file + " key 'chat_template'"));
            return out;
        }
        if (!v.isArray()) {
            throw new ModelFormatException(file, "key 'chat_template': expected a template string or a list of"
                    + " {\"name\": ..., \"template\": ...}, got " + v.getNodeType());
        }
        for (int i = 0; i < v.size(); i++) {
            JsonNode e = v.get(i);
            if (!e.isObject() || !e.path("name").isTextual() || !e.path("template").isTextual()) {
                throw new ModelFormatException(file, "key 'chat_template[" + i + "]': expected {\"name\": string, \"template\": string}, got " + e);
            }
            String name = e.get("name").asText();
            out.put(name, new TemplateSource(e.get("template").asText(), file + " key 'chat_template' (template '" + name + "')"));
        }
        return out;
    }
}
