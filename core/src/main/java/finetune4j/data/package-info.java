/**
 * Dataset records to examples. {@link finetune4j.data.DatasetFiles} finds the splits (a file, or an
 * mlx-lm directory with {@code train.jsonl} / {@code valid.jsonl} / {@code test.jsonl}, gzip allowed);
 * {@link finetune4j.data.DatasetReader} streams records with their {@code path:line} (JSON Lines, or
 * a JSON array whose records are named {@code path:line[index]}); {@link finetune4j.data.DatasetLoader}
 * turns them into {@link finetune4j.data.Example}s: plain text, prompt/completion, or a
 * conversation (messages with roles, optional tool definitions).
 *
 * <p>Formats ({@link finetune4j.data.DataFormat}), detected per record or forced with {@code --format};
 * {@code --map old=new} renames keys first:
 * <table>
 *   <caption>Record layouts</caption>
 *   <tr><th>format</th><th>keys</th><th>becomes</th></tr>
 *   <tr><td>alpaca</td><td>instruction, input, output</td><td>user (instruction, blank line, input), assistant</td></tr>
 *   <tr><td>dolly</td><td>instruction, context, response, category</td><td>as alpaca, context as input</td></tr>
 *   <tr><td>sharegpt</td><td>conversations [{from, value}] (or role/content), system, tools</td><td>human/gpt/system;
 *       function_call → assistant tool_calls; observation → tool</td></tr>
 *   <tr><td>messages</td><td>messages [{role, content, tool_calls, ...}], tools</td><td>as given (string arguments of a
 *       tool call parsed to an object)</td></tr>
 *   <tr><td>oasst</td><td>exported tree {prompt: {..., replies}}, a node with replies, or flat rows
 *       {message_id, parent_id, role, text, rank}</td><td>root-to-leaf threads: the best-ranked reply chain, or all
 *       ({@code --threads all}); deleted / synthetic / lang filters</td></tr>
 *   <tr><td>completion</td><td>prompt, completion (strings, or message lists)</td><td>prompt/completion, or a
 *       conversation whose prompt is the prompt messages</td></tr>
 *   <tr><td>text</td><td>text</td><td>plain text</td></tr>
 * </table>
 *
 * <p>Every problem with a record (invalid JSON, a missing field, an unknown role, an empty assistant
 * turn, no assistant turn, an OpenAssistant orphan or cycle) is an
 * {@link finetune4j.InvalidDataException} naming {@code path:line} and the field; a
 * {@link finetune4j.data.BadRecords} policy stops at the first ({@code fail}) or records them all
 * ({@code skip}). Raw JSON is never kept: files larger than memory stream through (flat OpenAssistant
 * rows are held in compact form until their file ends, since their trees span records).
 */
package finetune4j.data;
