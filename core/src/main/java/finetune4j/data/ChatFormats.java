package finetune4j.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.InvalidDataException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The chat layouts: OpenAI {@code messages} and ShareGPT {@code conversations}, with tools.
 *
 * <p>OpenAI messages keep every field (tool_calls, name, tool_call_id, weight...); roles must be one
 * of system, developer, user, assistant, tool (the legacy {@code function} role becomes {@code tool}).
 * A tool call's {@code arguments} given as a JSON string holding an object become that object, the
 * form transformers' chat templates expect. ShareGPT roles: human/user/prompter → user,
 * gpt/assistant/model/bot/chatgpt → assistant, system, function_call → an assistant turn whose
 * {@code tool_calls} hold the call (its value is {@code {"name", "arguments"}} as JSON),
 * observation/tool/function → tool. Top-level {@code tools} (a list, or a JSON string holding one, as
 * LLaMA-Factory writes) become OpenAI-style {@code {"type": "function", "function": {...}}} entries.
 */
final class ChatFormats {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");
    private static final Map<String, String> SHAREGPT_ROLES = Map.ofEntries(
            Map.entry("human", "user"), Map.entry("user", "user"), Map.entry("prompter", "user"),
            Map.entry("gpt", "assistant"), Map.entry("assistant", "assistant"), Map.entry("model", "assistant"),
            Map.entry("bot", "assistant"), Map.entry("chatgpt", "assistant"), Map.entry("system", "system"),
            Map.entry("function_call", "assistant"), Map.entry("observation", "tool"), Map.entry("tool", "tool"),
            Map.entry("function", "tool"));

    private ChatFormats() {
    }

    /** OpenAI-style messages from the array at {@code key}. */
    static List<Message> messages(DatasetReader.RawRecord r, String key) {
        JsonNode arr = r.json().get(key);
        if (arr == null || arr.isNull()) throw r.error(key, "is missing (expected a list of messages)");
        if (!arr.isArray()) {
            throw r.error(key, "expected a list of {\"role\", \"content\"} messages, got "
                    + arr.getNodeType().toString().toLowerCase());
        }
        List<Message> out = new ArrayList<>(arr.size());
        for (int i = 0; i < arr.size(); i++) {
            String at = key + "[" + i + "]";
            JsonNode m = arr.get(i);
            if (!m.isObject()) throw r.error(at, "expected a message object, got " + m.getNodeType().toString().toLowerCase());
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual()) throw r.error(at + ".role", "is missing (expected a string)");
            String rl = role.asText().equals("function") ? "tool" : role.asText();
            if (!ROLES.contains(rl)) {
                throw r.error(at + ".role", "expected one of " + sorted(ROLES) + ", got '" + role.asText() + "'");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> fields = JSON.convertValue(m, LinkedHashMap.class);
            fields.put("role", rl);
            JsonNode content = m.get("content");
            if (content != null && !content.isNull() && !content.isTextual() && !content.isArray()) {
                throw r.error(at + ".content", "expected a string, a list of content parts or null, got "
                        + content.getNodeType().toString().toLowerCase());
            }
            if (m.has("tool_calls") && !m.get("tool_calls").isNull()) fields.put("tool_calls", toolCalls(r, m.get("tool_calls"), at + ".tool_calls"));
            if (rl.equals("assistant") && isBlank(content) && !(fields.get("tool_calls") instanceof List<?> l && !l.isEmpty())) {
                throw r.error(at + ".content", "empty assistant turn (no content and no tool_calls)");
            }
            out.add(message(r, fields, at));
        }
        return out;
    }

    /** ShareGPT conversations (from/value or role/content), with an optional top-level system prompt. */
    static List<Message> shareGpt(DatasetReader.RawRecord r) {
        JsonNode arr = r.json().get("conversations");
        if (arr == null || !arr.isArray()) {
            throw r.error("conversations", "expected a list of {\"from\", \"value\"} turns, got "
                    + (arr == null ? "nothing" : arr.getNodeType().toString().toLowerCase()));
        }
        List<Message> out = new ArrayList<>(arr.size() + 1);
        JsonNode system = r.json().get("system");
        if (system != null && system.isTextual() && !system.asText().isEmpty()) out.add(Message.of("system", system.asText()));
        for (int i = 0; i < arr.size(); i++) {
            String at = "conversations[" + i + "]";
            JsonNode t = arr.get(i);
            if (!t.isObject()) throw r.error(at, "expected a turn object, got " + t.getNodeType().toString().toLowerCase());
            String roleKey = t.has("from") ? "from" : "role", valueKey = t.has("value") ? "value" : "content";
            JsonNode from = t.get(roleKey);
            if (from == null || !from.isTextual()) {
                throw r.error(at + ".from", "is missing (expected \"from\" or \"role\" naming the speaker)");
            }
            String role = SHAREGPT_ROLES.get(from.asText().toLowerCase(java.util.Locale.ROOT));
            if (role == null) {
                throw r.error(at + "." + roleKey, "expected one of " + sorted(SHAREGPT_ROLES.keySet())
                        + ", got '" + from.asText() + "'");
            }
            JsonNode v = t.get(valueKey);
            if (v == null || !v.isTextual()) {
                throw r.error(at + "." + valueKey, v == null ? "is missing (expected a string)"
                        : "expected a string, got " + v.getNodeType().toString().toLowerCase());
            }
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("role", role);
            if (from.asText().equalsIgnoreCase("function_call")) {
                fields.put("content", "");
                fields.put("tool_calls", List.of(functionCall(r, v.asText(), at + "." + valueKey)));
            } else {
                if (role.equals("assistant") && v.asText().isBlank()) {
                    throw r.error(at + "." + valueKey, "empty assistant turn");
                }
                fields.put("content", v.asText());
            }
            out.add(message(r, fields, at));
        }
        return out;
    }

