package finetune4j.engine.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Downloads the files of a model repository into the huggingface_hub cache ({@link HubCache}),
 * following huggingface_hub's {@code hf_hub_download} (file_download.py):
 * <ol>
 *   <li>{@code HEAD {endpoint}/{org}/{name}/resolve/{revision}/{file}} without following redirects
 *   (except relative ones: renamed repositories), {@code Accept-Encoding: identity}: the commit is
 *   {@code X-Repo-Commit}; the etag {@code X-Linked-Etag} or {@code ETag} (quotes and {@code W/}
 *   removed); the size {@code X-Linked-Size} or {@code Content-Length}; an absolute redirect
 *   {@code Location} (the CDN, for LFS files) is where the bytes are fetched from;</li>
 *   <li>{@code snapshots/{commit}/{file}} already present: nothing is fetched; the blob already
 *   present (same content at another commit): only the symlink is made;</li>
 *   <li>otherwise {@code GET} into {@code blobs/{etag}.incomplete}, resuming an existing one with
 *   {@code Range: bytes=N-}, retrying a dropped connection from where it stopped (five tries
 *   without progress), checking the size, then renaming to {@code blobs/{etag}} and linking;</li>
 *   <li>{@code Authorization: Bearer $HF_TOKEN} on hub requests, never sent to another host (the
 *   CDN URL is signed);</li>
 *   <li>a 404 for an optional file with {@code X-Repo-Commit} is remembered in {@code .no_exist}.</li>
 * </ol>
 * The revision is resolved to a commit by the first request; the other files are then fetched at
 * that commit (as {@code snapshot_download} does), so a branch moving mid-download cannot mix
 * commits. The model's files: {@code config.json} (required), generation and tokenizer files
 * (optional), and the weights: {@code model.safetensors}, else {@code model.safetensors.index.json}
 * and every shard it names.
 *
 * <p>A snapshot already complete in the cache for a commit hash, or for a branch or tag whose ref
 * is cached, is returned without any request (unlike huggingface_hub, which re-checks a branch
 * with one HEAD per file); {@code refresh} asks the hub again.
 */
final class HubClient {
    static final String CONFIG = "config.json";
    static final List<String> OPTIONAL = List.of("generation_config.json", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "chat_template.jinja");
    static final String WEIGHTS = "model.safetensors";
    static final String INDEX = "model.safetensors.index.json";
    private static final int MAX_TRIES_WITHOUT_PROGRESS = 5;
    private static final int MAX_REDIRECTS = 10;
    private static final String USER_AGENT = "finetune4j/0.1; java/" + Runtime.version().feature();

    private final HubEnvironment env;
    private final HttpClient http;
    private final Progress progress;
    private final Duration retryDelay;

    HubClient(HubEnvironment env, HttpClient http, Progress progress, Duration retryDelay) {
        this.env = env;
        this.http = http;
        this.progress = progress;
        this.retryDelay = retryDelay;
    }

    static HttpClient defaultHttp() {
        return HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(10))
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    /** What a HEAD told us about one file. */
    record FileMeta(String commit, String etag, long size, URI location) {
    }

    /** A non-success HTTP answer, with the hub's error code header. */
    static final class HttpStatusException extends IOException {
        final int status;
        final String errorCode;    // X-Error-Code: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo
        final String commit;       // X-Repo-Commit, when the hub sent one

        HttpStatusException(URI uri, int status, String errorCode, String errorMessage, String commit) {
            super("HTTP " + status + (errorCode == null ? "" : " " + errorCode) + " for " + uri
                    + (errorMessage == null ? "" : ": " + errorMessage));
            this.status = status;
            this.errorCode = errorCode;
            this.commit = commit;
        }

        boolean entryNotFound() {
            return status == 404 && (errorCode == null || errorCode.equals("EntryNotFound"));
        }
    }

