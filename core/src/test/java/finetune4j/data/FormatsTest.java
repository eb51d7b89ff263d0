package finetune4j.data;

import finetune4j.InvalidDataException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every record layout to conversations, with the checks and filters, from small handmade records. */
class FormatsTest {
    @TempDir
    Path dir;

    record Loaded(List<Example> examples, BadRecords bad, DatasetLoader.Stats stats) {
    }

    Loaded load(String content, DataOptions opt) throws Exception {
        Path f = dir.resolve("d" + System.nanoTime() + ".jsonl");
        Files.writeString(f, content);
        return load(f, opt);
    }

    static Loaded load(Path f, DataOptions opt) {
        BadRecords bad = new BadRecords(BadRecords.Policy.SKIP);
        DatasetLoader l = new DatasetLoader(opt, bad);
        List<Example> out = new ArrayList<>();
        l.read(f, out::add);
        return new Loaded(out, bad, l.stats());
    }

    static Example.Conversation conv(Example e) {
        return (Example.Conversation) e;
    }

    static List<String> roles(Example e) {
        return conv(e).messages().stream().map(Message::role).toList();
    }

    @Test
    void detectsEachFormat() throws Exception {
        Loaded l = load("""
                {"instruction": "I", "input": "", "output": "O"}
                {"instruction": "I", "context": "C", "response": "R", "category": "open_qa"}
                {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
                {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
                {"prompt": "p", "completion": "c"}
                {"text": "t"}
                {"message_id": "m", "role": "prompter", "text": "q", "replies": [{"message_id": "r", "role": "assistant", "text": "a"}]}
                """, DataOptions.DEFAULT);
        assertThat(l.examples()).extracting(Example::format).containsExactly(DataFormat.ALPACA, DataFormat.DOLLY, DataFormat.SHAREGPT,
                DataFormat.MESSAGES, DataFormat.COMPLETION, DataFormat.TEXT, DataFormat.OASST);
        assertThat(l.bad().count()).isZero();
        assertThat(l.stats().examplesByFormat()).containsEntry(DataFormat.ALPACA, 1L).hasSize(7);
    }

    @Test
    void alpacaAndDollyBecomeAUserTurnWithTheirFields() throws Exception {
        Loaded l = load("""
                {"instruction": "Translate.", "input": "Hi", "output": "Salut"}
                {"instruction": "Sum up.", "context": "Long text.", "response": "Short.", "category": "summarization"}
                {"instruction": "Just do it.", "output": "Done", "system": "You are a bot."}
                """, DataOptions.DEFAULT);
        Example.Conversation a = conv(l.examples().get(0));
        assertThat(a.messages().get(0).fields()).containsEntry("content", "Translate.\n\nHi").containsEntry("instruction", "Translate.")
                .containsEntry("input", "Hi");
        assertThat(a.messages().get(1).text()).isEqualTo("Salut");
        assertThat(conv(l.examples().get(1)).messages().get(0).fields()).containsEntry("content", "Sum up.\n\nLong text.").containsEntry("input", "Long text.");
        assertThat(roles(l.examples().get(2))).containsExactly("system", "user", "assistant");
        assertThat(conv(l.examples().get(2)).messages().get(1).text()).isEqualTo("Just do it.");
    }

    @Test
    void shareGptRolesToolsAndVariants() throws Exception {
        Loaded l = load("""
                {"system": "S", "conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": "{\\"name\\": \\"f\\", \\"arguments\\": {\\"x\\": 1}}"}, {"from": "observation", "value": "42"}, {"from": "gpt", "value": "a"}, {"from": "human", "value": "trailing"}], "tools": "[{\\"name\\": \\"f\\", \\"parameters\\": {}}]"}
                {"conversations": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
                """, DataOptions.DEFAULT);
        Example.Conversation c = conv(l.examples().get(0));
        assertThat(roles(c)).containsExactly("system", "user", "assistant", "tool", "assistant");       // trailing human dropped
        assertThat(l.stats().trailingTurnsDropped()).isEqualTo(1);
        assertThat(c.messages().get(2).fields().get("tool_calls")).isEqualTo(List.of(Map.of("type", "function",
                "function", Map.of("name", "f", "arguments", Map.of("x", 1L)))));
        assertThat(c.tools()).containsExactly(Map.of("type", "function", "function", Map.of("name", "f", "parameters", Map.of())));
        assertThat(roles(l.examples().get(1))).containsExactly("user", "assistant");
    }

