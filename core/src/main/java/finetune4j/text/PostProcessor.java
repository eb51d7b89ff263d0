package finetune4j.text;

import java.util.List;

/**
 * tokenizer.json {@code post_processor}: adds the special tokens of a single sequence (BOS, CLS/SEP,
 * ...) when {@code add_special_tokens} is true ({@code tokenizers/src/processors}). Only the
 * single-sequence form is implemented; pair templates are parsed but not used.
 */
sealed interface PostProcessor {

    /** The ids of one encoded sequence with the special tokens added. */
    int[] process(int[] ids);

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
    }

    /** {@code BertProcessing} / {@code RobertaProcessing} for one sequence: {@code cls A sep}. */
    record ClsSep(int cls, int sep) implements PostProcessor {
        public int[] process(int[] ids) {
            int[] out = new int[ids.length + 2];
            out[0] = cls;
            System.arraycopy(ids, 0, out, 1, ids.length);
            out[ids.length + 1] = sep;
            return out;
        }
    }

    /** {@code ByteLevel} as a post-processor only trims offsets: ids are unchanged. */
    record ByteLevel() implements PostProcessor {
        public int[] process(int[] ids) {
            return ids;
        }
    }

    /** Runs each processor in order. */
    record Sequence(List<PostProcessor> processors) implements PostProcessor {
        public int[] process(int[] ids) {
            for (PostProcessor p : processors) ids = p.process(ids);
            return ids;
        }
    }
}
