package finetune4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.InvalidDataException;
import finetune4j.text.ChatMessage;
import finetune4j.text.ChatTemplate;
import finetune4j.text.TokenizerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code template}: a conversation rendered with the model's chat template, exactly. */
@Command(name = "template", mixinStandardHelpOptions = true,
        description = "Render a conversation with the model's chat template (as transformers' apply_chat_template)"
                + " and print the text exactly. --model may be a directory holding only tokenizer files.")
final class TemplateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model = new ModelOption();

    @Option(names = "--messages", required = true, paramLabel = "FILE",
            description = "A JSON file holding a list of {\"role\": ..., \"content\": ...} messages.")
    Path messages;

    @Option(names = "--add-generation-prompt", description = "Append the prompt that starts an assistant turn.")
    boolean addGenerationPrompt;

    @Option(names = "--template-name", paramLabel = "NAME", description = "A named template of tokenizer_config.json (default: the default one).")
    String templateName;

    @Override
    public Integer call() {
        Path dir = model.resolve();
        JsonNode array;
        try {
            array = Json.MAPPER.readTree(Files.readString(messages));
        } catch (IOException e) {
            throw new InvalidDataException(messages.toString(), 0, null, "cannot read a JSON list of messages: " + e.getMessage());
        }
        if (array == null || !array.isArray()) {
            throw new InvalidDataException(messages.toString(), 0, null, "expected a JSON list of {\"role\", \"content\"} messages");
        }
        List<ChatMessage> msgs = ChatMessage.listFromJson(array, messages.toString(), 0);
        TokenizerConfig cfg = TokenizerConfig.load(dir);
        ChatTemplate t = templateName == null ? ChatTemplate.fromConfig(cfg) : ChatTemplate.fromConfig(cfg, templateName);
        PrintWriter o = spec.commandLine().getOut();
        o.print(t.render(msgs, addGenerationPrompt));
        o.flush();
        return 0;
    }
}
