package finetune4j.text;

import java.util.List;
import java.util.function.IntFunction;

/**
 * tokenizer.json {@code post_processor}: adds the special tokens of a single sequence (BOS, CLS/SEP,
 * ...) when {@code add_special_tokens} is true ({@code tokenizers/src/processors}). Only the
 * single-sequence form is implemented; pair templates are parsed but not used.
 */
sealed interface PostProcessor {

    /** The ids of one encoded sequence with the special tokens added. */
    int[] process(int[] ids);

    /**
     * HF {@code post_process} of an encoding with offsets: special tokens (when
     * {@code addSpecialTokens}) get the empty offsets {@code (0, 0)}; ByteLevel and RoBERTa with
     * {@code trim_offsets} trim leading and trailing spaces off token offsets (always, as HF does).
     * {@code tokens} gives the token string of an id; {@code text} is the encoded text (trimming moves
     * by code points, as HF trims char offsets).
     */
    Tokenizer.Encoding process(Tokenizer.Encoding e, boolean addSpecialTokens, IntFunction<String> tokens, String text);

    /** The position {@code n} code points after {@code pos} in {@code text} (may pass the end by counting units). */
    private static int forward(String text, int pos, int n) {
        for (int k = 0; k < n; k++) pos += pos < text.length() ? Character.charCount(text.codePointAt(pos)) : 1;
        return pos;
    }

    /** The position {@code n} code points before {@code pos}. */
    private static int backward(String text, int pos, int n) {
        for (int k = 0; k < n && pos > 0; k++) pos -= Character.charCount(text.codePointBefore(Math.min(pos, text.length())));
        return pos;
    }

    /** Inserts {@code before} and {@code after} special ids around {@code e}, with empty offsets. */
    private static Tokenizer.Encoding surround(Tokenizer.Encoding e, int[] before, int[] after) {
        int n = e.ids().length, m = before.length + n + after.length;
        int[] ids = new int[m], st = new int[m], en = new int[m];
        System.arraycopy(before, 0, ids, 0, before.length);
        System.arraycopy(e.ids(), 0, ids, before.length, n);
        System.arraycopy(e.starts(), 0, st, before.length, n);
        System.arraycopy(e.ends(), 0, en, before.length, n);
        System.arraycopy(after, 0, ids, before.length + n, after.length);
        return new Tokenizer.Encoding(ids, st, en);
    }

    /**
     * HF {@code process_offsets} ({@code pre_tokenizers/byte_level.rs}): leading and trailing
     * {@code Ġ}/whitespace chars of a token are cut from its offsets, except one leading space of the
     * first token when {@code add_prefix_space} (that space was added, not read).
     */
    private static Tokenizer.Encoding trimmed(Tokenizer.Encoding e, boolean addPrefixSpace, IntFunction<String> tokens, String text) {
        int[] st = e.starts().clone(), en = e.ends().clone();
        for (int i = 0; i < st.length; i++) {
            String t = tokens.apply(e.ids()[i]);
            if (t == null) continue;
            int lead = 0, trail = 0;
            for (int k = 0; k < t.length(); ) {
                int cp = t.codePointAt(k);
                if (cp != 'Ġ' && !Chars.isWhitespace(cp)) break;
                lead++;
                k += Character.charCount(cp);
            }
            for (int k = t.length(); k > 0; ) {
                int cp = t.codePointBefore(k);
                if (cp != 'Ġ' && !Chars.isWhitespace(cp)) break;
                trail++;
                k -= Character.charCount(cp);
            }
            if (lead > 0) {
                boolean first = i == 0 || st[i] == 0;
                if (!(first && addPrefixSpace && lead == 1)) st[i] = Math.min(forward(text, st[i], lead), en[i]);
            }
            if (trail > 0 && text.codePointCount(0, en[i]) >= trail) en[i] = Math.max(backward(text, en[i], trail), st[i]);
        }
        return new Tokenizer.Encoding(e.ids(), st, en);
    }

    /** One element of a TemplateProcessing {@code single} template. */
    sealed interface Item {
        /** A special token's ids ({@code {"SpecialToken": {"id": "<s>"}}} resolved through {@code special_tokens}). */
        record Special(String name, int[] ids) implements Item {
        }

        /** The encoded sequence ({@code {"Sequence": {"id": "A"}}}). */
        record Sequence() implements Item {
        }
    }

    /** {@code TemplateProcessing}: the {@code single} template's items in order. */
    record Template(List<Item> single) implements PostProcessor {
        public int[] process(int[] ids) {
            IntList out = new IntList(ids.length + 4);
            for (Item item : single) {
                if (item instanceof Item.Special s) out.addAll(s.ids());
                else out.addAll(ids);
            }
            return out.toArray();
        }

        public Tokenizer.Encoding process(Tokenizer.Encoding e, boolean addSpecialTokens, IntFunction<String> tokens, String text) {
            if (!addSpecialTokens) return e;
            IntList before = new IntList(4), after = new IntList(4);
            boolean seen = false;
            for (Item item : single) {
                if (item instanceof Item.Special s) (seen ? after : before).addAll(s.ids());
                else seen = true;
            }
            return surround(e, before.toArray(), after.toArray());
        }
    }

    /**
     * {@code BertProcessing} / {@code RobertaProcessing} for one sequence: {@code cls A sep};
     * RoBERTa's {@code trim_offsets} (false for BERT) trims offsets as ByteLevel does.
     */
    record ClsSep(int cls, int sep, boolean trimOffsets, boolean addPrefixSpace) implements PostProcessor {
        public Tokenizer.Encoding process(Tokenizer.Encoding e, boolean addSpecialTokens, IntFunction<String> tokens, String text) {
            if (trimOffsets) e = PostProcessor.trimmed(e, addPrefixSpace, tokens, text);
            return addSpecialTokens ? surround(e, new int[]{cls}, new int[]{sep}) : e;
        }

        public int[] process(int[] ids) {
            int[] out = new int[ids.length + 2];
            out[0] = cls;
            System.arraycopy(ids, 0, out, 1, ids.length);
            out[ids.length + 1] = sep;
            return out;
        }
    }

    /** {@code ByteLevel} as a post-processor only trims offsets: ids are unchanged. */
    record ByteLevel(boolean trimOffsets, boolean addPrefixSpace) implements PostProcessor {
        public int[] process(int[] ids) {
            return ids;
        }

        public Tokenizer.Encoding process(Tokenizer.Encoding e, boolean addSpecialTokens, IntFunction<String> tokens, String text) {
            return trimOffsets ? PostProcessor.trimmed(e, addPrefixSpace, tokens, text) : e;
        }
    }

    /** Runs each processor in order. */
    record Sequence(List<PostProcessor> processors) implements PostProcessor {
        public int[] process(int[] ids) {
            for (PostProcessor p : processors) ids = p.process(ids);
            return ids;
        }

        public Tokenizer.Encoding process(Tokenizer.Encoding e, boolean addSpecialTokens, IntFunction<String> tokens, String text) {
            for (PostProcessor p : processors) e = p.process(e, addSpecialTokens, tokens, text);
            return e;
        }
    }
}