    /** The record's tool definitions ({@code tools}, or the legacy {@code functions}), or null. */
    static List<Object> tools(DatasetReader.RawRecord r) {
        String key = r.json().has("tools") ? "tools" : r.json().has("functions") ? "functions" : null;
        if (key == null) return null;
        JsonNode v = r.json().get(key);
        if (v.isNull()) return null;
        if (v.isTextual()) {
            if (v.asText().isBlank()) return null;
            try {
                v = JSON.readTree(v.asText());
            } catch (JsonProcessingException e) {
                throw r.error(key, "is a string but not valid JSON: " + e.getOriginalMessage());
            }
        }
        if (!v.isArray()) throw r.error(key, "expected a list of tool definitions, got " + v.getNodeType().toString().toLowerCase());
        if (v.isEmpty()) return null;
        List<Object> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            JsonNode t = v.get(i);
            if (!t.isObject()) throw r.error(key + "[" + i + "]", "expected a tool definition object");
            Object def = JSON.convertValue(t, Object.class);
            if (!t.has("type") && t.has("name")) {
                Map<String, Object> wrapped = new LinkedHashMap<>();
                wrapped.put("type", "function");
                wrapped.put("function", def);
                def = wrapped;
            }
            out.add(def);
        }
        return out;
    }

    /** A ShareGPT function_call value {@code {"name", "arguments"}} as an OpenAI tool call. */
    private static Map<String, Object> functionCall(DatasetReader.RawRecord r, String value, String field) {
        JsonNode call;
        try {
            call = JSON.readTree(value);
        } catch (JsonProcessingException e) {
            throw r.error(field, "a function_call value must be JSON {\"name\", \"arguments\"}: "
                    + e.getOriginalMessage());
        }
        if (call == null || !call.isObject() || !call.path("name").isTextual()) {
            throw r.error(field, "a function_call value must be JSON {\"name\": string, \"arguments\": ...}");
        }
        Map<String, Object> function = new LinkedHashMap<>();
        function.put("name", call.get("name").asText());
        function.put("arguments", arguments(call.get("arguments")));
        Map<String, Object> tc = new LinkedHashMap<>();
        tc.put("type", "function");
        tc.put("function", function);
        return tc;
    }

    /** OpenAI tool_calls, checked, with string arguments holding JSON objects turned into objects. */
    private static List<Object> toolCalls(DatasetReader.RawRecord r, JsonNode calls, String field) {
        if (!calls.isArray()) throw r.error(field, "expected a list of tool calls");
        List<Object> out = new ArrayList<>(calls.size());
        for (int i = 0; i < calls.size(); i++) {
            JsonNode c = calls.get(i);
            JsonNode fn = c.get("function");
            if (!c.isObject() || fn == null || !fn.isObject() || !fn.path("name").isTextual()) {
                throw r.error(field + "[" + i + "]", "expected {\"type\": \"function\", \"function\": {\"name\": ..., \"arguments\": ...}}");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> call = JSON.convertValue(c, LinkedHashMap.class);
            @SuppressWarnings("unchecked")
            Map<String, Object> function = JSON.convertValue(fn, LinkedHashMap.class);
            function.put("arguments", arguments(fn.get("arguments")));
            call.put("function", function);
            out.add(call);
        }
        return out;
    }

    /** Arguments as transformers templates expect them: a JSON object (a string holding one is parsed). */
    private static Object arguments(JsonNode a) {
        if (a == null || a.isNull()) return Map.of();
        if (a.isTextual()) {
            try {
                JsonNode parsed = JSON.readTree(a.asText());
                if (parsed != null && parsed.isObject()) return JSON.convertValue(parsed, Object.class);
            } catch (JsonProcessingException e) {
                // not JSON: kept as the string it is
            }
            return a.asText();
        }
        return JSON.convertValue(a, Object.class);
    }

    private static Message message(DatasetReader.RawRecord r, Map<String, Object> fields, String at) {
        return new Message(fields);
    }

    private static boolean isBlank(JsonNode content) {
        if (content == null || content.isNull()) return true;
        if (content.isTextual()) return content.asText().isBlank();
        if (content.isArray()) {
            for (JsonNode part : content) {
                if (!part.path("text").asText("").isBlank() || (part.has("type") && !part.path("type").asText().equals("text"))) return false;
            }
            return true;
        }
        return false;
    }

    private static List<String> sorted(Set<String> s) {
        return s.stream().sorted().toList();
    }
}
