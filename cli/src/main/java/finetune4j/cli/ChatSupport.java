package finetune4j.cli;

import finetune4j.model.LlamaModel;
import finetune4j.text.ChatMessage;
import finetune4j.text.ChatTemplate;
import finetune4j.text.Tokenizer;
import finetune4j.text.TokenizerConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Chat-template plumbing shared by {@code generate --chat} and {@code chat}. */
final class ChatSupport {
    private ChatSupport() {
    }

    static ChatMessage user(String content) {
        return ChatMessage.of("user", content);
    }

    /** The model's default chat template (clear error when it has none). */
    static ChatTemplate template(Path dir) {
        return ChatTemplate.fromConfig(TokenizerConfig.load(dir));
    }

    /**
     * {@code messages} rendered with the chat template plus the generation prompt, tokenized as
     * transformers' {@code apply_chat_template(tokenize=True)} does: without adding special tokens
     * (the template writes BOS itself where the model wants one).
     */
    static int[] encodeChat(Path dir, Tokenizer tok, List<ChatMessage> messages) {
        return tok.encode(template(dir).render(messages, true), false);
    }

    /**
     * Ids that end an assistant turn: the generation config's eos ids plus tokenizer_config.json's
     * {@code eos_token} (chat models often end turns with e.g. {@code <|im_end|>} or {@code <|eot_id|>}).
     */
    static List<Integer> chatEos(Path dir, Tokenizer tok, LlamaModel m) {
        List<Integer> ids = new ArrayList<>(m.generationConfig().eosTokenIds().isEmpty()
                ? m.config().eosTokenIds() : m.generationConfig().eosTokenIds());
        String eos = TokenizerConfig.load(dir).eosToken();
        Integer id = eos == null ? null : tok.tokenToId(eos);
        if (id != null && !ids.contains(id)) ids.add(id);
        return ids;
    }
}
