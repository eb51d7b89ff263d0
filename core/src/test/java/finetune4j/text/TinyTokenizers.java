package finetune4j.text;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Small tokenizer.json files written by tests (no shared data needed): a SentencePiece-style BPE
 * with byte fallback in the Llama-2 layout, and its JSON text for error-case mutations.
 */
final class TinyTokenizers {
    private TinyTokenizers() {
    }

    /**
     * Llama-2 layout: {@code <unk> <s> </s>}, the 256 byte tokens (ids 3..258), then "▁", "h", "i",
     * "e", "l", "o", "▁h", "▁hi", "he", "ll", "hell", "hello", "▁hello" (ids 259..271); merges in
     * rank order {@code h e, l l, he ll, hell o, ▁ hello, ▁ h, ▁h i} (legacy string form).
     */
    static String spmJson() {
        StringBuilder vocab = new StringBuilder("\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2");
        for (int b = 0; b < 256; b++) vocab.append(String.format(", \"<0x%02X>\": %d", b, 3 + b));
        String[] pieces = {"▁", "h", "i", "e", "l", "o", "▁h", "▁hi", "he", "ll", "hell", "hello", "▁hello"};
        for (int i = 0; i < pieces.length; i++) vocab.append(", \"").append(pieces[i]).append("\": ").append(259 + i);
        return """
                {
                  "version": "1.0", "truncation": null, "padding": null,
                  "added_tokens": [
                    {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                    {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                    {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
                  ],
                  "normalizer": {"type": "Sequence", "normalizers": [
                    {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
                  "pre_tokenizer": null,
                  "post_processor": {"type": "TemplateProcessing",
                    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                    "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                             {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
                  "decoder": {"type": "Sequence", "decoders": [
                    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
                    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
                  "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
                    "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true,
                    "vocab": {VOCAB},
                    "merges": ["h e", "l l", "he ll", "hell o", "▁ hello", "▁ h", "▁h i"]}
                }
                """.replace("VOCAB", vocab.toString());
    }

    /** Writes {@code json} as {@code dir/tokenizer.json} and returns {@code dir}. */
    static Path write(Path dir, String json) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("tokenizer.json"), json);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
