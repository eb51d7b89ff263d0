package finetune4j.data;

import finetune4j.InvalidDataException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DatasetReaderTest {

    @Test
    void readsJsonlJsonArraysAndGzipWithLineNumbers(@TempDir Path dir) throws Exception {
        Path jsonl = dir.resolve("a.jsonl");
        Files.writeString(jsonl, "{\"text\": \"one\"}\n\n{\"prompt\": \"2+2=\", \"completion\": \"4\"}\n");
        List<DatasetReader.RawRecord> r = DatasetReader.readAll(jsonl);
        assertThat(r).extracting(DatasetReader.RawRecord::line).containsExactly(1L, 3L);
        assertThat(SimpleFormats.read(jsonl)).containsExactly(
                new Example.Text(jsonl + ":1", "one"), new Example.PromptCompletion(jsonl + ":3", "2+2=", "4"));

        Path array = dir.resolve("b.json");
        Files.writeString(array, "[\n  {\"text\": \"x\"},\n  {\"text\": \"y\"}\n]\n");
        assertThat(DatasetReader.readAll(array)).extracting(DatasetReader.RawRecord::line).containsExactly(2L, 3L);

        Path gz = dir.resolve("c.jsonl.gz");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) {
            o.write("{\"text\": \"zipped\"}\n".getBytes(StandardCharsets.UTF_8));
        }
        assertThat(SimpleFormats.read(gz)).containsExactly(new Example.Text(gz + ":1", "zipped"));
    }

    @Test
    void badRecordsNameFileLineAndField(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("m.jsonl");
        Files.writeString(missing, "{\"text\": \"ok\"}\n{\"prompt\": \"only a prompt\"}\n");
        assertThatThrownBy(() -> SimpleFormats.read(missing)).isInstanceOf(InvalidDataException.class)
                .hasMessage(missing + ":2: field 'completion': is missing (expected a string)");

        Path neither = dir.resolve("n.jsonl");
        Files.writeString(neither, "{\"instruction\": \"x\"}\n");
        assertThatThrownBy(() -> SimpleFormats.read(neither)).hasMessageContaining(neither + ":1:")
                .hasMessageContaining("[instruction]");

        Path broken = dir.resolve("b.jsonl");
        Files.writeString(broken, "{\"text\": \"ok\"}\n{\"text\": \n");
        assertThatThrownBy(() -> SimpleFormats.read(broken)).hasMessageStartingWith(broken + ":2: invalid JSON");

        Path wrongType = dir.resolve("w.jsonl");
        Files.writeString(wrongType, "{\"text\": 3}\n");
        assertThatThrownBy(() -> SimpleFormats.read(wrongType)).hasMessage(wrongType + ":1: field 'text': expected a string, got number");

        Path empty = dir.resolve("e.jsonl");
        Files.writeString(empty, "\n\n");
        assertThatThrownBy(() -> SimpleFormats.read(empty)).hasMessageContaining("the dataset is empty");

        assertThatThrownBy(() -> SimpleFormats.read(dir.resolve("nope.jsonl"))).hasMessageContaining("no such file");
    }
}