    /**
     * The snapshot directory of {@code id} with every model file present.
     *
     * @throws ModelFormatException when a required file is missing (on the hub, or in the cache when offline)
     * @throws Finetune4jException  on network, authentication or consistency failures
     */
    Path snapshot(HubId id, boolean refresh) {
        HubCache cache = new HubCache(env.cacheDir(), id);
        String cachedCommit = cache.commitOf(id.revision());
        if (env.offline()) return offlineSnapshot(id, cache, cachedCommit);
        if (!refresh && cachedCommit != null && missing(cache, cachedCommit, true).isEmpty()) {
            return cache.snapshot(cachedCommit);
        }
        try {
            // The first request resolves the revision; the rest are fetched at that commit.
            String commit = fetch(id, cache, id.revision(), CONFIG, true, refresh);
            for (String f : OPTIONAL) fetch(id, cache, commit, f, false, false);
            if (fetch(id, cache, commit, WEIGHTS, false, false) == null) {
                if (fetch(id, cache, commit, INDEX, false, false) == null) {
                    throw new ModelFormatException(id + "/" + WEIGHTS, "the repository has neither " + WEIGHTS + " nor "
                            + INDEX + " at commit " + commit + " (hint: finetune4j reads safetensors weights only; "
                            + "PyTorch .bin checkpoints must be converted)");
                }
                for (String shard : shardsOf(cache.pointer(commit, INDEX))) fetch(id, cache, commit, shard, true, false);
            }
            return cache.snapshot(commit);
        } catch (HttpStatusException e) {
            throw explain(id, e);
        } catch (InterruptedIOException e) {
            Thread.currentThread().interrupt();
            throw new Finetune4jException("download of " + id + " interrupted", e);
        } catch (IOException e) {
            throw new Finetune4jException("cannot fetch " + id + " from " + env.endpoint() + ": " + describe(e)
                    + " (hint: check the network or proxy; with HF_HUB_OFFLINE=1 only the cache at "
                    + cache.storage + " is used)", e);
        }
    }

    private Path offlineSnapshot(HubId id, HubCache cache, String commit) {
        if (commit == null) {
            throw new ModelFormatException(id.toString(), "offline mode (HF_HUB_OFFLINE) is set and the cache has no "
                    + (id.isCommit() ? "snapshot " + id.revision() : "ref '" + id.revision() + "'") + " for this repository (looked in "
                    + cache.storage + "); download it once online, or unset HF_HUB_OFFLINE");
        }
        List<String> missing = missing(cache, commit, false);
        if (!missing.isEmpty()) {
            throw new ModelFormatException(cache.snapshot(commit).toString(), "offline mode (HF_HUB_OFFLINE) is set and the cached "
                    + "snapshot of " + id + " lacks " + String.join(", ", missing) + "; download it once online, or unset HF_HUB_OFFLINE");
        }
        return cache.snapshot(commit);
    }

    /**
     * The model files the snapshot lacks. With {@code strict}, an optional file counts as missing
     * unless it is present or known not to exist (then the hub must be asked).
     */
    private static List<String> missing(HubCache cache, String commit, boolean strict) {
        List<String> out = new ArrayList<>();
        if (!cache.has(commit, CONFIG)) out.add(CONFIG);
        if (strict) {
            for (String f : OPTIONAL) if (!cache.has(commit, f) && !cache.knownMissing(commit, f)) out.add(f);
        }
        if (!cache.has(commit, WEIGHTS)) {
            if (cache.has(commit, INDEX)) {
                try {
                    for (String s : shardsOf(cache.pointer(commit, INDEX))) if (!cache.has(commit, s)) out.add(s);
                } catch (ModelFormatException e) {
                    out.add(INDEX + " (unreadable)");
                }
            } else {
                out.add(WEIGHTS + " or " + INDEX);
            }
        }
        return out;
    }