    @Test
    void openAiMessagesKeepToolCallsWithObjectArgumentsAndWeights() throws Exception {
        Loaded l = load("""
                {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{\\"a\\": [1, 2]}"}}]}, {"role": "function", "name": "f", "content": "r"}, {"role": "assistant", "content": "x", "weight": 0}], "tools": [{"type": "function", "function": {"name": "f"}}]}
                """, DataOptions.DEFAULT);
        Example.Conversation c = conv(l.examples().getFirst());
        assertThat(roles(c)).containsExactly("user", "assistant", "tool", "assistant");
        @SuppressWarnings("unchecked")
        Map<String, Object> call = (Map<String, Object>) ((List<?>) c.messages().get(1).fields().get("tool_calls")).getFirst();
        assertThat(call).containsEntry("id", "1").containsEntry("function", Map.of("name", "f", "arguments", Map.of("a", List.of(1L, 2L))));
        assertThat(c.messages().get(3).fields()).containsEntry("weight", 0L);
        assertThat(c.tools()).hasSize(1);
    }

    @Test
    void promptCompletionStringsAndMessageLists() throws Exception {
        Loaded l = load("""
                {"prompt": "2+2=", "completion": "4"}
                {"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}]}
                """, DataOptions.DEFAULT);
        assertThat(l.examples().get(0)).isEqualTo(new Example.PromptCompletion(l.examples().get(0).source(), "2+2=", "4"));
        Example.Conversation c = conv(l.examples().get(1));
        assertThat(c.promptMessages()).isEqualTo(2);
        assertThat(c.completionStart()).isEqualTo(2);
        assertThat(c.format()).isEqualTo(DataFormat.COMPLETION);
    }

    @Test
    void renamesAndForcedFormat() throws Exception {
        Loaded l = load("{\"question\": \"Q?\", \"answer\": \"A.\"}\n",
                new DataOptions(null, DataOptions.parseRenames(List.of("question=instruction", "answer=output")), null));
        assertThat(l.examples()).singleElement().extracting(Example::format).isEqualTo(DataFormat.ALPACA);
        Loaded forced = load("{\"instruction\": \"I\", \"output\": \"O\", \"text\": \"T\"}\n", new DataOptions(DataFormat.TEXT, Map.of(), null));
        assertThat(forced.examples()).singleElement().isInstanceOf(Example.Text.class);
        Loaded wrong = load("{\"text\": \"T\"}\n", new DataOptions(DataFormat.MESSAGES, Map.of(), null));
        assertThat(wrong.bad().skipped()).singleElement().extracting(Throwable::getMessage).asString().contains("field 'messages': is missing");
        assertThatThrownBy(() -> DataOptions.parseRenames(List.of("nope"))).hasMessageContaining("--map = 'nope'");
        assertThatThrownBy(() -> DataFormat.parse("xml")).hasMessageContaining("--format = 'xml'");
    }

