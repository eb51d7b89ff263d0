package finetune4j.engine.hub;

import finetune4j.ConfigException;
import finetune4j.Finetune4jException;
import finetune4j.ModelFormatException;
import finetune4j.engine.io.ModelWeights;
import finetune4j.engine.io.SafetensorsWriter;
import finetune4j.engine.tensor.DType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The hub client against {@link FakeHub}: cache layout, no refetch, offline, errors, pins, auth, resume. */
class HubTest {
    static final String C1 = "1111111111111111111111111111111111111111";
    static final String C0 = "0000000000000000000000000000000000000000";

    @TempDir
    Path tmp;
    FakeHub hub;
    Path cache;
    final ByteArrayOutputStream progressOut = new ByteArrayOutputStream();

    static byte[] weights(int n, float seed) {
        float[] w = new float[n * 64];
        for (int i = 0; i < w.length; i++) w[i] = seed + i * 1e-3f;
        return SafetensorsWriter.create().metadata("format", "pt")
                .add("model.embed_tokens.weight", DType.F32, new long[]{n, 64}, w)
                .add("model.norm.weight", DType.F32, new long[]{64}, new float[64])
                .toBytes();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @BeforeEach
    void start() throws Exception {
        hub = new FakeHub();
        cache = tmp.resolve("hub-cache");
        hub.put("org/tiny", "main", C1, Map.of(
                "config.json", utf8("{\"model_type\":\"llama\",\"v\":1}"),
                "tokenizer.json", utf8("{\"version\":\"1.0\"}"),
                "model.safetensors", weights(1200, 0.5f)));       // ~300 KB
        hub.put("org/tiny", "v1", C0, Map.of(
                "config.json", utf8("{\"model_type\":\"llama\",\"v\":0}"),
                "model.safetensors", weights(4, 0.25f)));
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    private HubEnvironment env(Map<String, String> extra) {
        Map<String, String> e = new HashMap<>(Map.of("HF_HUB_CACHE", cache.toString(), "HF_ENDPOINT", hub.endpoint()));
        e.putAll(extra);
        return HubEnvironment.from(e, tmp.resolve("home"));
    }

    private Path resolve(String arg, HubEnvironment env) {
        return resolve(arg, env, false);
    }

    private Path resolve(String arg, HubEnvironment env, boolean refresh) {
        return ModelLocator.resolve(arg, env, refresh, HubClient.defaultHttp(),
                new Progress(new PrintStream(progressOut, true, StandardCharsets.UTF_8), false), Duration.ZERO);
    }

    @Test
    void downloadsIntoTheHuggingfaceHubCacheLayout() throws Exception {
        Path dir = resolve("org/tiny", env(Map.of()));
        Path storage = cache.resolve("models--org--tiny");
        assertThat(dir).isEqualTo(storage.resolve("snapshots").resolve(C1));
        assertThat(Files.readString(storage.resolve("refs/main"))).isEqualTo(C1);

        byte[] st = hub.repos.get("org/tiny").commits().get(C1).get("model.safetensors");
        Path link = dir.resolve("model.safetensors");
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(Files.readSymbolicLink(link).toString()).isEqualTo("../../blobs/" + FakeHub.sha256(st));
        assertThat(Files.readAllBytes(link)).isEqualTo(st);
        byte[] cfg = hub.repos.get("org/tiny").commits().get(C1).get("config.json");
        assertThat(Files.readSymbolicLink(dir.resolve("config.json")).toString()).isEqualTo("../../blobs/" + FakeHub.gitSha1(cfg));
        assertThat(storage.resolve(".no_exist").resolve(C1).resolve("generation_config.json")).exists();
        assertThat(storage.resolve("blobs")).isDirectoryNotContaining(p -> p.toString().endsWith(".incomplete"));

        // first request resolves "main"; every later one is pinned to the commit; the CDN gets no token
        assertThat(hub.log.get(0)).isEqualTo("HEAD /org/tiny/resolve/main/config.json");
        assertThat(hub.log.stream().filter(l -> l.startsWith("HEAD") && !l.contains("/config.json")))
                .allMatch(l -> l.contains("/resolve/" + C1 + "/"));
        assertThat(hub.log).contains("GET /cdn/" + FakeHub.sha256(st));

        try (ModelWeights w = ModelWeights.open(dir)) {
            assertThat(w.weight("model.embed_tokens.weight").rows()).isEqualTo(1200);
        }
        assertThat(progressOut.toString(StandardCharsets.UTF_8)).contains("org/tiny/model.safetensors: ");
    }

    @Test
    void secondResolveDoesNotHitTheServer() {
        Path first = resolve("org/tiny", env(Map.of()));
        int n = hub.requests();
        assertThat(n).isGreaterThan(0);
        assertThat(resolve("org/tiny", env(Map.of()))).isEqualTo(first);
        assertThat(resolve("org/tiny@main", env(Map.of()))).isEqualTo(first);
        assertThat(resolve("org/tiny@" + C1, env(Map.of()))).isEqualTo(first);
        assertThat(hub.requests()).isEqualTo(n);
    }

    @Test
    void refreshFollowsAMovedBranchAndReusesBlobs() {
        Path first = resolve("org/tiny", env(Map.of()));
        String c2 = "2222222222222222222222222222222222222222";
        Map<String, byte[]> files = new HashMap<>(hub.repos.get("org/tiny").commits().get(C1));
        files.put("config.json", utf8("{\"model_type\":\"llama\",\"v\":2}"));
        hub.put("org/tiny", "main", c2, files);
        assertThat(resolve("org/tiny", env(Map.of()))).isEqualTo(first);      // cached ref, no request
        int n = hub.requests();
        Path second = resolve("org/tiny", env(Map.of()), true);
        assertThat(second.getFileName().toString()).isEqualTo(c2);
        assertThat(hub.log.subList(n, hub.log.size())).noneMatch(l -> l.startsWith("GET /cdn/"));  // same weights blob
        assertThat(hub.log.subList(n, hub.log.size())).contains("GET /org/tiny/resolve/" + c2 + "/config.json");
    }

    @Test
    void revisionPinsByTagAndCommit() throws Exception {
        Path tag = resolve("org/tiny@v1", env(Map.of()));
        assertThat(tag.getFileName().toString()).isEqualTo(C0);
        assertThat(Files.readString(tag.resolve("config.json"))).contains("\"v\":0");
        assertThat(Files.readString(cache.resolve("models--org--tiny/refs/v1"))).isEqualTo(C0);
        int n = hub.requests();
        assertThat(resolve("org/tiny@" + C0, env(Map.of()))).isEqualTo(tag);
        assertThat(hub.requests()).isEqualTo(n);
        assertThatThrownBy(() -> resolve("org/tiny@nope", env(Map.of())))
                .isInstanceOf(Finetune4jException.class).hasMessageContaining("revision 'nope' not found");
    }

    @Test
    void offlineUsesTheCacheOnly() throws Exception {
        assertThatThrownBy(() -> resolve("org/tiny", env(Map.of("HF_HUB_OFFLINE", "1"))))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll("org/tiny@main", "offline", "ref 'main'", cache.toString());
        assertThat(hub.requests()).isZero();

        Path dir = resolve("org/tiny", env(Map.of()));
        int n = hub.requests();
        assertThat(resolve("org/tiny", env(Map.of("HF_HUB_OFFLINE", "true")))).isEqualTo(dir);
        Files.delete(dir.resolve("model.safetensors"));
        assertThatThrownBy(() -> resolve("org/tiny", env(Map.of("HF_HUB_OFFLINE", "YES"))))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll(dir.toString(), "offline", "model.safetensors");
        assertThat(hub.requests()).isEqualTo(n);
    }

    @Test
    void missingRequiredFilesAndReposAreClearErrors() {
        hub.put("org/noconfig", "main", C1, Map.of("model.safetensors", weights(2, 0)));
        assertThatThrownBy(() -> resolve("org/noconfig", env(Map.of())))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll("org/noconfig@main/config.json", "not found", "404", "no local directory 'org/noconfig'");

        hub.put("org/noweights", "main", C1, Map.of("config.json", utf8("{}"), "pytorch_model.bin", new byte[8]));
        assertThatThrownBy(() -> resolve("org/noweights", env(Map.of())))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll("model.safetensors", "model.safetensors.index.json", "safetensors weights only");

        assertThatThrownBy(() -> resolve("org/absent", env(Map.of())))
                .isInstanceOf(Finetune4jException.class)
                .hasMessageContainingAll("org/absent", "not found", "HF_TOKEN");

        byte[] shard = weights(2, 1);
        hub.put("org/sharded-broken", "main", C1, Map.of("config.json", utf8("{}"),
                "model.safetensors.index.json", utf8("{\"weight_map\":{\"model.norm.weight\":\"model-00001-of-00002.safetensors\","
                        + "\"model.embed_tokens.weight\":\"model-00002-of-00002.safetensors\"}}"),
                "model-00001-of-00002.safetensors", shard));
        assertThatThrownBy(() -> resolve("org/sharded-broken", env(Map.of())))
                .isInstanceOf(ModelFormatException.class)
                .hasMessageContainingAll("model-00002-of-00002.safetensors", "not found");
    }

    @Test
    void shardedModelsFetchEveryShard() throws Exception {
        SafetensorsWriter w = SafetensorsWriter.create().metadata("format", "pt")
                .add("a.weight", new long[]{100, 8}, new float[800])
                .add("b.weight", new long[]{100, 8}, new float[800])
                .add("c.weight", new long[]{4}, new float[]{1, 2, 3, 4});
        Path src = tmp.resolve("src");
        w.writeSharded(src, 4000);
        Map<String, byte[]> files = new HashMap<>(Map.of("config.json", utf8("{}")));
        try (var l = Files.list(src)) {
            for (Path p : l.toList()) files.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        assertThat(files).containsKeys("model.safetensors.index.json", "model-00002-of-00002.safetensors");
        hub.put("org/sharded", "main", C1, files);
        Path dir = resolve("org/sharded", env(Map.of()));
        try (ModelWeights mw = ModelWeights.open(dir)) {
            assertThat(mw.names()).containsExactly("a.weight", "b.weight", "c.weight");
            assertThat(mw.floats("c.weight")).containsExactly(1, 2, 3, 4);
        }
        int n = hub.requests();
        resolve("org/sharded", env(Map.of()));
        assertThat(hub.requests()).isEqualTo(n);
    }

    @Test
    void tokenIsSentToTheHubButNotToTheCdn() throws Exception {
        hub.requiredToken = "hf_secret";
        assertThatThrownBy(() -> resolve("org/tiny", env(Map.of())))
                .isInstanceOf(Finetune4jException.class)
                .hasMessageContainingAll("org/tiny", "denied", "HF_TOKEN");

        Path tokenFile = tmp.resolve("home/.cache/huggingface/token");
        Files.createDirectories(tokenFile.getParent());
        Files.writeString(tokenFile, "hf_wrong\n");
        assertThatThrownBy(() -> resolve("org/tiny", env(Map.of())))
                .hasMessageContaining("token from HF_TOKEN was sent");

        Path dir = resolve("org/tiny", env(Map.of("HF_TOKEN", "hf_secret")));
        assertThat(dir.resolve("model.safetensors")).exists();
        assertThat(hub.log.stream().filter(l -> l.contains("/resolve/"))).last().asString().endsWith(" auth");
        assertThat(hub.log.stream().filter(l -> l.startsWith("GET /cdn/"))).isNotEmpty().noneMatch(l -> l.endsWith(" auth"));
    }

    @Test
    void droppedConnectionIsResumedWithRange() throws Exception {
        byte[] st = hub.repos.get("org/tiny").commits().get(C1).get("model.safetensors");
        String sha = FakeHub.sha256(st);
        hub.dropOnce.add(sha);
        Path dir = resolve("org/tiny", env(Map.of()));
        assertThat(Files.readAllBytes(dir.resolve("model.safetensors"))).isEqualTo(st);
        List<String> cdn = hub.log.stream().filter(l -> l.startsWith("GET /cdn/")).toList();
        assertThat(cdn).hasSize(2);
        assertThat(cdn.get(0)).doesNotContain("Range");
        assertThat(cdn.get(1)).matches("GET /cdn/" + sha + " Range:bytes=\\d+-");
        long resumedAt = Long.parseLong(cdn.get(1).replaceAll(".*bytes=(\\d+)-", "$1"));
        assertThat(resumedAt).isPositive().isLessThan(st.length);
        assertThat(progressOut.toString(StandardCharsets.UTF_8)).contains("connection lost", "resuming");
    }

    @Test
    void incompleteBlobFromAnEarlierRunIsResumed() throws Exception {
        byte[] st = hub.repos.get("org/tiny").commits().get(C1).get("model.safetensors");
        String sha = FakeHub.sha256(st);
        Path part = cache.resolve("models--org--tiny/blobs/" + sha + ".incomplete");
        Files.createDirectories(part.getParent());
        Files.write(part, java.util.Arrays.copyOf(st, 1000));
        Path dir = resolve("org/tiny", env(Map.of()));
        assertThat(Files.readAllBytes(dir.resolve("model.safetensors"))).isEqualTo(st);
        assertThat(hub.log).contains("GET /cdn/" + sha + " Range:bytes=1000-");
        assertThat(part).doesNotExist();
    }

    @Test
    void unreachableHubIsAClearError() {
        HubEnvironment dead = HubEnvironment.from(Map.of("HF_HUB_CACHE", cache.toString(),
                "HF_ENDPOINT", "http://127.0.0.1:1"), tmp);
        assertThatThrownBy(() -> resolve("org/tiny", dead))
                .isInstanceOf(Finetune4jException.class)
                .hasMessageContainingAll("cannot fetch org/tiny@main from http://127.0.0.1:1", "HF_HUB_OFFLINE");
    }

    @Test
    void localDirectoriesAndBadArguments() throws Exception {
        Path local = Files.createDirectories(tmp.resolve("org/tiny"));
        assertThat(resolve(local.toString(), env(Map.of()))).isEqualTo(local);
        Path file = Files.writeString(tmp.resolve("config.json"), "{}");
        assertThatThrownBy(() -> resolve(file.toString(), env(Map.of())))
                .isInstanceOf(ConfigException.class).hasMessageContainingAll("--model", "is a file");
        assertThatThrownBy(() -> resolve("no/such/dir", env(Map.of())))
                .isInstanceOf(ConfigException.class).hasMessageContainingAll("'no/such/dir'", "org/name[@revision]");
        assertThatThrownBy(() -> resolve("gpt2", env(Map.of())))
                .isInstanceOf(ConfigException.class).hasMessageContaining("org/name[@revision]");
        assertThat(hub.requests()).isZero();
    }

    @Test
    void environmentFollowsHuggingfaceHubConstants() throws Exception {
        Path home = tmp.resolve("home");
        HubEnvironment d = HubEnvironment.from(Map.of(), home);
        assertThat(d.cacheDir()).isEqualTo(home.resolve(".cache/huggingface/hub"));
        assertThat(d.endpoint()).isEqualTo("https://huggingface.co");
        assertThat(d.token()).isNull();
        assertThat(d.offline()).isFalse();
        assertThat(HubEnvironment.from(Map.of("XDG_CACHE_HOME", "/x"), home).cacheDir()).isEqualTo(Path.of("/x/huggingface/hub"));
        assertThat(HubEnvironment.from(Map.of("HF_HOME", "~/hf"), home).cacheDir()).isEqualTo(home.resolve("hf/hub"));
        assertThat(HubEnvironment.from(Map.of("HF_HOME", "/h", "HUGGINGFACE_HUB_CACHE", "/old"), home).cacheDir())
                .isEqualTo(Path.of("/old"));
        assertThat(HubEnvironment.from(Map.of("HF_HUB_CACHE", "/new", "HUGGINGFACE_HUB_CACHE", "/old"), home).cacheDir())
                .isEqualTo(Path.of("/new"));
        assertThat(HubEnvironment.from(Map.of("HF_ENDPOINT", "http://mirror:8080/"), home).endpoint()).isEqualTo("http://mirror:8080");
        assertThat(HubEnvironment.from(Map.of("HF_HUB_OFFLINE", "on"), home).offline()).isTrue();
        assertThat(HubEnvironment.from(Map.of("HF_HUB_OFFLINE", "0"), home).offline()).isFalse();
        assertThat(HubEnvironment.from(Map.of("TRANSFORMERS_OFFLINE", "1"), home).offline()).isTrue();
        assertThat(HubEnvironment.from(Map.of("HF_TOKEN", " hf_x "), home).token()).isEqualTo("hf_x");
        Path tf = tmp.resolve("tok");
        Files.writeString(tf, "hf_file\n");
        assertThat(HubEnvironment.from(Map.of("HF_TOKEN_PATH", tf.toString()), home).token()).isEqualTo("hf_file");
        assertThatThrownBy(() -> HubEnvironment.from(Map.of("HF_ENDPOINT", "huggingface.co"), home))
                .isInstanceOf(ConfigException.class).hasMessageContaining("HF_ENDPOINT");
    }

    @Test
    void hubIdsAndUrls() {
        assertThat(HubId.parse("TinyLlama/TinyLlama-1.1B-Chat-v1.0"))
                .isEqualTo(new HubId("TinyLlama", "TinyLlama-1.1B-Chat-v1.0", "main"));
        assertThat(HubId.parse("org/m@refs/pr/1")).isEqualTo(new HubId("org", "m", "refs/pr/1"));
        for (String bad : new String[]{"gpt2", "a/b/c", "a--b/c", "a/b..c", "/abs", "org/name@", "org/name@../x", "-a/b", "a/b@x y"}) {
            assertThat(HubId.parse(bad)).as(bad).isNull();
        }
        HubClient c = new HubClient(env(Map.of()), HubClient.defaultHttp(), Progress.none(), Duration.ZERO);
        assertThat(c.resolveUri(new HubId("org", "m", "refs/pr/1"), "refs/pr/1", "sub dir/a+b.json").toString())
                .isEqualTo(hub.endpoint() + "/org/m/resolve/refs%2Fpr%2F1/sub%20dir/a%2Bb.json");
        assertThat(HubClient.normalizeEtag("W/\"abc\"")).isEqualTo("abc");
        assertThat(HubClient.normalizeEtag("\"abc\"")).isEqualTo("abc");
    }

    @Test
    void progressIsABarOnATerminalAndLinesOtherwise() {
        ByteArrayOutputStream term = new ByteArrayOutputStream();
        Progress.Bar b = new Progress(new PrintStream(term, true, StandardCharsets.UTF_8), true).start("org/m/model.safetensors", 20_000_000, 0);
        b.update(10_000_000);
        b.update(10_000_000);
        b.finish();
        String t = term.toString(StandardCharsets.UTF_8);
        assertThat(t).contains("\r").contains("100%").contains("20.0 MB / 20.0 MB").contains("MB/s");

        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        Progress.Bar p = new Progress(new PrintStream(plain, true, StandardCharsets.UTF_8), false).start("org/m/model.safetensors", 20_000_000, 5_000_000);
        p.update(15_000_000);
        p.finish();
        assertThat(plain.toString(StandardCharsets.UTF_8)).doesNotContain("\r")
                .contains("org/m/model.safetensors: downloading 20.0 MB (resuming at 5.0 MB)")
                .containsPattern("org/m/model.safetensors: 20.0 MB in [0-9.]+ s \\([0-9.]+ MB/s\\)");
    }
}
