package finetune4j.data;


import java.util.List;

/**
 * One training or evaluation example, as read from a dataset record, before tokenization.
 * {@code source} is {@code path:line} of the record (OpenAssistant threads add {@code #n}), carried
 * for error messages.
 */
public sealed interface Example {
    String source();

    /** The layout the record had. */
    DataFormat format();

    /** Plain text: every token is trained ({@code {"text": ...}}). */
    record Text(String source, String text) implements Example {
        public DataFormat format() {
            return DataFormat.TEXT;
        }
    }

    /** A prompt and its completion: only the completion is trained ({@code {"prompt", "completion"}}). */
    record PromptCompletion(String source, String prompt, String completion) implements Example {
        public DataFormat format() {
            return DataFormat.COMPLETION;
        }
    }

    /**
     * A conversation, rendered with a chat template before tokenization.
     *
     * @param messages       the turns in order (roles system, user, assistant, tool, ...); every
     *                       conversation has at least one assistant turn and ends with one
     * @param tools          the tool (function) definitions the template is given, or null for none
     * @param promptMessages how many leading messages form the prompt for {@code --train-on completion}
     *                       (TRL conversational prompt/completion), or −1: the prompt ends where the
     *                       final run of assistant messages starts
     */
    record Conversation(String source, DataFormat format, List<Message> messages, List<Object> tools,
                        int promptMessages) implements Example {
        public Conversation {
            messages = List.copyOf(messages);
            if (tools != null) tools = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(tools));
            if (promptMessages < -1 || promptMessages > messages.size()) {
                throw new IllegalArgumentException("promptMessages " + promptMessages + " outside [-1, " + messages.size() + "]");
            }
        }

        /** The index of the first message after the prompt (see {@code promptMessages}). */
        public int completionStart() {
            if (promptMessages >= 0) return promptMessages;
            int k = messages.size();
            while (k > 0 && messages.get(k - 1).role().equals("assistant")) k--;
            return k;
        }
    }
}
