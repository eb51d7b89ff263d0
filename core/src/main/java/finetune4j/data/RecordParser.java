package finetune4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.InvalidDataException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Turns raw records into {@link Example}s: applies the key renames, detects the format from the keys
 * (or takes the forced one), and builds the example. Detection, first match wins:
 * <ol>
 *   <li>{@code messages} → {@link DataFormat#MESSAGES};</li>
 *   <li>{@code conversations} → {@link DataFormat#SHAREGPT};</li>
 *   <li>{@code prompt} holding an object, or {@code message_id} → {@link DataFormat#OASST}
 *       (exported tree, tree node, or flat message row);</li>
 *   <li>{@code instruction} with {@code output} → {@link DataFormat#ALPACA}, with {@code response} or
 *       {@code context} → {@link DataFormat#DOLLY};</li>
 *   <li>{@code prompt} or {@code completion} → {@link DataFormat#COMPLETION};</li>
 *   <li>{@code text} → {@link DataFormat#TEXT}.</li>
 * </ol>
 * Alpaca and Dolly records become a user turn (the instruction, then a blank line and the input or
 * context when there is one) and an assistant turn; the user message also carries the fields
 * {@code instruction} and {@code input} so that the {@code alpaca} template can write the Stanford
 * prompt exactly. Every conversation is checked: roles known, no empty assistant turn, at least one
 * assistant turn; trailing turns after the last assistant turn are dropped (and counted: they train
 * nothing). Each problem is an {@link InvalidDataException} naming {@code path:line} and the field.
 *
 * <p>One parser reads one file (flat OpenAssistant rows are held, in compact form, until
 * {@link #finish}); not thread-safe.
 */
final class RecordParser {
    private final DataOptions options;
    private final OasstFormat oasst;
    long trailingTurnsDropped;

    RecordParser(DataOptions options) {
        this.options = options;
        this.oasst = new OasstFormat(options.oasst());
    }

    /** Messages dropped by the OpenAssistant filters (deleted, synthetic, lang). */
    long oasstFiltered() {
        return oasst.filtered;
    }

    /** Flat OpenAssistant rows unreachable from a root (below an orphan or in a cycle). */
    long oasstUnreachable() {
        return oasst.unreachable;
    }

    /** Parses one record, sending its examples (none, one, or several OpenAssistant threads) to {@code out}. */
    void parse(DatasetReader.RawRecord r, Consumer<Example> out) {
        JsonNode json = rename(r.json());
        DatasetReader.RawRecord rec = json == r.json() ? r : r.withJson(json);
        DataFormat f = options.format() != null ? options.format() : detect(rec);
        switch (f) {
            case TEXT, COMPLETION -> out.accept(simple(rec, f));
            case ALPACA -> out.accept(instruction(rec, "output", "input", DataFormat.ALPACA));
            case DOLLY -> out.accept(instruction(rec, "response", "context", DataFormat.DOLLY));
            case SHAREGPT -> out.accept(finish(rec, DataFormat.SHAREGPT, ChatFormats.shareGpt(rec), ChatFormats.tools(rec), -1));
            case MESSAGES -> out.accept(finish(rec, DataFormat.MESSAGES, ChatFormats.messages(rec, "messages"), ChatFormats.tools(rec), -1));
            case OASST -> oasst.parse(rec, out);
        }
    }

    /** Examples from records held back (flat OpenAssistant rows); problems go to {@code bad}. */
    void finish(Consumer<Example> out, BadRecords bad) {
        oasst.finish(out, bad);
    }

    private JsonNode rename(JsonNode json) {
        if (options.renames().isEmpty()) return json;
        ObjectNode o = null;
        for (Map.Entry<String, String> e : options.renames().entrySet()) {
            if (!json.has(e.getKey())) continue;
            if (o == null) o = ((ObjectNode) json).deepCopy();
            JsonNode v = o.remove(e.getKey());
            o.set(e.getValue(), v);
        }
        return o == null ? json : o;
    }

    static DataFormat detect(DatasetReader.RawRecord r) {
        JsonNode j = r.json();
        if (j.has("messages")) return DataFormat.MESSAGES;
        if (j.has("conversations")) return DataFormat.SHAREGPT;
        if ((j.has("prompt") && j.get("prompt").isObject()) || j.has("message_id")) return DataFormat.OASST;
        if (j.has("instruction")) {
            if (j.has("output")) return DataFormat.ALPACA;
            if (j.has("response") || j.has("context")) return DataFormat.DOLLY;
            throw r.error("output", "is missing: a record with 'instruction' needs"
                    + " 'output' (Alpaca) or 'response' (Dolly); found keys " + keys(j));
        }
        if (j.has("prompt") || j.has("completion")) return DataFormat.COMPLETION;
        if (j.has("text")) return DataFormat.TEXT;
        throw r.error(null, "record matches no known format: expected one of"
                + " {\"messages\"}, {\"conversations\"}, {\"instruction\", \"output\"}, {\"instruction\", \"context\", \"response\"},"
                + " {\"prompt\", \"completion\"}, {\"text\"} or an OpenAssistant tree/row, found keys " + keys(j)
                + " (hint: rename keys with --map old=new, or force one with --format)");
    }

    /** Text or prompt/completion; message-list prompt/completion (TRL conversational) becomes a conversation. */
    private Example simple(DatasetReader.RawRecord r, DataFormat f) {
        JsonNode j = r.json();
        if (f == DataFormat.COMPLETION && (j.path("prompt").isArray() || j.path("completion").isArray())) {
            List<Message> prompt = ChatFormats.messages(r, "prompt");
            List<Message> completion = ChatFormats.messages(r, "completion");
            List<Message> all = new ArrayList<>(prompt);
            all.addAll(completion);
            return finish(r, DataFormat.COMPLETION, all, ChatFormats.tools(r), prompt.size());
        }
        if (f == DataFormat.TEXT && !j.has("text")) throw r.error("text", "is missing (expected a string)");
        Example e = SimpleFormats.parse(r);
        if (e instanceof Example.Text t && t.text().isEmpty()) {
            throw r.error("text", "is empty: nothing to train on");
        }
        if (f == DataFormat.COMPLETION && !(e instanceof Example.PromptCompletion)) {
            throw r.error("completion", "is missing (expected a string)");
        }
        return e;
    }

    /** Alpaca / Dolly: {@code instruction}, optional {@code input}/{@code context}, answer in {@code answerKey}. */
    private Example instruction(DatasetReader.RawRecord r, String answerKey, String inputKey, DataFormat f) {
        String instruction = string(r, r.json(), "instruction", "instruction", true);
        String input = string(r, r.json(), inputKey, inputKey, false);
        String answer = string(r, r.json(), answerKey, answerKey, true);
        if (instruction.isBlank()) throw r.error("instruction", "is empty");
        if (answer.isBlank()) throw r.error(answerKey, "is empty: an empty assistant turn trains nothing");
        Map<String, Object> user = new LinkedHashMap<>();
        user.put("role", "user");
        user.put("content", input == null || input.isEmpty() ? instruction : instruction + "\n\n" + input);
        user.put("instruction", instruction);
        user.put("input", input == null ? "" : input);
        List<Message> messages = new ArrayList<>();
        JsonNode system = r.json().get("system");
        if (system != null && system.isTextual() && !system.asText().isEmpty()) messages.add(Message.of("system", system.asText()));
        messages.add(new Message(user));
        messages.add(Message.of("assistant", answer));
        return new Example.Conversation(r.source(), f, messages, null, -1);
    }

    /** Common checks and the trailing-turn trim of a conversation. */
    Example finish(DatasetReader.RawRecord r, DataFormat f, List<Message> messages, List<Object> tools, int promptMessages) {
        return conversation(r, r.source(), f, messages, tools, promptMessages, this);
    }

    static Example.Conversation conversation(DatasetReader.RawRecord r, String source, DataFormat f, List<Message> messages,
                                             List<Object> tools, int promptMessages, RecordParser counter) {
        List<Message> m = new ArrayList<>(messages);
        if (promptMessages < 0) {
            int before = m.size();
            while (!m.isEmpty() && !m.getLast().role().equals("assistant")) m.removeLast();
            if (counter != null) counter.trailingTurnsDropped += before - m.size();
        }
        boolean any = false;
        for (Message c : m) any |= c.role().equals("assistant");
        if (!any) {
            throw r.error(null, "no assistant turn: nothing to train on (roles "
                    + messages.stream().map(Message::role).toList() + ")");
        }
        return new Example.Conversation(source, f, m, tools, promptMessages);
    }

    /** A string field; null when absent and not required. */
    static String string(DatasetReader.RawRecord r, JsonNode obj, String key, String field, boolean required) {
        JsonNode v = obj.get(key);
        if (v == null || v.isNull()) {
            if (required) throw r.error(field, "is missing (expected a string)");
            return null;
        }
        if (!v.isTextual()) {
            throw r.error(field, "expected a string, got " + v.getNodeType().toString().toLowerCase());
        }
        return v.asText();
    }

    static List<String> keys(JsonNode j) {
        List<String> keys = new ArrayList<>();
        j.fieldNames().forEachRemaining(keys::add);
        return keys;
    }
}
