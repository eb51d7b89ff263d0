package finetune4j.peft;

import finetune4j.ConfigException;
import finetune4j.engine.tensor.NamedParam;
import finetune4j.engine.tensor.LinearWeight;
import finetune4j.model.LinearSlot;
import finetune4j.model.LlamaModel;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A LoRA / rsLoRA / DoRA adapter attached to a {@link LlamaModel}: PEFT's
 * {@code get_peft_model(model, LoraConfig(...))} for the linear layers. {@link #attach} wraps
 * every targeted slot in a {@link LoraLinear} (or adds a branch to one already there, for
 * several adapters at inference), initialises the weights from the seed and returns the handle
 * holding them:
 *
 * {@snippet :
 * LoraAdapter lora = LoraAdapter.attach(model, LoraSpec.of(8, 16, LoraConfig.Targets.names("q_proj", "v_proj")), 42);
 * System.out.println(lora.summary());        // trainable params: 1,792 || all params: 28,576 || trainable%: 6.2710
 * List<NamedParam> params = lora.trainableParameters();   // what the optimizer sees
 * lora.setTraining(true);                    // save activations for backward, apply dropout
 * }
 *
 * <p>Initialisation ({@link LoraSpec.InitWeights}): each module draws from its own SplitMix64
 * stream keyed by {@code (seed, module name)} ({@link SplitMix}); A first (row-major), then B.
 * The values are not torch's (which draws from its global Mersenne Twister), only their
 * distribution is: Kaiming-uniform {@code U(−1/√K, 1/√K)}, or {@code N(0, (1/r)²)} for "gaussian".
 * DoRA's magnitude starts at {@code ‖W + s·B·A‖} per row (PEFT {@code DoraLinearLayer.update_layer}).
 *
 * <p>Parameter names are the PEFT adapter-file keys without the {@code base_model.model.} prefix
 * ({@link LoraWeights}). Training mode and the dropout counter are set here
 * ({@link #setTraining}, {@link #setDropoutKey}); inference is the default.
 *
 * <p>Loading a saved adapter: attach with the spec its config describes, then copy each file
 * tensor {@code base_model.model.<name>} into the {@link NamedParam} of the same {@code name}
 * (shapes are fixed by the spec, so a file of another rank or base model shows up as a shape or
 * key mismatch). DoRA's magnitude is overwritten by the file's, as PEFT's loading does.
 */
public final class LoraAdapter {
    private final LlamaModel model;
    private final LoraSpec spec;
    private final long seed;
    private final float weight;
    private final List<LoraWeights> modules;
    private final List<LoraLinear.Branch> branches;
    private final List<NamedParam> trainable;
    private final List<String> warnings;
    private boolean attached = true;

    private LoraAdapter(LlamaModel model, LoraSpec spec, long seed, float weight, List<LoraWeights> modules,
                        List<LoraLinear.Branch> branches, List<String> warnings) {
        this.model = model;
        this.spec = spec;
        this.seed = seed;
        this.weight = weight;
        this.modules = List.copyOf(modules);
        this.branches = List.copyOf(branches);
        List<NamedParam> t = new ArrayList<>();
        for (LoraWeights w : modules) {
            t.add(w.a());
            t.add(w.b());
            if (w.isDora()) t.add(w.magnitude());
        }
        this.trainable = Collections.unmodifiableList(t);
        this.warnings = List.copyOf(warnings);
    }

    /**
     * {@link #attach(LlamaModel, LoraSpec, long)} for an {@code adapter_config.json} record
     * ({@link LoraSpec#from(LoraConfig)}).
     */
    public static LoraAdapter attach(LlamaModel model, LoraConfig config, long seed) {
        return attach(model, LoraSpec.from(config), seed);
    }

    /** {@link #attach(LlamaModel, LoraSpec, long, float)} with multiplier 1 (training, or a single adapter). */
    public static LoraAdapter attach(LlamaModel model, LoraSpec spec, long seed) {
        return attach(model, spec, seed, 1f);
    }

    /**
     * Wraps the targeted linear layers of {@code model} and initialises the adapter.
     *
     * @param seed   keys the initial values and the dropout masks
     * @param weight multiplier of this adapter's contribution ({@code --adapter DIR:0.5}); see {@link WeightedLora}
     * @throws ConfigException when a target matches no module (the message lists the modules
     *                         that exist), or DoRA is asked for on a layer whose weight is not accessible
     */
    public static LoraAdapter attach(LlamaModel model, LoraSpec spec, long seed, float weight) {
        return attach(model, spec, seed, weight, true);
    }

    /**
     * Attaches an adapter read from a PEFT directory ({@code --adapter DIR[:weight]},
     * {@code --init-adapter DIR}): its tensors are first checked against the model
     * ({@link PeftAdapter#validate}: missing and unexpected keys, shapes), then the layers are built
     * from its config ({@link LoraSpec#from(LoraConfig)}) and every tensor is copied into the
     * parameter of the same name (as FP32; DoRA's magnitude included).
     *
     * @param seed   keys the dropout masks if it is trained further
     * @param weight multiplier of this adapter's contribution (1 to train it further)
     * @throws finetune4j.ModelFormatException when the tensors do not fit the model
     * @throws ConfigException                 when the config asks for something the layers do not implement
     */
    public static LoraAdapter attach(LlamaModel model, PeftAdapter adapter, long seed, float weight) {
        Map<String, long[]> linear = new LinkedHashMap<>();
        for (LinearSlot s : model.linearSlots()) linear.put(s.name(), new long[]{s.outFeatures(), s.inFeatures()});
        adapter.validate(linear);
        LoraAdapter a = attach(model, LoraSpec.from(adapter.config()), seed, weight, false);
        for (NamedParam p : a.trainable) {
            PeftAdapter.Tensor t = adapter.tensors().get(PeftAdapter.KEY_PREFIX + p.name());
            if (t == null || t.data().length != p.numel()) {   // validate() makes this unreachable
                a.detach();
                throw new IllegalStateException(p.name() + ": no tensor of " + p.numel() + " values in " + adapter.source());
            }
            System.arraycopy(t.data(), 0, p.data(), 0, p.numel());
        }
        return a;
    }

    private static LoraAdapter attach(LlamaModel model, LoraSpec spec, long seed, float weight, boolean strict) {
        List<LinearSlot> slots = model.linearSlots();
        List<String> names = new ArrayList<>();
        for (LinearSlot s : slots) names.add(s.name());
        String head = slots.getLast().name();
        List<String> targeted = TargetSelector.select(names, spec, head, strict);
        if (spec.useDora()) {
            for (LinearSlot s : slots) {
                LinearWeight w = s instanceof LoraLinear l ? l.baseWeight() : LoraLinear.denseWeight(s);
                if (targeted.contains(s.name()) && w == null) {
                    LinearSlot base = s instanceof LoraLinear l ? l.base() : s;
                    throw new ConfigException("use_dora", true, "linear layers with an accessible weight (dense or 4-bit); "
                            + s.name() + " is a " + base.getClass().getSimpleName());
                }
            }
        }
        List<String> warnings = new ArrayList<>();
        for (String k : spec.unusedPatternKeys(targeted)) warnings.add(k + " matches no targeted module and is ignored");
        if (model.config().tieWordEmbeddings() && targeted.contains(head)) {
            warnings.add("lm_head is tied to model.embed_tokens; the adapter on lm_head does not change the input embedding");
        }

        List<LoraWeights> modules = new ArrayList<>();
        List<LoraLinear.Branch> branches = new ArrayList<>();
        for (LinearSlot s : slots) {
            if (!targeted.contains(s.name())) continue;
            String name = s.name();
            int r = spec.rankFor(name);
            LoraWeights w = LoraWeights.zeros(name, r, s.inFeatures(), s.outFeatures(), spec.scalingFor(name),
                    spec.dropout(), spec.useDora());
            initialise(w, spec.init(), seed);
            LoraLinear slot;
            if (s instanceof LoraLinear l) {
                slot = l;
            } else {
                slot = new LoraLinear(s, model.kernels());
                LoraLinear created = slot;
                model.replaceLinear(name, current -> created);
            }
            if (w.isDora()) {
                float[] norms = LoraMath.rowNorms(slot.baseWeight(), w, model.kernels());
                System.arraycopy(norms, 0, w.magnitude().data(), 0, norms.length);
            }
            branches.add(slot.addBranch(w, weight, seed));
            modules.add(w);
        }
        return new LoraAdapter(model, spec, seed, weight, modules, branches, warnings);
    }

    /** Fills A and B as {@code init} says, from the module's own stream (see the class comment). */
    static void initialise(LoraWeights w, LoraSpec.InitWeights init, long seed) {
        SplitMix rng = SplitMix.forModule(seed, w.module());
        float[] a = w.aData(), b = w.bData();
        switch (init) {
            case KAIMING_UNIFORM, NONE -> {
                double bound = 1 / Math.sqrt(w.in());          // kaiming_uniform_(a=√5): gain·√(3/fan_in)
                for (int i = 0; i < a.length; i++) a[i] = rng.uniform(bound);
            }
            case GAUSSIAN -> {
                for (int i = 0; i < a.length; i++) a[i] = (float) (rng.gaussian() / w.r());
            }
        }
        if (init == LoraSpec.InitWeights.NONE) {
            double bound = 1 / Math.sqrt(w.r());
            for (int i = 0; i < b.length; i++) b[i] = rng.uniform(bound);
        } else {
            java.util.Arrays.fill(b, 0f);
        }
    }

    // ------------------------------------------------------------------ accessors

    public LoraSpec spec() {
        return spec;
    }

    public long seed() {
        return seed;
    }

    /** The multiplier this adapter was attached with. */
    public float weight() {
        return weight;
    }

    /** Per targeted module, in model order. */
    public List<LoraWeights> modules() {
        return modules;
    }

    /** The targeted module names, in model order. */
    public List<String> targetedModules() {
        List<String> out = new ArrayList<>();
        for (LoraWeights w : modules) out.add(w.module());
        return out;
    }

    /** A, B (and DoRA's magnitude) of every module, in model order: what the optimizer updates. */
    public List<NamedParam> trainableParameters() {
        return trainable;
    }

    /** Non-fatal findings of {@link #attach} (unused pattern keys, an adapter on a tied head), for logging. */
    public List<String> warnings() {
        return warnings;
    }

    public long trainableCount() {
        long n = 0;
        for (NamedParam p : trainable) n += p.numel();
        return n;
    }

    /**
     * All parameters of the model with its adapters, a tied embedding counted once, as PEFT's
     * {@code get_nb_trainable_parameters} counts them.
     */
    public long allParameterCount() {
        long n = model.parameterCount();
        List<LinearSlot> slots = model.linearSlots();
        // LlamaModel skips a tied lm_head entirely (its weight is the embedding); its adapters are extra
        if (model.config().tieWordEmbeddings() && slots.getLast() instanceof LoraLinear head) n += head.adapterParameterCount();
        return n;
    }

    /** {@code 100 · trainable / all}. */
    public double trainablePercent() {
        return 100.0 * trainableCount() / allParameterCount();
    }

    /** PEFT's {@code print_trainable_parameters()} line. */
    public String summary() {
        return String.format(Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f",
                trainableCount(), allParameterCount(), trainablePercent());
    }

    // ------------------------------------------------------------------ modes

    /**
     * Training mode: forward passes apply dropout and keep what {@link LinearSlot#backward} needs
     * (one thread at a time). Inference mode (the default): no dropout, nothing kept, any threads.
     */
    public void setTraining(boolean on) {
        for (LoraLinear.Branch b : branches) b.training = on;
    }

    public boolean training() {
        return !branches.isEmpty() && branches.getFirst().training;
    }

    /**
     * The dropout counter for the next forward passes: set a new value for every forward pass over
     * new data (e.g. {@code step · gradAccum + microBatch}) and keep it for a recomputed forward
     * (gradient checkpointing) and the backward, which must see the same masks.
     */
    public void setDropoutKey(long key) {
        for (LoraLinear.Branch b : branches) b.dropoutKey = key;
    }

    // ------------------------------------------------------------------ merge / detach

    /**
     * The merged FP32 weight {@code W'} (N, K) of one targeted module with this adapter alone
     * ({@link LoraMath#merged(LinearWeight, LoraWeights)}), for export.
     *
     * @throws IllegalArgumentException for a module this adapter does not target
     */
    public float[] mergedWeight(String module) {
        for (LoraLinear.Branch b : branches) {
            if (b.w.module().equals(module)) {
                LinearWeight w = b.slot().baseWeight();
                if (w == null) throw new IllegalStateException(module + ": the base layer does not expose its weight");
                return LoraMath.merged(w, b.w);
            }
        }
        throw new IllegalArgumentException("adapter does not target '" + module + "'; it targets " + targetedModules());
    }

    /**
     * Removes this adapter from the model: its branches leave their slots, and a slot left with no
     * adapter is replaced by its base layer again. The handle is unusable afterwards.
     */
    public void detach() {
        if (!attached) return;
        for (LoraLinear.Branch b : branches) {
            LoraLinear slot = b.slot();
            if (slot.removeBranch(b) == 0) model.replaceLinear(slot.name(), current -> slot.base());
        }
        attached = false;
    }
}