    @Test
    void badRecordsNamePathLineFieldAndReason() throws Exception {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, """
                {"messages": [{"role": "user", "content": "q"}, {"role": "robot", "content": "a"}]}
                {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": " "}]}
                {"instruction": "I"}
                not json
                [1, 2]
                {"messages": [{"role": "user", "content": "q"}]}
                {"messages": [{"role": "assistant", "content": "a", "tool_calls": [{"function": {}}]}]}
                {"conversations": [{"from": "function_call", "value": "not json"}, {"from": "gpt", "value": "a"}]}
                {"text": ""}
                {"what": 1}
                """);
        Loaded l = load(f, DataOptions.DEFAULT);
        List<String> msgs = l.bad().skipped().stream().map(Throwable::getMessage).toList();
        assertThat(msgs).containsExactly(
                f + ":1: field 'messages[1].role': expected one of [assistant, developer, system, tool, user], got 'robot'",
                f + ":2: field 'conversations[1].value': empty assistant turn",
                f + ":3: field 'output': is missing: a record with 'instruction' needs 'output' (Alpaca) or 'response' (Dolly); found keys [instruction]",
                msgs.get(3), msgs.get(4),
                f + ":6: no assistant turn: nothing to train on (roles [user])",
                f + ":7: field 'messages[0].tool_calls[0]': expected {\"type\": \"function\", \"function\": {\"name\": ..., \"arguments\": ...}}",
                msgs.get(7),
                f + ":9: field 'text': is empty: nothing to train on",
                msgs.get(9));
        assertThat(msgs.get(3)).startsWith(f + ":4: invalid JSON");
        assertThat(msgs.get(4)).isEqualTo(f + ":5: expected a JSON object, got array");
        assertThat(msgs.get(7)).startsWith(f + ":8: field 'conversations[0].value': a function_call value must be JSON");
        assertThat(msgs.get(9)).startsWith(f + ":10: record matches no known format").contains("found keys [what]").contains("--map");
        assertThat(l.stats().records()).isEqualTo(10);
        // fail policy: the first one throws
        assertThatThrownBy(() -> new DatasetLoader(DataOptions.DEFAULT, new BadRecords(BadRecords.Policy.FAIL)).read(f, e -> { }))
                .isInstanceOf(InvalidDataException.class).hasMessage(msgs.getFirst());
    }

    @Test
    void jsonArrayRecordsAreNamedByLineAndIndexAndGzipAndDirectoriesWork() throws Exception {
        Path arr = dir.resolve("a.json");
        Files.writeString(arr, "[{\"text\": \"a\"}, {\"instruction\": \"i\", \"output\": \" \"},\n 7, {\"text\": \"b\"}]");
        Loaded l = load(arr, DataOptions.DEFAULT);
        assertThat(l.examples()).extracting(Example::source).containsExactly(arr + ":1[0]", arr + ":2[3]");
        assertThat(l.bad().skipped()).extracting(Throwable::getMessage).containsExactly(
                arr + ":1: field '[1].output': is empty: an empty assistant turn trains nothing",
                arr + ":2: field '[2]': expected a JSON object in the array, got VALUE_NUMBER_INT");
        Path broken = dir.resolve("b.json");
        Files.writeString(broken, "[{\"text\": \"a\"},\n{\"text\": ]");
        assertThatThrownBy(() -> load(broken, DataOptions.DEFAULT)).isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(broken + ":2: invalid JSON");

        Path split = Files.createDirectories(dir.resolve("ds"));
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(split.resolve("train.jsonl.gz")))) {
            o.write("{\"text\": \"zipped\"}\n".getBytes(StandardCharsets.UTF_8));
        }
        Files.writeString(split.resolve("valid.jsonl"), "{\"text\": \"v\"}\n");
        DatasetFiles files = DatasetFiles.resolve(split);
        assertThat(files.train()).isEqualTo(split.resolve("train.jsonl.gz"));
        assertThat(files.valid()).isEqualTo(split.resolve("valid.jsonl"));
        assertThat(files.test()).isNull();
        assertThat(load(files.train(), DataOptions.DEFAULT).examples()).singleElement().isEqualTo(new Example.Text(files.train() + ":1", "zipped"));
        assertThatThrownBy(() -> DatasetFiles.resolve(Files.createDirectories(dir.resolve("empty")))).hasMessageContaining("no train.jsonl");
    }

    static final String TREE = """
            {"message_tree_id": "t", "prompt": {"message_id": "p", "role": "prompter", "text": "Q", "lang": "en", "replies": [
              {"message_id": "a2", "parent_id": "p", "role": "assistant", "text": "second", "rank": 1, "lang": "en", "replies": []},
              {"message_id": "a0", "parent_id": "p", "role": "assistant", "text": "best", "rank": 0, "lang": "en", "replies": [
                {"message_id": "p2", "parent_id": "a0", "role": "prompter", "text": "more?", "lang": "en", "replies": [
                  {"message_id": "a3", "parent_id": "p2", "role": "assistant", "text": "synthetic", "rank": 0, "synthetic": true, "lang": "en", "replies": []},
                  {"message_id": "a4", "parent_id": "p2", "role": "assistant", "text": "german", "rank": 1, "lang": "de", "replies": []}]},
                {"message_id": "p3", "parent_id": "a0", "role": "prompter", "text": "leaf", "lang": "en", "replies": []}]},
              {"message_id": "ax", "parent_id": "p", "role": "assistant", "text": "deleted", "rank": 0, "deleted": true, "lang": "en", "replies": []},
              {"message_id": "a5", "parent_id": "p", "role": "assistant", "text": "unranked", "lang": "en", "replies": []}]}}
            """.replace("\n", "") + "\n";

    static List<List<String>> texts(Loaded l) {
        return l.examples().stream().map(e -> conv(e).messages().stream().map(Message::text).toList()).toList();
    }

    @Test
    void openAssistantThreadsBestOrAllWithFilters() throws Exception {
        assertThat(texts(load(TREE, DataOptions.DEFAULT))).containsExactly(List.of("Q", "best", "more?", "synthetic"));
        DataOptions all = new DataOptions(null, Map.of(), new DataOptions.OasstOptions(true, false, true, Set.of()));
        Loaded a = load(TREE, all);
        assertThat(texts(a)).containsExactly(List.of("Q", "second"), List.of("Q", "best", "more?", "synthetic"),
                List.of("Q", "best", "more?", "german"), List.of("Q", "best"), List.of("Q", "unranked"));
        assertThat(a.examples()).extracting(Example::source).allSatisfy(s -> assertThat(s).matches(".*:1#[1-5]"));
        assertThat(a.stats().oasstFiltered()).isEqualTo(1);                               // the deleted reply
        DataOptions noSynthEn = new DataOptions(null, Map.of(), new DataOptions.OasstOptions(false, false, false, Set.of("en")));
        Loaded f = load(TREE, noSynthEn);
        assertThat(texts(f)).containsExactly(List.of("Q", "best"));                        // trailing prompter dropped
        assertThat(f.stats().oasstFiltered()).isEqualTo(3);                                // deleted, synthetic, german
        DataOptions keepDeleted = new DataOptions(null, Map.of(), new DataOptions.OasstOptions(false, true, true, Set.of()));
        assertThat(texts(load(TREE, keepDeleted))).containsExactly(List.of("Q", "best", "more?", "synthetic"));   // rank 0 before: file order
    }

    @Test
    void openAssistantBadTreesAndFlatRows() throws Exception {
        Loaded nested = load("""
                {"prompt": {"message_id": "p", "role": "prompter", "text": "Q", "replies": [{"message_id": "a", "parent_id": "zzz", "role": "assistant", "text": "A"}]}}
                {"prompt": {"message_id": "p", "role": "prompter", "text": "Q", "replies": [{"message_id": "p", "role": "assistant", "text": "A"}]}}
                {"prompt": {"message_id": "p", "role": "prompter", "text": "Q", "replies": [{"message_id": "a", "role": "prompter", "text": "A"}]}}
                {"prompt": {"message_id": "p", "role": "user", "text": "Q"}}
                """, DataOptions.DEFAULT);
        assertThat(nested.bad().skipped()).extracting(Throwable::getMessage).allSatisfy(m -> assertThat(m).contains(".jsonl:"));
        List<String> m = nested.bad().skipped().stream().map(Throwable::getMessage).toList();
        assertThat(m.get(0)).contains(":1: field 'prompt.replies[0].parent_id': 'zzz' is not the id of the message it replies to ('p')");
        assertThat(m.get(1)).contains(":2: field 'prompt.replies[0].message_id': cycle: message 'p' appears twice in the tree");
        assertThat(m.get(2)).contains(":3: field 'prompt.replies[0].role': a reply to a prompter message must be an assistant message");
        assertThat(m.get(3)).contains(":4: field 'prompt.role': expected 'prompter' or 'assistant', got 'user'");

        Loaded flat = load("""
                {"message_id": "r", "parent_id": null, "role": "prompter", "text": "Q"}
                {"message_id": "a", "parent_id": "r", "role": "assistant", "text": "A", "rank": 1}
                {"message_id": "b", "parent_id": "r", "role": "assistant", "text": "B", "rank": 0}
                {"message_id": "o", "parent_id": "gone", "role": "assistant", "text": "orphan"}
                {"message_id": "o2", "parent_id": "o", "role": "prompter", "text": "below the orphan"}
                {"message_id": "x", "parent_id": "y", "role": "prompter", "text": "X"}
                {"message_id": "y", "parent_id": "x", "role": "assistant", "text": "Y"}
                {"message_id": "a", "parent_id": "r", "role": "assistant", "text": "duplicate"}
                """, DataOptions.DEFAULT);
        assertThat(texts(flat)).containsExactly(List.of("Q", "B"));
        assertThat(flat.examples().getFirst().source()).endsWith(":1");
        List<String> fm = flat.bad().skipped().stream().map(Throwable::getMessage).toList();
        assertThat(fm).hasSize(3);
        assertThat(fm.get(0)).contains(":8: field 'message_id': 'a' already appeared at ").endsWith(":2");
        assertThat(fm.get(1)).contains(":4: field 'parent_id': orphan: no message has message_id 'gone'");
        assertThat(fm.get(2)).contains(":6: field 'parent_id': cycle of parent links: x → y → x");
        assertThat(flat.stats().oasstUnreachable()).isEqualTo(4);
    }
}
