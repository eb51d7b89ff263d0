/**
 * Jinja templates rendered as Hugging Face transformers renders chat templates, on Jinjava.
 *
 * <p>transformers uses Python's Jinja2: {@code ImmutableSandboxedEnvironment(trim_blocks=True,
 * lstrip_blocks=True, extensions=[loopcontrols, AssistantTracker])} with {@code tojson},
 * {@code raise_exception} and {@code strftime_now}. Jinjava is a Jinja dialect on Java EL; where the
 * two differ, this package supplies Python's behaviour through Jinjava's extension points
 * ({@link finetune4j.text.jinja.JinjaTemplate} is the entry point). The goldens of
 * {@code tools/golden/chat_templates.py} (real model templates and 100+ semantics probes, rendered
 * by Jinja2) pin every item below.
 *
 * <h2>Jinjava gaps filled</h2>
 * <ul>
 *   <li>Whitespace: Jinjava's trim_blocks/lstrip_blocks and {@code -}/{@code +} markers differ from
 *       Jinja2's lexer (mid-line lstrip, {@code {{-}, {@code {%+}, comments); {@code WhitespaceControl}
 *       applies Jinja2's rules to the source and keeps line numbers. Also newline normalization and
 *       the dropped final newline, a leading {@code -} in {@code {{ -x }}}, and {@code }}} inside nested
 *       dict literals.</li>
 *   <li>Values: None vs undefined ({@code tools is defined} with tools=None, {@code none|default},
 *       {@code x == none}); Python {@code str()} of booleans, None, floats (repr), lists, dicts,
 *       tuples; {@code tojson} as {@code json.dumps} (separators, indent, ensure_ascii, sort_keys).</li>
 *   <li>Truthiness: Jinjava treats the string "false" as false in {@code if}, {@code not}, ternaries.</li>
 *   <li>Operators: Python {@code == != < in + - * / // % **} (no EL coercion: {@code 'abc' != false},
 *       {@code '1' == 1}, {@code -7 % 3}, {@code 'ab' * 3}, str + int is a TypeError), {@code and}/{@code or}
 *       returning operands, {@code not} below comparisons, filters after unary minus, keyword
 *       arguments taking whole expressions, trailing commas, tuples.</li>
 *   <li>Subscripts: slices with steps ({@code messages[::-1]}), code-point indexing of strings,
 *       negative indices, errors on attributes of undefined values.</li>
 *   <li>Python str/dict/list methods ({@code strip/lstrip/rstrip} with chars, {@code split/rsplit}
 *       (not regex), {@code startswith} with tuples, {@code title}, {@code format}, {@code items()},
 *       {@code get}...), Python whitespace (U+00A0, U+3000...) and code-point lengths.</li>
 *   <li>String literals: Python escapes ({@code \u00e9}, {@code \x41}, unknown escapes kept).</li>
 *   <li>Filters and tests: Jinja2's semantics (trim, length, join, default, map/select/selectattr,
 *       indent, round, int, float, dictsort, items, escape...), {@code is string/mapping/number/none/
 *       defined}; Jinjava-only filters, tests, functions and tags fail as unknown.</li>
 *   <li>Tags: for-else, for-if filter, tuple unpacking, {@code loop.previtem/nextitem}, break/continue
 *       inside if, {@code {% filter %}}, {@code {% with %}}, {@code {% generation %}} with spans.</li>
 *   <li>Globals: {@code raise_exception} (aborts with the template's message), {@code strftime_now}
 *       (Python strftime, injectable clock), {@code range} (sandbox MAX_RANGE), {@code dict},
 *       {@code namespace}; the names are defined variables ({@code strftime_now is defined}).</li>
 *   <li>Sandbox: no bean access (no {@code getClass()}), immutable inputs, no include/import/extends
 *       and no resource loading, no nested interpretation; limits on output, strings, lists, range,
 *       recursion and render time (checked at every node and access, and on interrupt).</li>
 * </ul>
 *
 * <h2>Known differences</h2>
 * Recursive for loops, {@code loop.changed}, {@code cycler}/{@code joiner}/{@code lipsum}, and the
 * filters {@code batch slice truncate wordwrap groupby urlize xmlattr striptags pprint random attr}
 * are not provided (they fail loudly). Dict literals accept only string keys. Error messages follow
 * Python's for the common cases but are not byte-identical.
 */
package finetune4j.text.jinja;
