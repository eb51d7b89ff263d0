package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import finetune4j.eval.AnswerMetrics;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

/**
 * Instruction tuning through the CLI: {@code train} and {@code eval} on Alpaca-format data with the
 * model's chat template, the validation split shared by both commands, packing, bad records,
 * {@code eval --generate} and multiple-choice scoring.
 */
class InstructCommandsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Path DEMO = SharedData.repoRoot().resolve("cli/src/main/resources/finetune4j/demo/base");

    @TempDir
    static Path tmp;

    static final String[] THINGS = {"sky", "grass", "sun", "snow", "apple", "sea", "leaf", "lemon", "cloud", "rose", "coal", "milk",
            "frog", "banana", "cherry", "night", "sand", "ice", "tomato", "cat"};
    static final String[] COLOURS = {"blue", "green", "yellow", "white", "red", "blue", "green", "yellow", "grey", "red", "black",
            "white", "green", "yellow", "red", "black", "brown", "white", "red", "black"};

    /** 40 Alpaca records that share one answer pattern (the thing named in the instruction, then its colour). */
    static Path alpaca() throws IOException {
        Path f = tmp.resolve("colours.json");
        if (Files.exists(f)) return f;
        ArrayNode a = JSON.createArrayNode();
        for (int i = 0; i < 40; i++) {
            String thing = THINGS[i % THINGS.length], colour = COLOURS[i % COLOURS.length];
            ObjectNode r = a.addObject();
            r.put("instruction", i < 20 ? "What colour is the " + thing + "?" : "Tell me the colour of the " + thing + ".");
            r.put("input", "");
            r.put("output", "The " + thing + " is " + colour + ".");
        }
        Files.writeString(f, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(a));
        return f;
    }

    static JsonNode json(CliRunner r) throws IOException {
        assertThat(r.code()).as(r.err()).isZero();
        return JSON.readTree(r.out());
    }

    /**
     * The small version of the instruction-tuning run: LoRA on the bundled demo base model (ChatML
     * template) with Alpaca records lowers the loss on the held-out assistant tokens; {@code eval}
     * before and after (with {@code --adapter}) uses the very examples {@code train} held out
     * (same {@code --valid-count} and seed), so after-training eval equals train's final val_loss;
     * packing changes neither.
     */
    @Test
    void alpacaInstructionTuningLowersHeldOutAssistantLoss() throws IOException {
        Path data = alpaca(), out = tmp.resolve("lora");
        String[] common = {"--model", DEMO.toString(), "--data", data.toString(), "--valid-count", "8"};
        JsonNode before = json(CliRunner.run(TrainCommandTest.concat(TrainCommandTest.concat(new String[]{"eval"}, common), "--json")));
        assertThat(before.get("split").asText()).isEqualTo("valid");
        assertThat(before.get("examples").asInt()).isEqualTo(8);
        JsonNode beforePacked = json(CliRunner.run(TrainCommandTest.concat(TrainCommandTest.concat(new String[]{"eval"}, common),
                "--packing", "--json")));
        assertThat(beforePacked.get("loss").asDouble()).as("packing leaves the loss unchanged")
                .isCloseTo(before.get("loss").asDouble(), offset(1e-5 * before.get("loss").asDouble()));
        assertThat(beforePacked.get("tokens").asLong()).isEqualTo(before.get("tokens").asLong());

        TrainCli.Run t = TrainCli.run(TrainCommandTest.concat(TrainCommandTest.concat(new String[]{"train"}, common),
                "--packing", "--steps", "30", "--lr", "3e-3", "--target", "all-linear", "--rank", "8", "--alpha", "16",
                "--batch-size", "4", "--output", out.toString(), "--json"));
        assertThat(t.code()).as(t.err() + t.console()).isZero();
        assertThat(t.console().lines().findFirst().orElseThrow())
                .isEqualTo("data: 40 records (alpaca 40) → 40 examples; template model; train-on assistant; 8 held out for validation;"
                        + " packed into 6 rows (+2 validation rows)");
        JsonNode trained = JSON.readTree(t.out());

        JsonNode after = json(CliRunner.run(TrainCommandTest.concat(TrainCommandTest.concat(new String[]{"eval"}, common),
                "--adapter", out.toString(), "--json")));
        double b = before.get("loss").asDouble(), a = after.get("loss").asDouble();
        System.out.printf("demo base + LoRA on Alpaca-format data: held-out assistant loss %.4f -> %.4f (%d tokens)%n", b, a,
                after.get("tokens").asLong());
        assertThat(after.get("tokens").asLong()).isEqualTo(before.get("tokens").asLong());
        assertThat(a).as("eval after == train's final val_loss (same held-out rows)")
                .isCloseTo(trained.get("val_loss").asDouble(), offset(1e-5 * a));
        assertThat(a).as("held-out assistant loss goes down").isLessThan(0.6 * b);
        assertThat(a).as("and below a uniform guess over the 664-token vocabulary").isLessThan(Math.log(664));
    }

    /**
     * The same on real Alpaca records ({@code alpaca_tiny.json}, the first 100 of Stanford's data):
     * examples that do not fit the demo model's 256 positions are dropped, 10 are held out, and 12
     * LoRA steps lower the held-out assistant loss.
     */
    @Test
    void realAlpacaRecordsLowerHeldOutAssistantLoss() throws IOException {
        Path data = SharedData.require("datasets/alpaca/alpaca_tiny.json");
        Path out = tmp.resolve("alpaca-tiny");
        String[] common = {"--model", DEMO.toString(), "--data", data.toString(), "--truncate", "drop", "--valid-count", "10"};
        JsonNode before = json(CliRunner.run(TrainCommandTest.concat(TrainCommandTest.concat(new String[]{"eval"}, common), "--json")));
        TrainCli.Run t = TrainCli.run(TrainCommandTest.concat(TrainCommandTest.concat(new String[]{"train"}, common),
                "--packing", "--steps", "12", "--lr", "4e-3", "--target", "all-linear", "--rank", "8", "--alpha", "16",
                "--batch-size", "2", "--output", out.toString(), "--json"));
        assertThat(t.code()).as(t.err() + t.console()).isZero();
        JsonNode after = json(CliRunner.run(TrainCommandTest.concat(TrainCommandTest.concat(new String[]{"eval"}, common),
                "--adapter", out.toString(), "--json")));
        double b = before.get("loss").asDouble(), a = after.get("loss").asDouble();
        System.out.printf("demo base + LoRA on alpaca_tiny.json: held-out assistant loss %.4f -> %.4f (%d tokens, %d examples)%n",
                b, a, after.get("tokens").asLong(), after.get("examples").asInt());
        assertThat(after.get("examples").asInt()).isEqualTo(10);
        assertThat(a).isCloseTo(JSON.readTree(t.out()).get("val_loss").asDouble(), offset(1e-5 * a));
        assertThat(a).as("held-out assistant loss goes down").isLessThan(0.6 * b);
    }

    /**
     * {@code eval --generate}: every prompt/completion record is generated for and scored (plain
     * text records have no reference and are listed as skipped); the means are those of the
     * samples, and each sample's scores are the SQuAD metrics of its prediction.
     */
    @Test
    void evalGenerateReportsExactMatchAndF1() throws IOException {
        JsonNode r = json(CliRunner.run("eval", "--model", TrainCli.MODEL.toString(), "--data", TrainCli.DATA.toString(), "--generate",
                "--max-new-tokens", "5", "--json"));
        JsonNode g = r.get("generation");
        assertThat(g.get("examples").asInt()).isEqualTo(3);
        assertThat(g.get("skipped")).hasSize(5);
        assertThat(g.get("skipped").get(0).asText()).contains("train.jsonl:1", "no reference answer");
        double em = 0, f1 = 0;
        for (JsonNode s : g.get("samples")) {
            String pred = s.get("prediction").asText(), ref = s.get("reference").asText();
            assertThat(s.get("generated_tokens").asInt()).isBetween(1, 5);
            assertThat(s.get("exact_match").asBoolean()).isEqualTo(AnswerMetrics.exactMatch(pred, ref));
            assertThat(s.get("f1").asDouble()).isEqualTo(AnswerMetrics.f1(pred, ref));
            em += s.get("exact_match").asBoolean() ? 1 : 0;
            f1 += s.get("f1").asDouble();
        }
        assertThat(g.get("exact_match").asDouble()).isCloseTo(em / 3, offset(1e-12));
        assertThat(g.get("f1").asDouble()).isCloseTo(f1 / 3, offset(1e-12));
        assertThat(r.get("loss").asDouble()).isPositive();

        CliRunner text = CliRunner.run("eval", "--model", TrainCli.MODEL.toString(), "--data", TrainCli.DATA.toString(), "--generate",
                "--max-new-tokens", "5", "--limit", "4");
        assertThat(text.code()).as(text.err()).isZero();
        assertThat(text.out()).contains("generation: exact match ").contains("over 2 examples").contains("skipped 2 examples:");
    }

    /** Multiple choice: detected from the records, acc and acc_norm are the fractions of the per-question picks. */
    @Test
    void evalScoresMultipleChoiceQuestions() throws IOException {
        Path f = tmp.resolve("mc.jsonl");
        Files.writeString(f, """
                {"question": "what is red?", "choices": ["a ripe apple", "the sky", "a dog"], "answer": 0}
                {"question": "who sat on the mat?", "choices": ["the cat", "a very big blue whale"], "answer": "A"}
                {"question": "where did the dog run?", "choices": ["in the park", "up"], "answer": "up"}
                """);
        for (String style : List.of("cloze", "letters")) {
            JsonNode r = json(CliRunner.run("eval", "--model", TrainCli.MODEL.toString(), "--data", f.toString(), "--choice-style", style,
                    "--json"));
            assertThat(r.get("task").asText()).isEqualTo("multiple_choice");
            assertThat(r.get("questions").asInt()).isEqualTo(3);
            int acc = 0, norm = 0;
            int[] answers = {0, 0, 1};
            for (int i = 0; i < 3; i++) {
                JsonNode q = r.get("results").get(i);
                assertThat(q.get("answer").asInt()).isEqualTo(answers[i]);
                assertThat(q.get("log_likelihoods")).hasSize(i == 0 ? 3 : 2).allSatisfy(x -> assertThat(x.asDouble()).isNegative());
                acc += q.get("predicted").asInt() == answers[i] ? 1 : 0;
                norm += q.get("predicted_norm").asInt() == answers[i] ? 1 : 0;
            }
            assertThat(r.get("acc").asDouble()).isEqualTo(acc / 3.0);
            assertThat(r.get("acc_norm").asDouble()).isEqualTo(norm / 3.0);
        }
        Path bad = tmp.resolve("mc-bad.jsonl");
        Files.writeString(bad, "{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": 0}\n{\"question\": \"q\", \"choices\": [\"a\"],"
                + " \"answer\": 0}\n");
        CliRunner e = CliRunner.run("eval", "--model", TrainCli.MODEL.toString(), "--data", bad.toString());
        TrainErrorsTest.assertCleanError(new TrainCli.Run(e.code(), e.out(), e.err(), ""), "mc-bad.jsonl:2", "'choices'", "at least 2");
    }

    /**
     * Chat data through {@code train}: a conversation format with a named template, masks on the
     * last assistant turn, cutting on the left (the tiny model's context is 64), packing; a bad record stops training naming file:line (default
     * {@code --on-bad-record fail}) or is skipped and reported with {@code skip}.
     */
    @Test
    void trainOnChatDataWithBadRecords() throws IOException {
        Path f = tmp.resolve("chat.jsonl");
        Files.writeString(f, """
                {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello, friend."}]}
                {"messages": [{"role": "user", "content": "what is red?"}, {"role": "assistant", "content": "an apple."}, {"role": "user", "content": "and blue?"}, {"role": "assistant", "content": "the sky."}]}
                {"messages": [{"role": "user", "content": "bye"}, {"role": "bot", "content": "see you."}]}
                {"messages": [{"role": "user", "content": "say hi"}, {"role": "assistant", "content": "hi!"}]}
                """);
        String[] args = {"train", "--model", TrainCli.MODEL.toString(), "--data", f.toString(), "--template", "chatml",
                "--train-on", "last-assistant", "--truncate", "left", "--packing", "--steps", "2", "--batch-size", "2"};
        Path none = tmp.resolve("chat-fail");
        TrainCli.Run failed = TrainCli.run(TrainCommandTest.concat(args, "--output", none.toString()));
        TrainErrorsTest.assertCleanError(failed, "chat.jsonl:3", "role");
        assertThat(none).as("nothing written").doesNotExist();

        Path out = tmp.resolve("chat-out");
        TrainCli.Run ok = TrainCli.run(TrainCommandTest.concat(args, "--on-bad-record", "skip", "--output", out.toString()));
        assertThat(ok.code()).as(ok.err() + ok.console()).isZero();
        assertThat(ok.err()).contains("warning: skipped bad record: " + f + ":3");
        assertThat(ok.console().lines().findFirst().orElseThrow()).startsWith("data: 4 records (messages 3) → 3 examples (1 cut to 64 tokens,"
                + " 1 bad records skipped); template chatml; train-on last-assistant; packed into ");
        JsonNode start = TrainCommandTest.metrics(out).getFirst();
        assertThat(start.get("config").get("template").asText()).isEqualTo("chatml");
        assertThat(start.get("config").get("packing").asText()).isEqualTo("true");
    }

    /** The data settings belong to a run: resuming with other ones (here without --packing) is refused. */
    @Test
    void resumeWithOtherDataSettingsIsRefused() throws IOException {
        Path out = tmp.resolve("resume");
        String[] args = {"train", "--model", TrainCli.MODEL.toString(), "--data", TrainCli.DATA.toString(), "--batch-size", "2",
                "--steps", "3", "--save-every", "1", "--packing", "--output", out.toString()};
        assertThat(TrainCli.run(args).code()).isZero();
        String[] again = java.util.Arrays.stream(args).filter(a -> !a.equals("--packing")).toArray(String[]::new);
        TrainCli.Run r = TrainCli.run(TrainCommandTest.concat(again, "--resume", out.toString()));
        TrainErrorsTest.assertCleanError(r, "trainer_state.json", "other settings");
        TrainCli.Run same = TrainCli.run(TrainCommandTest.concat(args, "--resume", out.resolve("checkpoint-2").toString()));
        assertThat(same.code()).as(same.err()).isZero();
    }
}
