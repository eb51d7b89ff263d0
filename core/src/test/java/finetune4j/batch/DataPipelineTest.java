package finetune4j.batch;

import finetune4j.ConfigException;
import finetune4j.data.BadRecords;
import finetune4j.data.Example;
import finetune4j.text.TrainOn;
import finetune4j.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The pipeline around the masks: cutting, dropping, duplicates, the validation split, packing, the report. */
class DataPipelineTest {
    @TempDir
    Path dir;

    static Path tiny() throws Exception {
        return SftGoldenTest.resource("tiny");
    }

    static Tokenized row(int... ids) {
        int[] labels = ids.clone();
        labels[0] = Tokenized.IGNORE;
        return new Tokenized(ids, labels, "r");
    }

    @Test
    void truncationPolicies() {
        Tokenized t = new Tokenized(new int[]{1, 2, 3, 4, 5}, new int[]{-100, -100, -100, 4, 5}, "s");
        assertThat(Truncation.RIGHT.apply(t, 3).ids()).containsExactly(1, 2, 3);
        assertThat(Truncation.RIGHT.apply(t, 3).targetTokens()).isZero();          // the pipeline drops such rows
        assertThat(Truncation.LEFT.apply(t, 3).ids()).containsExactly(3, 4, 5);
        assertThat(Truncation.LEFT.apply(t, 3).labels()).containsExactly(-100, 4, 5);
        assertThat(Truncation.DROP.apply(t, 3)).isNull();
        assertThat(Truncation.DROP.apply(t, 5)).isSameAs(t);
        assertThatThrownBy(() -> Truncation.parse("middle")).hasMessageContaining("--truncate = 'middle'");
    }

    @Test
    void splitIsSeededStableAndKeepsDuplicatesTogether() {
        List<Tokenized> all = new ArrayList<>();
        for (int i = 0; i < 100; i++) all.add(row(1, i, i * 7 % 13));
        all.add(row(1, 5, 5 * 7 % 13));                                   // a duplicate of example 5
        DataSplit.Split s = DataSplit.split(all, 0.1, 0, 42);
        assertThat(s.valid()).hasSize(10);
        assertThat(s.train()).hasSize(91);
        List<Tokenized> shuffled = new ArrayList<>(all);
        Collections.shuffle(shuffled, new java.util.Random(1));
        assertThat(new java.util.HashSet<>(DataSplit.split(shuffled, 0.1, 0, 42).valid())).isEqualTo(new java.util.HashSet<>(s.valid()));
        boolean dupInValid = s.valid().contains(all.get(5));
        assertThat(s.valid().stream().filter(t -> t.equals(all.get(5))).count()).isEqualTo(dupInValid ? 2 : 0);
        assertThat(DataSplit.split(all, 0.1, 0, 43).valid()).isNotEqualTo(s.valid());
        assertThat(DataSplit.split(all, 0, 7, 42).valid()).hasSize(7);
        assertThat(DataSplit.split(List.of(row(1, 2)), 0.5, 0, 1).valid()).isEmpty();     // training keeps one
        DataSplit.Dedupe d = new DataSplit.Dedupe();
        assertThat(all.stream().filter(d::first).count()).isEqualTo(100);
    }

    @Test
    void reportCountsCutsDropsDuplicatesAndBadRecords() throws Exception {
        Path f = dir.resolve("d.jsonl");
        StringBuilder sb = new StringBuilder();
        sb.append("{\"instruction\": \"Say hi.\", \"output\": \"hi\"}\n".repeat(3));                      // 2 duplicates
        sb.append("{\"instruction\": \"").append("word ".repeat(200)).append("\", \"output\": \"ok\"}\n"); // too long; cut right: no target
        sb.append("{\"text\": \"").append("long text ".repeat(100)).append("\"}\n");                     // cut
        sb.append("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n");                        // bad: no assistant
        Files.writeString(f, sb.toString());
        DataPipeline p = DataPipeline.forModel(tiny(), DataPipeline.Options.builder().maxSeqLen(64).dedupe(true)
                .onBadRecord(BadRecords.Policy.SKIP).build());
        List<DataPipeline.Status> statuses = new ArrayList<>();
        DataReport r = p.scan(f, 0, it -> statuses.add(it.status()));
        assertThat(statuses).containsExactly(DataPipeline.Status.KEPT, DataPipeline.Status.DUPLICATE, DataPipeline.Status.DUPLICATE,
                DataPipeline.Status.DROPPED_NO_TARGETS, DataPipeline.Status.TRUNCATED);
        assertThat(r.records()).isEqualTo(6);
        assertThat(r.examples()).isEqualTo(5);
        assertThat(r.kept()).isEqualTo(2);
        assertThat(r.duplicates()).isEqualTo(2);
        assertThat(r.truncated()).isEqualTo(1);
        assertThat(r.droppedNoTargets()).isEqualTo(1);
        assertThat(r.badRecords()).singleElement().extracting(Throwable::getMessage).asString().contains(":6: no assistant turn");
        assertThat(r.template()).isEqualTo("alpaca");
        assertThat(r.histogram().stream().mapToLong(DataReport.Bin::count).sum()).isEqualTo(5);
        assertThat(r.histogram().getLast().count()).isEqualTo(2);              // the two longer than 64
        assertThat(r.tokens()).isEqualTo(r.lengths()[0] + 64);
        DataReport dropped = DataPipeline.forModel(tiny(), DataPipeline.Options.builder().maxSeqLen(64).truncation(Truncation.DROP)
                .onBadRecord(BadRecords.Policy.SKIP).build()).scan(f, 0, it -> { });
        assertThat(dropped.droppedTooLong()).isEqualTo(2);
    }

