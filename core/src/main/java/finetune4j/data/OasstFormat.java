package finetune4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import finetune4j.InvalidDataException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * OpenAssistant messages (oasst1/oasst2) in their three layouts, turned into conversations by
 * walking root-to-leaf threads:
 * <ul>
 *   <li>an exported tree {@code {"message_tree_id", "prompt": node}}, nodes nesting their
 *       {@code replies} (the {@code *.trees.jsonl} export);</li>
 *   <li>a tree node record (the root prompt message with nested {@code replies});</li>
 *   <li>flat message rows {@code {"message_id", "parent_id", "role", "text", "rank", ...}}, one
 *       message per record (the {@code *.messages.jsonl} export and the HF dataset), linked by
 *       {@code parent_id}; these are held (ids, roles, texts, flags: not the raw JSON) until the file
 *       ends, then assembled.</li>
 * </ul>
 * Roles: prompter → user, assistant → assistant, and they must alternate down a thread. Filters
 * (each drops the message and its replies, counted in {@link #filtered}): {@code deleted} messages
 * unless kept, {@code synthetic} ones when asked, and a {@code lang} set. Threads: by default one per
 * tree, following the best-ranked reply ({@code rank} 0 first, unranked last, file order on ties);
 * with {@code allThreads}, one per leaf. A thread's trailing prompter message is dropped.
 *
 * <p>Bad records: a wrong role, a missing message_id or text, a reply whose {@code parent_id} is not
 * its parent's id, a repeated message_id (in a nested tree) — and for flat rows an orphan (its
 * parent_id is in no row) or a cycle of parent links. Messages below an orphan or in a cycle are
 * unreachable from any root; they are counted ({@link #unreachable}).
 */
final class OasstFormat {
    /** One message. */
    private static final class Node {
        final String id, parentId, role, text, lang;
        final boolean deleted, synthetic;
        final Integer rank;
        final DatasetReader.RawRecord where;        // the record (its json dropped)
        final List<Node> replies = new ArrayList<>();

        Node(String id, String parentId, String role, String text, String lang, boolean deleted, boolean synthetic, Integer rank,
             DatasetReader.RawRecord where) {
            this.id = id;
            this.parentId = parentId;
            this.role = role;
            this.text = text;
            this.lang = lang;
            this.deleted = deleted;
            this.synthetic = synthetic;
            this.rank = rank;
            this.where = where;
        }
    }

    private final DataOptions.OasstOptions options;
    private final List<Node> rows = new ArrayList<>();     // flat rows of the current file
    private String rowsPath;
    long filtered, unreachable;

    OasstFormat(DataOptions.OasstOptions options) {
        this.options = options;
    }

    void parse(DatasetReader.RawRecord r, Consumer<Example> out) {
        JsonNode j = r.json();
        if (j.has("prompt") && j.get("prompt").isObject()) {
            tree(r, node(r, j.get("prompt"), "prompt", null, new HashSet<>()), out);
        } else if (j.has("replies")) {
            tree(r, node(r, j, "", null, new HashSet<>()), out);
        } else if (j.has("message_id")) {
            Node n = fields(r, j, "");
            rowsPath = r.path();
            rows.add(n);
        } else {
            throw r.error(null, "not an OpenAssistant record: expected an exported tree"
                    + " {\"prompt\": {...}}, a message with \"replies\", or a message row with \"message_id\"; found keys " + RecordParser.keys(j));
        }
    }

    /** Assembles the held flat rows into trees. */
    void finish(Consumer<Example> out, BadRecords bad) {
        if (rows.isEmpty()) return;
        String path = rowsPath;
        List<Node> all = new ArrayList<>(rows);
        rows.clear();
        Map<String, Node> byId = new HashMap<>();
        List<Node> kept = new ArrayList<>();
        for (Node n : all) {
            if (byId.containsKey(n.id)) {
                bad.report(n.where.error("message_id", "'" + n.id + "' already appeared at " + byId.get(n.id).where.source()));
                continue;
            }
            byId.put(n.id, n);
            kept.add(n);
        }
        List<Node> roots = new ArrayList<>();
        Set<String> orphans = new HashSet<>();
        for (Node n : kept) {
            if (n.parentId == null) roots.add(n);
            else if (!byId.containsKey(n.parentId)) {
                orphans.add(n.id);
                bad.report(n.where.error("parent_id", "orphan: no message has message_id '" + n.parentId
                        + "' (hint: the file must hold whole trees)"));
            } else byId.get(n.parentId).replies.add(n);
        }
        Set<String> reachable = new HashSet<>();
        for (Node root : roots) mark(root, reachable);
        Set<String> reported = new HashSet<>();
        for (Node n : kept) {
            if (reachable.contains(n.id)) continue;
            unreachable++;
            // walk up: an orphan ancestor, or a cycle
            List<Node> chain = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            Node cur = n;
            while (cur != null && !orphans.contains(cur.id) && seen.add(cur.id)) {
                chain.add(cur);
                cur = cur.parentId == null ? null : byId.get(cur.parentId);
            }
            if (cur != null && !orphans.contains(cur.id) && !reported.contains(cur.id)) {
                List<String> cycle = new ArrayList<>();
                int from = chain.indexOf(cur);
                for (int i = from; i < chain.size(); i++) {
                    cycle.add(chain.get(i).id);
                    reported.add(chain.get(i).id);
                }
                cycle.add(cur.id);
                bad.report(cur.where.error("parent_id", "cycle of parent links: " + String.join(" → ", cycle)));
            }
        }
        for (Node root : roots) {
            try {
                check(root);
                tree(root.where, root, out);
            } catch (InvalidDataException e) {
                bad.report(e);
            }
        }
    }

    private static void mark(Node n, Set<String> reachable) {
        if (!reachable.add(n.id)) return;
        for (Node c : n.replies) mark(c, reachable);
    }

    /** Checks roles down an assembled flat tree (nested trees are checked while parsed). */
    private void check(Node n) {
        for (Node c : n.replies) {
            if (c.role.equals(n.role)) {
                throw c.where.error("role", "a reply to a " + n.role + " message must be "
                        + (n.role.equals("prompter") ? "an assistant" : "a prompter") + " message, got '" + c.role + "' (message " + c.id + ")");
            }
            check(c);
        }
    }

    /** A nested node and its replies, checked. */
    private Node node(DatasetReader.RawRecord r, JsonNode j, String field, Node parent, Set<String> ids) {
        if (!j.isObject()) throw r.error(field.isEmpty() ? null : field, "expected a message object");
        Node n = fields(r, j, field);
        if (!ids.add(n.id)) {
            throw r.error(dot(field, "message_id"), "cycle: message '" + n.id + "' appears twice in the tree");
        }
        if (parent != null) {
            if (n.parentId != null && !n.parentId.equals(parent.id)) {
                throw r.error(dot(field, "parent_id"), "'" + n.parentId + "' is not the id of the message"
                        + " it replies to ('" + parent.id + "')");
            }
            if (n.role.equals(parent.role)) {
                throw r.error(dot(field, "role"), "a reply to a " + parent.role + " message must be "
                        + (parent.role.equals("prompter") ? "an assistant" : "a prompter") + " message, got '" + n.role + "'");
            }
        }
        JsonNode replies = j.get("replies");
        if (replies != null && !replies.isNull()) {
            if (!replies.isArray()) throw r.error(dot(field, "replies"), "expected a list of messages");
            for (int i = 0; i < replies.size(); i++) n.replies.add(node(r, replies.get(i), dot(field, "replies[" + i + "]"), n, ids));
        }
        return n;
    }

    private static Node fields(DatasetReader.RawRecord r, JsonNode j, String field) {
        String id = RecordParser.string(r, j, "message_id", dot(field, "message_id"), true);
        String parent = RecordParser.string(r, j, "parent_id", dot(field, "parent_id"), false);
        String role = RecordParser.string(r, j, "role", dot(field, "role"), true);
        if (!role.equals("prompter") && !role.equals("assistant")) {
            throw r.error(dot(field, "role"), "expected 'prompter' or 'assistant', got '" + role + "'");
        }
        String text = RecordParser.string(r, j, "text", dot(field, "text"), true);
        if (role.equals("assistant") && text.isBlank()) {
            throw r.error(dot(field, "text"), "empty assistant turn");
        }
        String lang = j.path("lang").isTextual() ? j.get("lang").asText() : null;
        Integer rank = j.path("rank").isNumber() ? j.get("rank").intValue() : null;
        return new Node(id, parent, role, text, lang, j.path("deleted").asBoolean(false), j.path("synthetic").asBoolean(false), rank,
                r.withJson(null));
    }

    private static String dot(String field, String key) {
        return field.isEmpty() ? key : field + "." + key;
    }

    /** The threads of one tree. */
    private void tree(DatasetReader.RawRecord r, Node root, Consumer<Example> out) {
        if (!root.role.equals("prompter")) {
            throw r.error("role", "a tree must start with a prompter message, got '" + root.role + "'");
        }
        filtered += filteredSize(root);
        if (!keep(root)) return;
        List<List<Node>> threads = new ArrayList<>();
        if (options.allThreads()) {
            Map<String, List<Node>> byLast = new LinkedHashMap<>();
            collect(root, new ArrayList<>(), byLast);
            threads.addAll(byLast.values());
        } else {
            List<Node> t = new ArrayList<>();
            Node cur = root;
            while (cur != null) {
                t.add(cur);
                cur = best(cur);
            }
            trim(t);
            if (!t.isEmpty()) threads.add(t);
        }
        for (int k = 0; k < threads.size(); k++) {
            List<Message> messages = new ArrayList<>();
            for (Node n : threads.get(k)) messages.add(Message.of(n.role.equals("prompter") ? "user" : "assistant", n.text));
            String source = r.source() + (options.allThreads() && threads.size() > 1 ? "#" + (k + 1) : "");
            out.accept(RecordParser.conversation(r, source, DataFormat.OASST, messages, null, -1, null));
        }
    }

    /** Every root-to-leaf path (kept messages only), trimmed to end with an assistant, keyed by its last message. */
    private void collect(Node n, List<Node> path, Map<String, List<Node>> byLast) {
        path.add(n);
        boolean leaf = true;
        for (Node c : n.replies) {
            if (!keep(c)) continue;
            leaf = false;
            collect(c, path, byLast);
        }
        if (leaf) {
            List<Node> t = new ArrayList<>(path);
            trim(t);
            if (!t.isEmpty()) byLast.putIfAbsent(t.getLast().id, t);
        }
        path.removeLast();
    }

    /** The best-ranked kept reply: lowest rank, unranked last, first in order on ties. */
    private Node best(Node n) {
        Node best = null;
        for (Node c : n.replies) {
            if (!keep(c)) continue;
            if (best == null || rank(c) < rank(best)) best = c;
        }
        return best;
    }

    private static long rank(Node n) {
        return n.rank == null ? Long.MAX_VALUE : n.rank;
    }

    private static void trim(List<Node> t) {
        while (!t.isEmpty() && !t.getLast().role.equals("assistant")) t.removeLast();
    }

    private boolean keep(Node n) {
        if (n.deleted && !options.keepDeleted()) return false;
        if (n.synthetic && !options.keepSynthetic()) return false;
        return options.langs().isEmpty() || (n.lang != null && options.langs().contains(n.lang));
    }

    /** Messages of the tree that the filters drop (a dropped message takes its replies with it). */
    private long filteredSize(Node n) {
        if (!keep(n)) return size(n);
        long s = 0;
        for (Node c : n.replies) s += filteredSize(c);
        return s;
    }

    private static long size(Node n) {
        long s = 1;
        for (Node c : n.replies) s += size(c);
        return s;
    }
}
