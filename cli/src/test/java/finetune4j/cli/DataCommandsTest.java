package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code data check} and {@code data preview} on the handmade records of the core goldens
 * (core/src/test/resources/finetune4j/batch/sft: a tiny tokenizer, records of every layout and bad
 * ones, ids and labels made with transformers by tools/golden/sft_masks.py). Checks that the labels
 * of {@code data preview --json} are -100 exactly outside the trained spans for every --train-on
 * mode, on chat, Alpaca and tool-call records, equal the goldens, and that every bad record is
 * reported with file:line and its reason.
 */
class DataCommandsTest {
    static final Path SFT = Path.of("..", "core", "src", "test", "resources", "finetune4j", "batch", "sft").toAbsolutePath().normalize();
    static final Path TINY = SFT.resolve("tiny"), RECORDS = SFT.resolve("handmade.jsonl");
    static final String[] MODES = {"all", "completion", "assistant", "last-assistant"};

    static JsonNode json(CliRunner r) throws Exception {
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip().lines().count()).as("one JSON object").isEqualTo(1);
        return Json.MAPPER.readTree(r.out());
    }

    static JsonNode preview(String template, String mode) throws Exception {
        return json(CliRunner.run("data", "preview", "--data", RECORDS.toString(), "--model", TINY.toString(), "--template", template,
                "--train-on", mode, "--n", "100", "--json"));
    }

    @Test
    void helpIsThere() {
        for (String c : new String[]{"data", "data check", "data preview"}) {
            CliRunner r = CliRunner.run((c + " --help").split(" "));
            assertThat(r.code()).as(c).isZero();
            assertThat(r.out()).as(c).contains("Usage:");
        }
    }

    /** Chat (ShareGPT, OpenAI, OpenAssistant), Alpaca/Dolly and tool-call records, every mode. */
    @Test
    void previewLabelsAreIgnoredExactlyOutsideTheTrainedSpans() throws Exception {
        int checked = 0;
        for (String template : new String[]{"chatml-tools", "alpaca", "llama3.2", "chatml-generation"}) {
            for (String mode : MODES) {
                JsonNode p = preview(template, mode);
                assertThat(p.get("train_on").asText()).isEqualTo(mode);
                for (JsonNode e : p.get("examples")) {
                    String format = e.get("format").asText();
                    if (format.equals("text") || (format.equals("completion") && e.get("mask_method").asText().equals("completion"))) continue;
                    int[] expected = expectedLabels(e, mode);
                    JsonNode labels = e.get("labels");
                    for (int i = 0; i < expected.length; i++) {
                        assertThat(labels.get(i).asInt()).as("%s %s %s token %d", template, mode, e.get("source").asText(), i).isEqualTo(expected[i]);
                    }
                    checked++;
                }
            }
        }
        assertThat(checked).isGreaterThan(100);
    }

    /**
     * Labels from the spans alone: every token from the first to the last that overlaps a trained
     * span (by its offsets) keeps its id, the others are -100; with --train-on all, every token.
     */
    static int[] expectedLabels(JsonNode e, String mode) {
        JsonNode ids = e.get("input_ids"), off = e.get("offsets");
        int n = ids.size();
        int[] out = new int[n];
        java.util.Arrays.fill(out, -100);
        if (mode.equals("all")) {
            for (int i = 0; i < n; i++) out[i] = ids.get(i).asInt();
            return out;
        }
        for (JsonNode span : e.get("trained_spans")) {
            int s = span.get(0).asInt(), en = span.get(1).asInt(), first = -1, last = -1;
            for (int i = 0; i < n; i++) {
                int a = off.get(i).get(0).asInt(), b = off.get(i).get(1).asInt();
                if (b > a && b > s && a < en) {
                    if (first < 0) first = i;
                    last = i;
                }
            }
            for (int i = first; first >= 0 && i <= last; i++) out[i] = ids.get(i).asInt();
        }
        return out;
    }

    @Test
    void previewIdsAndLabelsEqualTheTransformersGoldens() throws Exception {
        JsonNode golden = Json.MAPPER.readTree(SFT.resolve("handmade_golden.json").toFile());
        int compared = 0;
        for (String template : new String[]{"chatml-tools", "alpaca", "mistral"}) {
            for (String mode : MODES) {
                JsonNode p = preview(template, mode);
                java.util.Map<String, JsonNode> bySource = new java.util.HashMap<>();
                for (JsonNode e : p.get("examples")) {
                    String src = e.get("source").asText();
                    bySource.put(src.substring(src.lastIndexOf(':') + 1), e);
                }
                for (JsonNode c : golden.get("templates").get(template)) {
                    JsonNode e = bySource.get(c.get("record").asText());
                    boolean expected = !c.has("error") && !c.path("errors").has(mode);
                    assertThat(e != null).as("%s %s record %s present", template, mode, c.get("record")).isEqualTo(expected);
                    if (!expected) continue;
                    assertThat(e.get("input_ids")).isEqualTo(c.get("ids"));
                    List<List<Integer>> trained = new ArrayList<>();
                    JsonNode labels = e.get("labels");
                    for (int i = 0; i < labels.size(); ) {
                        if (labels.get(i).asInt() == -100) {
                            i++;
                            continue;
                        }
                        int j = i;
                        while (j < labels.size() && labels.get(j).asInt() != -100) j++;
                        trained.add(List.of(i, j));
                        i = j;
                    }
                    List<List<Integer>> want = new ArrayList<>();
                    for (JsonNode r : c.get("trained").get(mode)) want.add(List.of(r.get(0).asInt(), r.get(1).asInt()));
                    assertThat(trained).as("%s %s record %s", template, mode, c.get("record")).isEqualTo(want);
                    compared++;
                }
            }
        }
        assertThat(compared).isGreaterThan(80);
    }

    @Test
    void checkReportsEveryBadRecordWithFileLineAndReason() throws Exception {
        JsonNode j = json(CliRunner.run("data", "check", "--data", RECORDS.toString(), "--model", TINY.toString(), "--template",
                "chatml-tools", "--json"));
        JsonNode f = j.get("files").get(0);
        assertThat(f.get("records").asInt()).isEqualTo(23);
        assertThat(f.get("formats").get("alpaca").asInt()).isEqualTo(2);
        assertThat(f.get("formats").get("dolly").asInt()).isEqualTo(1);
        assertThat(f.get("formats").get("oasst").asInt()).isEqualTo(2);
        assertThat(f.get("oasst_filtered_messages").asInt()).isEqualTo(1);      // the deleted reply
        assertThat(f.get("oasst_unreachable_messages").asInt()).isEqualTo(3);   // the orphan and the two of the cycle
        List<String> bad = new ArrayList<>();
        for (JsonNode b : f.get("bad_records")) bad.add(b.get("line").asInt() + " " + b.get("message").asText());
        assertThat(bad).hasSize(7);
        String file = RECORDS.toString();
        assertThat(bad).anySatisfy(s -> assertThat(s).startsWith("14 " + file + ":14: invalid JSON"));
        assertThat(bad).anySatisfy(s -> assertThat(s).startsWith("15 " + file + ":15: field 'messages[1].role': expected one of"));
        assertThat(bad).anySatisfy(s -> assertThat(s).startsWith("16 " + file + ":16: field 'messages[1].content': empty assistant turn"));
        assertThat(bad).anySatisfy(s -> assertThat(s).startsWith("17 " + file + ":17: field 'output': is missing"));
        assertThat(bad).anySatisfy(s -> assertThat(s).startsWith("18 " + file + ":18: no assistant turn"));
        assertThat(bad).anySatisfy(s -> assertThat(s).startsWith("21 " + file + ":21: field 'parent_id': orphan"));
        assertThat(bad).anySatisfy(s -> assertThat(s).contains(":22: field 'parent_id': cycle of parent links: c1x → c2x → c1x"));
        assertThat(f.get("trained_tokens").asLong()).isPositive();
        long histogram = 0;
        for (JsonNode b : f.get("histogram")) histogram += b.get("count").asLong();
        assertThat(histogram).isEqualTo(f.get("kept").asLong());
    }

    @Test
    void failPolicyStopsAtTheFirstBadRecord() {
        CliRunner r = CliRunner.run("data", "check", "--data", RECORDS.toString(), "--model", TINY.toString(), "--template", "chatml-tools",
                "--on-bad-record", "fail");
        assertThat(r.code()).isEqualTo(Cli.EXIT_ERROR);
        assertThat(r.err()).startsWith("error: " + RECORDS + ":14: invalid JSON");
    }

    @Test
    void templateRefusalsAreBadRecordsToo() throws Exception {
        JsonNode j = json(CliRunner.run("data", "check", "--data", RECORDS.toString(), "--model", TINY.toString(), "--template", "chatml",
                "--json"));
        List<String> bad = new ArrayList<>();
        for (JsonNode b : j.get("files").get(0).get("bad_records")) bad.add(b.get("message").asText());
        assertThat(bad).anySatisfy(s -> assertThat(s).contains(":7: field 'messages[1].tool_calls': the chat template does not write tool calls"));
    }

    @Test
    void directoryWithSplitsIsCheckedPerSplit(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("train.jsonl"), "{\"instruction\": \"Say hi\", \"output\": \"hi\"}\n{\"text\": \"a story\"}\n");
        Files.writeString(dir.resolve("valid.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}\n");
        JsonNode j = json(CliRunner.run("data", "check", "--data", dir.toString(), "--model", TINY.toString(), "--json"));
        assertThat(j.get("files")).hasSize(2);
        assertThat(j.get("files").get(0).get("split").asText()).isEqualTo("train");
        assertThat(j.get("files").get(0).get("formats").get("alpaca").asInt()).isEqualTo(1);
        assertThat(j.get("files").get(0).get("template").asText()).isEqualTo("alpaca");      // no chat template in the tiny tokenizer
        assertThat(j.get("files").get(1).get("split").asText()).isEqualTo("valid");
        assertThat(j.get("files").get(1).get("formats").get("messages").asInt()).isEqualTo(1);
    }

    @Test
    void previewTextMarksTrainedTokensAndWritesTheStanfordPrompt() {
        CliRunner r = CliRunner.run("data", "preview", "--data", RECORDS.toString(), "--model", TINY.toString(), "--n", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("<s>Below is an instruction that describes a task. Write a response that appropriately completes the"
                + " request.\n\n### Instruction:\nGive three tips for staying healthy.\n\n### Response:⟦Eat well, sleep, move.</s>⟧");
        assertThat(r.out()).contains("paired with an input that provides further context. Write a response that appropriately completes the"
                + " request.\n\n### Instruction:\nTranslate to French.\n\n### Input:\nGood morning\n\n### Response:⟦Bonjour</s>⟧");
    }

    @Test
    void badOptionsAreConfigErrors() {
        CliRunner r = CliRunner.run("data", "check", "--data", RECORDS.toString(), "--model", TINY.toString(), "--train-on", "everything");
        assertThat(r.code()).isEqualTo(Cli.EXIT_ERROR);
        assertThat(r.err()).contains("--train-on = 'everything' is not allowed: expected all, completion, assistant or last-assistant");
        r = CliRunner.run("data", "check", "--data", RECORDS.toString(), "--model", TINY.toString(), "--template", "nope");
        assertThat(r.code()).isEqualTo(Cli.EXIT_ERROR);
        assertThat(r.err()).contains("--template = 'nope'");
    }
}
