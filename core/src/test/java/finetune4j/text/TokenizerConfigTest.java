package finetune4j.text;

import finetune4j.ModelFormatException;
import finetune4j.testing.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** tokenizer_config.json / special_tokens_map.json / chat_template.jinja loading, as transformers 4.4x does. */
class TokenizerConfigTest {
    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
        return p;
    }

    @Test
    void qwen3ConfigFromSharedData() {
        TokenizerConfig c = TokenizerConfig.load(SharedData.require("tokenizers/qwen3-chat-template"));
        assertThat(c.bosToken()).isNull();
        assertThat(c.eosToken()).isEqualTo("<|im_end|>");
        assertThat(c.padToken()).isEqualTo("<|endoftext|>");
        assertThat(c.unkToken()).isNull();
        assertThat(c.addBosToken()).isFalse();
        assertThat(c.addEosToken()).isNull();
        assertThat(c.modelMaxLength()).isEqualTo(131072);
        assertThat(c.tokenizerClass()).isEqualTo("Qwen2Tokenizer");
        assertThat(c.addedTokensDecoder()).hasSize(26);
        assertThat(c.addedTokensDecoder().get(151643))
                .isEqualTo(new TokenizerConfig.AddedToken("<|endoftext|>", false, false, false, false, true));
        assertThat(c.additionalSpecialTokens()).hasSize(13).startsWith("<|im_start|>", "<|im_end|>");
        assertThat(c.chatTemplates()).containsOnlyKeys("default");
        assertThat(c.chatTemplates().get("default").origin()).endsWith("tokenizer_config.json key 'chat_template'");
        assertThat(c.specialTokensMap()).containsOnlyKeys("eos_token", "pad_token", "additional_special_tokens");
    }

    @Test
    void hugeModelMaxLengthMeansUnbounded() {
        TokenizerConfig gemma = TokenizerConfig.load(SharedData.require("tokenizers/gemma-chat-template/tokenizer_config.json"));
        assertThat(gemma.modelMaxLength()).isEqualTo(Long.MAX_VALUE);
        assertThat(gemma.addBosToken()).isTrue();
        assertThat(gemma.bosToken()).isEqualTo("<bos>");
        assertThat(TokenizerConfig.parse("{\"model_max_length\": 1e30}", "t").modelMaxLength()).isEqualTo(Long.MAX_VALUE);
        assertThat(TokenizerConfig.parse("{}", "t").modelMaxLength()).isEqualTo(Long.MAX_VALUE);
        assertThat(TokenizerConfig.parse("{\"model_max_length\": 2048}", "t").modelMaxLength()).isEqualTo(2048);
    }

    @Test
    void addedTokenObjectsGiveTheirContent() {
        TokenizerConfig c = TokenizerConfig.load(SharedData.require("tokenizers/torchtune-tiny-bpe"));
        assertThat(c.bosToken()).isEqualTo("<|begin_of_sentence|>");
        assertThat(c.eosToken()).isEqualTo("<|end_of_sentence|>");
        assertThat(c.hasChatTemplate()).isFalse();
    }

    @Test
    void specialTokensMapFillsWhatTheConfigLacks() {
        // smollm: the config has added_tokens_decoder (modern layout): the map only fills gaps
        TokenizerConfig c = TokenizerConfig.load(SharedData.require("tokenizers/smollm-135m"));
        assertThat(c.padToken()).isEqualTo("[PAD]");
        assertThat(c.bosToken()).isEqualTo("<|endoftext|>");
        assertThat(c.additionalSpecialTokens()).contains("<|im_start|>", "<|im_end|>");
    }

    @Test
    void legacySpecialTokensMapOverridesTheConfig() throws IOException {
        write("tokenizer_config.json", "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
        write("special_tokens_map.json", "{\"eos_token\": {\"content\": \"<|end|>\"}, \"pad_token\": \"<pad>\", \"unrelated\": 3}");
        TokenizerConfig c = TokenizerConfig.load(dir);
        assertThat(c.bosToken()).isEqualTo("<s>");
        assertThat(c.eosToken()).isEqualTo("<|end|>");
        assertThat(c.padToken()).isEqualTo("<pad>");

        write("tokenizer_config.json", "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"added_tokens_decoder\": {}}");
        TokenizerConfig modern = TokenizerConfig.load(dir);
        assertThat(modern.eosToken()).isEqualTo("</s>");
        assertThat(modern.padToken()).isEqualTo("<pad>");
    }

    @Test
    void directoryWithOnlyTokenizerJsonWorks() throws IOException {
        write("tokenizer.json", "{\"version\": \"1.0\"}");
        TokenizerConfig c = TokenizerConfig.load(dir);
        assertThat(c.bosToken()).isNull();
        assertThat(c.hasChatTemplate()).isFalse();
        assertThat(c.modelMaxLength()).isEqualTo(Long.MAX_VALUE);
        assertThat(c.specialTokensMap()).isEmpty();
        assertThat(c.addedTokensDecoder()).isEmpty();
    }

    @Test
    void chatTemplateJinjaFileWinsOverTheConfigKey() throws IOException {
        write("tokenizer_config.json", "{\"chat_template\": \"FROM CONFIG\", \"unknown_key\": {\"x\": 1}}");
        write("chat_template.jinja", "FROM FILE\n");
        TokenizerConfig c = TokenizerConfig.load(dir);
        assertThat(c.chatTemplates()).containsOnlyKeys("default");
        assertThat(c.chatTemplates().get("default").source()).isEqualTo("FROM FILE\n");
        assertThat(c.chatTemplates().get("default").origin()).endsWith("chat_template.jinja");
        assertThat(ChatTemplate.fromConfig(c).render(List.of(ChatMessage.user("x")), false)).isEqualTo("FROM FILE");
    }

    @Test
    void additionalChatTemplatesAreNamed() throws IOException {
        write("tokenizer_config.json", "{\"chat_template\": \"FROM CONFIG\"}");
        write("chat_template.jinja", "D");
        write("additional_chat_templates/tool_use.jinja", "T");
        TokenizerConfig c = TokenizerConfig.load(dir);
        assertThat(c.chatTemplates()).containsOnlyKeys("default", "tool_use");
        assertThat(ChatTemplate.fromConfig(c, "tool_use").render(List.of(), false)).isEqualTo("T");
        assertThat(ChatTemplate.fromConfig(c).render(List.of(), false)).isEqualTo("D");
    }

    @Test
    void listFormChatTemplateGivesNamedTemplates() {
        TokenizerConfig c = TokenizerConfig.parse("""
                {"chat_template": [{"name": "default", "template": "D{{ bos_token }}"},
                                   {"name": "rag", "template": "R"}], "bos_token": "<s>"}""", "cfg.json");
        assertThat(c.chatTemplates()).containsOnlyKeys("default", "rag");
        assertThat(c.chatTemplates().get("rag").origin()).isEqualTo("cfg.json key 'chat_template' (template 'rag')");
        assertThat(ChatTemplate.fromConfig(c).render(List.of(), false)).isEqualTo("D<s>");
        assertThat(ChatTemplate.fromConfig(c, "rag").render(List.of(), false)).isEqualTo("R");
    }

    @Test
    void malformedJsonNamesTheFileAndPlace() throws IOException {
        Path f = write("tokenizer_config.json", "{\n  \"bos_token\": \"<s>\",\n  \"eos_token\" \"</s>\"\n}");
        assertThatThrownBy(() -> TokenizerConfig.load(dir))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("not valid JSON")
                .hasMessageContaining("line 3");
    }

    @Test
    void wrongTypesNameTheKey() {
        assertThatThrownBy(() -> TokenizerConfig.parse("{\"bos_token\": 5}", "cfg.json"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("cfg.json").hasMessageContaining("'bos_token'");
        assertThatThrownBy(() -> TokenizerConfig.parse("{\"chat_template\": 5}", "cfg.json"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("'chat_template'");
        assertThatThrownBy(() -> TokenizerConfig.parse("{\"chat_template\": [{\"name\": \"x\"}]}", "cfg.json"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("'chat_template[0]'");
        assertThatThrownBy(() -> TokenizerConfig.parse("{\"model_max_length\": \"big\"}", "cfg.json"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("'model_max_length'");
        assertThatThrownBy(() -> TokenizerConfig.parse("{\"add_bos_token\": \"yes\"}", "cfg.json"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("'add_bos_token'");
        assertThatThrownBy(() -> TokenizerConfig.parse("{\"added_tokens_decoder\": {\"x\": {\"content\": \"a\"}}}", "cfg.json"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("'added_tokens_decoder'").hasMessageContaining("'x'");
        assertThatThrownBy(() -> TokenizerConfig.parse("[1, 2]", "cfg.json"))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("JSON object");
    }

    @Test
    void missingDirectoryIsReported() {
        assertThatThrownBy(() -> TokenizerConfig.load(dir.resolve("nope")))
                .isInstanceOf(ModelFormatException.class).hasMessageContaining("nope").hasMessageContaining("no such tokenizer directory");
    }

    @Test
    void specialTokensMapSkipsUnsetTokens() {
        TokenizerConfig c = TokenizerConfig.parse("{\"bos_token\": null, \"eos_token\": \"</s>\", \"unk_token\": \"\"}", "t");
        assertThat(c.specialTokensMap()).isEqualTo(Map.of("eos_token", "</s>"));
    }
}