    /** The distinct shard files named by an index's weight_map, in first-seen order. */
    static List<String> shardsOf(Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(index.toString(), "is not valid JSON: " + e.getMessage());
        }
        JsonNode wm = root == null ? null : root.get("weight_map");
        if (wm == null || !wm.isObject() || wm.isEmpty()) {
            throw new ModelFormatException(index.toString(), "has no 'weight_map' object {tensor name: shard file}");
        }
        Set<String> shards = new LinkedHashSet<>();
        for (JsonNode v : wm) {
            String s = v.asText();
            if (!v.isTextual() || s.isEmpty() || s.contains("/") || s.contains("\\") || s.startsWith(".")) {
                throw new ModelFormatException(index.toString(), "weight_map names '" + v + "'; expected a shard file name");
            }
            shards.add(s);
        }
        return List.copyOf(shards);
    }

    /**
     * Makes {@code file} present in the snapshot of {@code revision} and returns the commit, or
     * {@code null} when an optional file does not exist there.
     */
    private String fetch(HubId id, HubCache cache, String revision, String file, boolean required, boolean refresh) throws IOException {
        // huggingface_hub's shortcut: a commit hash whose file is already linked needs no request.
        if (HubId.isCommitHash(revision) && !refresh) {
            if (cache.has(revision, file)) return revision;
            if (!required && cache.knownMissing(revision, file)) return null;
        }
        FileMeta meta;
        try {
            meta = head(id, revision, file);
        } catch (HttpStatusException e) {
            if (!e.entryNotFound()) throw e;
            if (e.commit != null) {
                cache.markMissing(e.commit, file);
                cache.writeRef(revision, e.commit);
            }
            if (required) {
                throw new ModelFormatException(id.repoId() + "@" + revision + "/" + file,
                        "not found in the repository (HTTP 404 from " + env.endpoint() + ")");
            }
            return null;
        }
        if (meta.location().equals(resolveUri(id, revision, file))) {
            // not redirected: fetch the bytes at the commit the HEAD reported, in case the branch moves meanwhile
            meta = new FileMeta(meta.commit(), meta.etag(), meta.size(), resolveUri(id, meta.commit(), file));
        }
        Files.createDirectories(cache.blob(meta.etag()).getParent());
        cache.writeRef(revision, meta.commit());
        if (!cache.has(meta.commit(), file)) {
            if (!Files.isRegularFile(cache.blob(meta.etag()))) download(id, cache, file, meta);
            cache.link(meta.etag(), meta.commit(), file);
        }
        return meta.commit();
    }

    /** {@code HEAD} the resolve URL, following relative redirects only. */
    FileMeta head(HubId id, String revision, String file) throws IOException {
        URI uri = resolveUri(id, revision, file);
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).method("HEAD", HttpRequest.BodyPublishers.noBody())
                    .timeout(Duration.ofSeconds(10)).header("Accept-Encoding", "identity");
            HttpResponse<Void> r = send(withHubHeaders(b, uri).build(), HttpResponse.BodyHandlers.discarding());
            int s = r.statusCode();
            String location = r.headers().firstValue("Location").orElse(null);
            if (s >= 300 && s < 400 && location != null) {
                URI target = uri.resolve(location);
                if (URI.create(location).getHost() == null && hop < MAX_REDIRECTS) {
                    uri = target;               // renamed repository: same host, new path
                    continue;
                }
                return meta(r, uri, target);
            }
            if (s >= 200 && s < 300) return meta(r, uri, uri);
            throw statusError(r, uri);
        }
    }

    private FileMeta meta(HttpResponse<?> r, URI uri, URI location) {
        var h = r.headers();
        String commit = h.firstValue("X-Repo-Commit").orElse(null);
        String etag = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubClient::normalizeEtag).orElse(null);
        String size = h.firstValue("X-Linked-Size").or(() -> h.firstValue("Content-Length")).orElse(null);
        if (commit == null) {
            throw new Finetune4jException(uri + ": the answer has no X-Repo-Commit header, so it does not come from a "
                    + "Hugging Face hub (check HF_ENDPOINT and any proxy or firewall in between)");
        }
        if (etag == null || etag.isEmpty() || etag.contains("/") || etag.contains("\\") || etag.startsWith(".")) {
            throw new Finetune4jException(uri + ": the hub sent no usable ETag (" + etag + "), so the file cannot be cached reliably");
        }
        long n;
        try {
            n = Long.parseLong(Objects.requireNonNull(size).strip());
        } catch (RuntimeException e) {
            throw new Finetune4jException(uri + ": the hub sent no valid size (X-Linked-Size / Content-Length: " + size + ")");
        }
        return new FileMeta(commit.strip(), etag, n, location);
    }

    /** {@code W/"abc"} or {@code "abc"} → {@code abc} (huggingface_hub {@code _normalize_etag}). */
    static String normalizeEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) e = e.substring(2);
        if (e.length() >= 2 && e.startsWith("\"") && e.endsWith("\"")) e = e.substring(1, e.length() - 1);
        return e;
    }

    /** Downloads into {@code blobs/{etag}.incomplete} (resuming), verifies the size, renames to the blob. */
    private void download(HubId id, HubCache cache, String file, FileMeta meta) throws IOException {
        Path lockFile = cache.lockFile(meta.etag());
        Files.createDirectories(lockFile.getParent());
        synchronized (HubClient.class) {   // FileLock is per process; this serialises threads of this JVM
            try (FileChannel lockCh = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock ignored = lockCh.lock()) {
                Path blob = cache.blob(meta.etag());
                if (Files.isRegularFile(blob)) return;         // another process finished it meanwhile
                Path part = cache.incomplete(meta.etag());
                String label = id.repoId() + "/" + file;
                try (FileChannel out = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                    long have = out.size();
                    if (have > meta.size()) {
                        out.truncate(0);
                        have = 0;
                    }
                    Progress.Bar bar = progress.start(label, meta.size(), have);
                    int triesLeft = MAX_TRIES_WITHOUT_PROGRESS;
                    while (have < meta.size()) {
                        long before = have;
                        try {
                            have = getRange(meta.location(), out, have, meta.size(), bar);
                        } catch (HttpStatusException e) {
                            throw e;
                        } catch (IOException e) {
                            have = out.size();
                            if (have > before) triesLeft = MAX_TRIES_WITHOUT_PROGRESS;
                            if (--triesLeft <= 0) {
                                throw new Finetune4jException("download of " + label + " failed at byte " + have + " of "
                                        + meta.size() + " after " + MAX_TRIES_WITHOUT_PROGRESS + " tries without progress: " + describe(e)
                                        + " (the partial file " + part + " is kept; run again to resume)", e);
                            }
                            progress.line(label + ": connection lost at " + Progress.mb(have) + " (" + describe(e)
                                    + "), resuming");
                            sleep();
                        }
                    }
                    out.force(true);
                    if (out.size() != meta.size()) {
                        throw new Finetune4jException("consistency check failed for " + label + ": expected " + meta.size()
                                + " bytes, got " + out.size() + " (" + part + " was kept; delete it and run again)");
                    }
                    bar.finish();
                }
                try {
                    Files.move(part, blob, StandardCopyOption.ATOMIC_MOVE);
                } catch (java.nio.file.AtomicMoveNotSupportedException e) {
                    Files.move(part, blob, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /**
     * One {@code GET} from {@code have} on, appended to {@code out}; returns the new size. A server
     * that ignores {@code Range} (200 instead of 206) restarts the file from byte 0.
     */
    private long getRange(URI url, FileChannel out, long have, long size, Progress.Bar bar) throws IOException {
        URI uri = url;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(uri).GET();
            if (have > 0) b.header("Range", "bytes=" + have + "-");
            if (sameOrigin(uri)) withHubHeaders(b, uri); else b.header("User-Agent", USER_AGENT);
            HttpResponse<InputStream> r = send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            int s = r.statusCode();
            if (s >= 300 && s < 400 && r.headers().firstValue("Location").isPresent() && hop < MAX_REDIRECTS) {
                r.body().close();
                uri = uri.resolve(r.headers().firstValue("Location").get());
                continue;
            }
            if (s == 416 && have == size) {
                r.body().close();
                return have;
            }
            if (s == 200 && have > 0) {          // Range ignored: start again
                out.truncate(0);
                have = 0;
                bar.reset(0);
            } else if (s == 206) {
                String cr = r.headers().firstValue("Content-Range").orElse("");
                if (!cr.startsWith("bytes " + have + "-")) {
                    r.body().close();
                    throw new HttpStatusException(uri, s, null, "Content-Range '" + cr + "' does not start at byte " + have, null);
                }
            } else if (s != 200) {
                r.body().close();
                throw statusError(r, uri);
            }
            try (InputStream in = r.body()) {
                byte[] buf = new byte[1 << 16];
                ByteBuffer bb = ByteBuffer.wrap(buf);
                for (int n; (n = in.read(buf)) > 0; ) {
                    if (have + n > size) {
                        throw new HttpStatusException(uri, s, null, "the server sent more than the " + size + " bytes announced", null);
                    }
                    bb.clear().limit(n);
                    while (bb.hasRemaining()) out.write(bb, have + bb.position());
                    have += n;
                    bar.update(n);
                }
            }
            return have;
        }
    }

    private boolean sameOrigin(URI uri) {
        URI hub = URI.create(env.endpoint());
        return Objects.equals(hub.getHost(), uri.getHost()) && hub.getPort() == uri.getPort()
                && Objects.equals(hub.getScheme(), uri.getScheme());
    }

    private HttpRequest.Builder withHubHeaders(HttpRequest.Builder b, URI uri) {
        b.header("User-Agent", USER_AGENT);
        if (env.token() != null && sameOrigin(uri)) b.header("Authorization", "Bearer " + env.token());
        return b;
    }

    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> handler) throws IOException {
        try {
            return http.send(req, handler);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while requesting " + req.uri());
        }
    }

    private static HttpStatusException statusError(HttpResponse<?> r, URI uri) {
        var h = r.headers();
        return new HttpStatusException(uri, r.statusCode(), h.firstValue("X-Error-Code").orElse(null),
                h.firstValue("X-Error-Message").orElse(null), h.firstValue("X-Repo-Commit").orElse(null));
    }

    /** {@code {endpoint}/{org}/{name}/resolve/{quote(revision, safe="")}/{quote(file)}}. */
    URI resolveUri(HubId id, String revision, String file) {
        StringBuilder sb = new StringBuilder(env.endpoint()).append('/').append(id.org()).append('/').append(id.name())
                .append("/resolve/").append(quote(revision));
        for (String part : file.split("/")) sb.append('/').append(quote(part));
        return URI.create(sb.toString());
    }

    private static String quote(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20").replace("%7E", "~");
    }

    private Finetune4jException explain(HubId id, HttpStatusException e) {
        String who = id.repoId() + " on " + env.endpoint();
        String tokenHint = env.token() == null
                ? "set HF_TOKEN (or run `huggingface-cli login`) with a token that can read it"
                : "the token from HF_TOKEN was sent; check that it is valid and has access";
        if ("RevisionNotFound".equals(e.errorCode)) {
            return new Finetune4jException("revision '" + id.revision() + "' not found in " + who
                    + " (hint: use a branch, a tag or a full 40-character commit hash)", e);
        }
        if ("RepoNotFound".equals(e.errorCode) || e.status == 404) {
            return new Finetune4jException("repository " + who + " not found (it may be private: " + tokenHint + ")", e);
        }
        if ("GatedRepo".equals(e.errorCode) || e.status == 401 || e.status == 403) {
            return new Finetune4jException("access to " + who + " denied (HTTP " + e.status + "): the repository is private or "
                    + "gated; " + tokenHint + ", and accept its licence on the model page if it is gated", e);
        }
        return new Finetune4jException("the hub answered " + e.getMessage() + " while fetching " + id
                + " (hint: retry later; with HF_HUB_OFFLINE=1 only the cache is used)", e);
    }

    /** The exception's class and the first message found along its causes ("ConnectException: Connection refused"). */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) return e.getClass().getSimpleName() + ": " + t.getMessage();
        }
        return e.getClass().getSimpleName();
    }

    private void sleep() throws InterruptedIOException {
        try {
            Thread.sleep(retryDelay);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to resume a download");
        }
    }
}