    @Test
    void prepareSplitsPacksAndKeepsTargetCounts() throws Exception {
        Path ds = Files.createDirectories(dir.resolve("ds"));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            sb.append("{\"messages\": [{\"role\": \"user\", \"content\": \"Question ").append(i)
                    .append("\"}, {\"role\": \"assistant\", \"content\": \"Answer ").append(i).append("\"}]}\n");
        }
        Files.writeString(ds.resolve("train.jsonl"), sb.toString());
        DataPipeline.Options base = DataPipeline.Options.builder().template("chatml").maxSeqLen(128).validCount(5).seed(3).build();
        DataPipeline.Prepared plain = DataPipeline.forModel(tiny(), base).prepare(ds);
        assertThat(plain.train()).hasSize(35);
        assertThat(plain.valid()).hasSize(5);
        assertThat(plain.splitOff()).isEqualTo(5);
        DataPipeline.Options packing = DataPipeline.Options.builder().template("chatml").maxSeqLen(128).validCount(5).seed(3).packing(true).build();
        DataPipeline.Prepared packed = DataPipeline.forModel(tiny(), packing).prepare(ds);
        assertThat(packed.train().size()).isLessThan(12);
        assertThat(packed.train().stream().mapToInt(Tokenized::examples).sum()).isEqualTo(35);
        assertThat(packed.train().stream().mapToLong(Tokenized::targetTokens).sum())
                .isEqualTo(plain.train().stream().mapToLong(Tokenized::targetTokens).sum());
        assertThat(packed.train()).allSatisfy(t -> assertThat(t.length()).isLessThanOrEqualTo(128));
        // a validation file wins over the split
        Files.writeString(ds.resolve("valid.jsonl"), "{\"text\": \"valid\"}\n");
        DataPipeline.Prepared withValid = DataPipeline.forModel(tiny(), base).prepare(ds);
        assertThat(withValid.valid()).hasSize(1);
        assertThat(withValid.train()).hasSize(40);
        assertThat(withValid.validReport().examples()).isEqualTo(1);
    }

    @Test
    void promptCompletionMasksFollowTrainOnAndConversationsNeedATemplate() throws Exception {
        Tokenizer tok = Tokenizer.load(tiny());
        int eos = tok.tokenToId("</s>");
        Example.PromptCompletion pc = new Example.PromptCompletion("f:1", "Q: capital of France?\nA:", " Paris.");
        Tokenized completion = new ExampleTokenizer(tok, eos, 64, Truncation.RIGHT, null, TrainOn.COMPLETION).tokenize(pc);
        Tokenized all = new ExampleTokenizer(tok, eos, 64, Truncation.RIGHT, null, TrainOn.ALL).tokenize(pc);
        int promptLen = tok.encode(pc.prompt(), true).length;
        assertThat(completion.targetTokens()).isEqualTo(completion.length() - promptLen);
        assertThat(all.labels()).isEqualTo(all.ids());
        Example.Conversation c = new Example.Conversation("f:2", finetune4j.data.DataFormat.MESSAGES,
                List.of(finetune4j.data.Message.of("user", "q"), finetune4j.data.Message.of("assistant", "a")), null, -1);
        assertThatThrownBy(() -> new ExampleTokenizer(tok, eos, 64).tokenize(c)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("f:2 is a conversation (messages), which needs a chat template");
    }
}
