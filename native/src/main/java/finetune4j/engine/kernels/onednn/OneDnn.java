package finetune4j.engine.kernels.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The part of the oneDNN 3.x C API ({@code dnnl.h}) that the native kernels use, bound through FFM
 * downcalls: one CPU engine and one in-order stream for the process, memory descriptors, memory
 * objects, matmul and reorder primitives.
 *
 * <p>Every handle is a {@link MemorySegment} holding the C pointer. Creation calls return their
 * handle or throw {@link IllegalStateException} with the status name (a failing call here means
 * an unsupported shape or type combination, or a bug, never bad user input: the kernel door
 * validates shapes before). {@link #tryMatmul} returns null instead, for the caller to fall back.
 *
 * <p>Constants below are the enum values of {@code dnnl_types.h} / {@code dnnl_common_types.h}
 * of oneDNN 3.11 (checked against the headers in the artifact).
 */
final class OneDnn {
    // dnnl_data_type_t
    static final int F16 = 1, BF16 = 2, F32 = 3;
    // dnnl_format_tag_t: any (the primitive chooses a blocked layout), ab (row-major), ba (column-major)
    static final int TAG_ANY = 1, TAG_AB = 3, TAG_BA = 14;
    // execution argument indices (DNNL_ARG_*)
    static final int ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33, ARG_FROM = 1, ARG_TO = 17;
    // dnnl_query_t
    static final int QUERY_IMPL_INFO_STR = 8, QUERY_WEIGHTS_MD = 131;
    // dnnl_cpu_isa_t: each value includes the bits of the ISAs it extends
    static final int ISA_AVX512_CORE_BF16 = 0xe7, ISA_AVX512_CORE_AMX = 0xfef;
    // dnnl_fpmath_mode_t
    static final int FPMATH_STRICT = 0, FPMATH_BF16 = 1;

    private static final String[] STATUS = {"success", "out_of_memory", "invalid_arguments", "unimplemented",
            "last_impl_reached", "runtime_error", "not_required", "invalid_graph", "invalid_graph_op",
            "invalid_shape", "invalid_data_type"};

    private final MethodHandle version, effectiveIsa, engineCreate, streamCreate, streamWait;
    private final MethodHandle mdCreateWithTag, mdDestroy, mdGetSize, mdEqual, mdClone;
    private final MethodHandle attrCreate, attrDestroy, attrSetPostOps, attrSetFpmath;
    private final MethodHandle postOpsCreate, postOpsDestroy, postOpsAppendSum;
    private final MethodHandle matmulPdCreate, reorderPdCreate, pdQuery, pdQueryMd, pdDestroy;
    private final MethodHandle primitiveCreate, primitiveDestroy, primitiveExecute;
    private final MethodHandle memoryCreate, memorySetDataHandle, memoryDestroy;

    final MemorySegment engine, stream;

    OneDnn(SymbolLookup lib) {
        version = bind(lib, "dnnl_version", FunctionDescriptor.of(ADDRESS));
        effectiveIsa = bind(lib, "dnnl_get_effective_cpu_isa", FunctionDescriptor.of(JAVA_INT));
        engineCreate = bind(lib, "dnnl_engine_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
        streamCreate = bind(lib, "dnnl_stream_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        streamWait = bind(lib, "dnnl_stream_wait", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        mdCreateWithTag = bind(lib, "dnnl_memory_desc_create_with_tag",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        mdDestroy = bind(lib, "dnnl_memory_desc_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        mdGetSize = bind(lib, "dnnl_memory_desc_get_size", FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        mdEqual = bind(lib, "dnnl_memory_desc_equal", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        mdClone = bind(lib, "dnnl_memory_desc_clone", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        attrCreate = bind(lib, "dnnl_primitive_attr_create", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        attrDestroy = bind(lib, "dnnl_primitive_attr_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        attrSetPostOps = bind(lib, "dnnl_primitive_attr_set_post_ops", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        attrSetFpmath = bind(lib, "dnnl_primitive_attr_set_fpmath_mode", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        postOpsCreate = bind(lib, "dnnl_post_ops_create", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        postOpsDestroy = bind(lib, "dnnl_post_ops_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        postOpsAppendSum = bind(lib, "dnnl_post_ops_append_sum",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_FLOAT, JAVA_INT, JAVA_INT));
        matmulPdCreate = bind(lib, "dnnl_matmul_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        reorderPdCreate = bind(lib, "dnnl_reorder_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        pdQuery = bind(lib, "dnnl_primitive_desc_query", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
        pdQueryMd = bind(lib, "dnnl_primitive_desc_query_md", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        pdDestroy = bind(lib, "dnnl_primitive_desc_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        primitiveCreate = bind(lib, "dnnl_primitive_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        primitiveDestroy = bind(lib, "dnnl_primitive_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        primitiveExecute = bind(lib, "dnnl_primitive_execute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS));
        memoryCreate = bind(lib, "dnnl_memory_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        memorySetDataHandle = bind(lib, "dnnl_memory_set_data_handle", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        memoryDestroy = bind(lib, "dnnl_memory_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));

        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check((int) engineCreate.invokeExact(out, 1 /* dnnl_cpu */, 0L), "dnnl_engine_create");
            engine = out.get(ADDRESS, 0);
            check((int) streamCreate.invokeExact(out, engine, 1 /* dnnl_stream_in_order */), "dnnl_stream_create");
            stream = out.get(ADDRESS, 0);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static MethodHandle bind(SymbolLookup lib, String name, FunctionDescriptor fd) {
        MemorySegment sym = lib.find(name).orElseThrow(() -> new IllegalStateException("oneDNN lacks the symbol " + name));
        return Linker.nativeLinker().downcallHandle(sym, fd);
    }

    static void check(int status, String what) {
        if (status != 0) throw new IllegalStateException("oneDNN " + what + " failed: " + statusName(status));
    }

    static String statusName(int status) {
        return status >= 0 && status < STATUS.length ? STATUS[status] + " (" + status + ")" : "status " + status;
    }

    private static IllegalStateException wrap(Throwable t) {
        if (t instanceof RuntimeException re) throw re;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    // ------------------------------------------------------------------ library information

    /** "3.11.0" and the CPU runtime as the library reports them. */
    String version() {
        try {
            MemorySegment v = ((MemorySegment) version.invokeExact()).reinterpret(32);
            return v.get(JAVA_INT, 0) + "." + v.get(JAVA_INT, 4) + "." + v.get(JAVA_INT, 8);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** The instruction set oneDNN dispatches to on this CPU ({@code dnnl_get_effective_cpu_isa}). */
    int effectiveIsa() {
        try {
            return (int) effectiveIsa.invokeExact();
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** A readable name of {@link #effectiveIsa()}'s value. */
    static String isaName(int isa) {
        return switch (isa) {
            case 0x1 -> "sse41";
            case 0x3 -> "avx";
            case 0x7 -> "avx2";
            case 0xf -> "avx2_vnni";
            case 0x1f -> "avx2_vnni_2";
            case 0x27 -> "avx512_core";
            case 0x67 -> "avx512_core_vnni";
            case 0xe7 -> "avx512_core_bf16";
            case 0x1ef -> "avx10_1_512 (avx512_core_fp16, no AMX)";
            case 0xfef -> "avx10_1_512_amx (AMX-BF16)";
            case 0x1fef -> "avx10_1_512_amx_fp16 (AMX-BF16/FP16)";
            case 0x201ff -> "avx10_2_512";
            case 0x22fff -> "avx10_2_512_amx_2";
            default -> String.format("0x%x", isa);
        };
    }

    /** True when {@code isa} includes every bit of {@code required} (oneDNN's ISAs are supersets by bits). */
    static boolean includes(int isa, int required) {
        return (isa & required) == required;
    }

    // ------------------------------------------------------------------ memory descriptors and memory

    /** A plain or "any" 2-D descriptor {@code (rows, cols)}; destroy with {@link #destroyMd}. */
    MemorySegment md(long rows, long cols, int dataType, int tag) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            MemorySegment dims = a.allocate(JAVA_LONG, 2);
            dims.setAtIndex(JAVA_LONG, 0, rows);
            dims.setAtIndex(JAVA_LONG, 1, cols);
            check((int) mdCreateWithTag.invokeExact(out, 2, dims, dataType, tag), "dnnl_memory_desc_create_with_tag");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** An owned copy of a descriptor a primitive descriptor returned (those die with it). */
    MemorySegment cloneMd(MemorySegment md) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check((int) mdClone.invokeExact(out, md), "dnnl_memory_desc_clone");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    void destroyMd(MemorySegment md) {
        try {
            check((int) mdDestroy.invokeExact(md), "dnnl_memory_desc_destroy");
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Bytes a buffer of layout {@code md} takes. */
    long size(MemorySegment md) {
        try {
            return (long) mdGetSize.invokeExact(md);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    boolean equal(MemorySegment a, MemorySegment b) {
        try {
            return (int) mdEqual.invokeExact(a, b) != 0;
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** A memory object of layout {@code md} over {@code data} (the caller keeps {@code data} alive), or over NULL to be set later. */
    MemorySegment memory(MemorySegment md, MemorySegment data) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check((int) memoryCreate.invokeExact(out, md, engine, data), "dnnl_memory_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Points {@code memory} at {@code data} (hot path: no allocation). */
    void setData(MemorySegment memory, MemorySegment data) {
        try {
            check((int) memorySetDataHandle.invokeExact(memory, data), "dnnl_memory_set_data_handle");
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    void destroyMemory(MemorySegment memory) {
        try {
            check((int) memoryDestroy.invokeExact(memory), "dnnl_memory_destroy");
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    // ------------------------------------------------------------------ primitives

    /**
     * A matmul primitive descriptor {@code dst = src · weights (+ dst when sumPostOp)}, or null
     * when oneDNN has no implementation for it. {@code fpmath}: {@link #FPMATH_STRICT} or
     * {@link #FPMATH_BF16} (f32 inputs may be rounded to bf16 inside).
     */
    MemorySegment tryMatmul(MemorySegment src, MemorySegment weights, MemorySegment dst, boolean sumPostOp, int fpmath) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check((int) attrCreate.invokeExact(out), "dnnl_primitive_attr_create");
            MemorySegment attr = out.get(ADDRESS, 0);
            try {
                if (sumPostOp) {
                    check((int) postOpsCreate.invokeExact(out), "dnnl_post_ops_create");
                    MemorySegment po = out.get(ADDRESS, 0);
                    try {
                        check((int) postOpsAppendSum.invokeExact(po, 1f, 0, 0 /* data_type_undef: as dst */),
                                "dnnl_post_ops_append_sum");
                        check((int) attrSetPostOps.invokeExact(attr, po), "dnnl_primitive_attr_set_post_ops");
                    } finally {
                        check((int) postOpsDestroy.invokeExact(po), "dnnl_post_ops_destroy");
                    }
                }
                if (fpmath != FPMATH_STRICT) check((int) attrSetFpmath.invokeExact(attr, fpmath), "dnnl_primitive_attr_set_fpmath_mode");
                int st = (int) matmulPdCreate.invokeExact(out, engine, src, weights, MemorySegment.NULL, dst, attr);
                if (st == 3 /* unimplemented */) return null;
                check(st, "dnnl_matmul_primitive_desc_create");
                return out.get(ADDRESS, 0);
            } finally {
                check((int) attrDestroy.invokeExact(attr), "dnnl_primitive_attr_destroy");
            }
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** A reorder primitive descriptor from layout {@code from} to {@code to} (conversions of type included), or null when unsupported. */
    MemorySegment tryReorder(MemorySegment from, MemorySegment to) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            int st = (int) reorderPdCreate.invokeExact(out, from, engine, to, engine, MemorySegment.NULL);
            if (st == 3) return null;
            check(st, "dnnl_reorder_primitive_desc_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** The weights layout a matmul primitive descriptor chose (valid while {@code pd} lives). */
    MemorySegment weightsMd(MemorySegment pd) {
        try {
            return (MemorySegment) pdQueryMd.invokeExact(pd, QUERY_WEIGHTS_MD, 0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** The implementation name oneDNN picked, e.g. "brg_matmul:avx512_core_amx". */
    String implementation(MemorySegment pd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check((int) pdQuery.invokeExact(pd, QUERY_IMPL_INFO_STR, 0, out), "dnnl_primitive_desc_query");
            return out.get(ADDRESS, 0).reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    void destroyPd(MemorySegment pd) {
        try {
            check((int) pdDestroy.invokeExact(pd), "dnnl_primitive_desc_destroy");
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    MemorySegment primitive(MemorySegment pd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check((int) primitiveCreate.invokeExact(out, pd), "dnnl_primitive_create");
            return out.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    void destroyPrimitive(MemorySegment p) {
        try {
            check((int) primitiveDestroy.invokeExact(p), "dnnl_primitive_destroy");
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /**
     * Runs {@code primitive} with {@code nargs} (index, memory) pairs from {@code args} (the C
     * array {@code dnnl_exec_arg_t[]}: an int and a pointer, 16 bytes each) and waits for it.
     */
    void execute(MemorySegment primitive, int nargs, MemorySegment args) {
        try {
            check((int) primitiveExecute.invokeExact(primitive, stream, nargs, args), "dnnl_primitive_execute");
            check((int) streamWait.invokeExact(stream), "dnnl_stream_wait");
        } catch (Throwable t) {
            throw wrap(t);
        }
    }

    /** Writes the C array {@code dnnl_exec_arg_t[]} of (index, memory) pairs into {@code args}. */
    static MemorySegment execArgs(Arena arena, int[] index, MemorySegment[] memory) {
        MemorySegment args = arena.allocate(16L * index.length, 8);
        for (int i = 0; i < index.length; i++) {
            args.set(JAVA_INT, 16L * i, index[i]);
            args.set(ADDRESS, 16L * i + 8, memory[i]);
        }
        return args;
    }
}
