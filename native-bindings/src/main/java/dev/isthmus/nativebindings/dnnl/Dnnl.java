package dev.isthmus.nativebindings.dnnl;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings for the parts of oneDNN's C API ({@code oneapi/dnnl/dnnl.h}, {@code dnnl_common.h},
 * {@code dnnl_types.h}, version 3.x) that Isthmus calls, in the spirit of jextract: constants for the
 * enums and {@code #define}s, layouts for the structs, and one typed static method per function.
 *
 * <p>Opaque handles ({@code dnnl_engine_t}, {@code dnnl_stream_t}, {@code dnnl_memory_desc_t},
 * {@code dnnl_memory_t}, {@code dnnl_primitive_attr_t}, {@code dnnl_primitive_desc_t},
 * {@code dnnl_primitive_t}) are {@link MemorySegment} addresses. Functions that create a handle
 * through an out-parameter return it. Every status other than {@code dnnl_success} becomes a
 * {@link DnnlException} naming the call and the status.
 *
 * <p>Check {@link DnnlLibrary#availability()} before calling; when oneDNN is unavailable every method
 * throws {@link IllegalStateException} with the reason.
 */
public final class Dnnl {
    private Dnnl() {}

    // ---- dnnl_data_type_t ----
    /** {@code dnnl_data_type_undef}. */
    public static final int dnnl_data_type_undef = 0;
    /** {@code dnnl_f16}: 16-bit IEEE half. */
    public static final int dnnl_f16 = 1;
    /** {@code dnnl_bf16}: bfloat16. */
    public static final int dnnl_bf16 = 2;
    /** {@code dnnl_f32}. */
    public static final int dnnl_f32 = 3;
    /** {@code dnnl_s32}. */
    public static final int dnnl_s32 = 4;
    /** {@code dnnl_s8}. */
    public static final int dnnl_s8 = 5;
    /** {@code dnnl_u8}. */
    public static final int dnnl_u8 = 6;

    // ---- dnnl_format_tag_t (plain and permuted plain formats) ----
    /** {@code dnnl_format_tag_undef}. */
    public static final int dnnl_format_tag_undef = 0;
    /** {@code dnnl_format_tag_any}: let the primitive choose. */
    public static final int dnnl_format_tag_any = 1;
    /** {@code dnnl_a}: plain 1D. */
    public static final int dnnl_a = 2;
    /** {@code dnnl_ab}: plain 2D, row-major. */
    public static final int dnnl_ab = 3;
    /** {@code dnnl_abc}: plain 3D. */
    public static final int dnnl_abc = 4;
    /** {@code dnnl_abcd}: plain 4D. */
    public static final int dnnl_abcd = 5;
    /** {@code dnnl_ba}: 2D, column-major (the transpose of {@code ab}). */
    public static final int dnnl_ba = 14;
    /** {@code dnnl_acb}: 3D, last two dimensions swapped. */
    public static final int dnnl_acb = 15;
    /** {@code dnnl_bac}: 3D, first two dimensions swapped. */
    public static final int dnnl_bac = 16;
    /** {@code dnnl_abdc}: 4D, last two dimensions swapped. */
    public static final int dnnl_abdc = 20;

    // ---- dnnl_engine_kind_t ----
    /** {@code dnnl_any_engine}. */
    public static final int dnnl_any_engine = 0;
    /** {@code dnnl_cpu}. */
    public static final int dnnl_cpu = 1;
    /** {@code dnnl_gpu}. */
    public static final int dnnl_gpu = 2;

    // ---- dnnl_stream_flags_t ----
    /** {@code dnnl_stream_in_order}. */
    public static final int dnnl_stream_in_order = 0x1;
    /** {@code dnnl_stream_out_of_order}. */
    public static final int dnnl_stream_out_of_order = 0x2;
    /** {@code dnnl_stream_default_flags} (= in order). */
    public static final int dnnl_stream_default_flags = dnnl_stream_in_order;

    // ---- dnnl_fpmath_mode_t ----
    /** {@code dnnl_fpmath_mode_strict}: no implicit down-conversions (default). */
    public static final int dnnl_fpmath_mode_strict = 0;
    /** {@code dnnl_fpmath_mode_bf16}: implicit f32→bf16 allowed. */
    public static final int dnnl_fpmath_mode_bf16 = 1;
    /** {@code dnnl_fpmath_mode_f16}: implicit f32→f16 allowed. */
    public static final int dnnl_fpmath_mode_f16 = 2;
    /** {@code dnnl_fpmath_mode_any}: implicit f32→f16/tf32/bf16 allowed. */
    public static final int dnnl_fpmath_mode_any = 3;
    /** {@code dnnl_fpmath_mode_tf32}: implicit f32→tf32 allowed. */
    public static final int dnnl_fpmath_mode_tf32 = 4;

    // ---- DNNL_ARG_* ----
    /** {@code DNNL_ARG_SRC}. */
    public static final int DNNL_ARG_SRC = 1;
    /** {@code DNNL_ARG_DST}. */
    public static final int DNNL_ARG_DST = 17;
    /** {@code DNNL_ARG_WEIGHTS}. */
    public static final int DNNL_ARG_WEIGHTS = 33;
    /** {@code DNNL_ARG_BIAS}. */
    public static final int DNNL_ARG_BIAS = 41;
    /** {@code DNNL_ARG_SCRATCHPAD}. */
    public static final int DNNL_ARG_SCRATCHPAD = 80;

    // ---- DNNL_RUNTIME_* ----
    /** {@code DNNL_RUNTIME_NONE}. */
    public static final int DNNL_RUNTIME_NONE = 0;
    /** {@code DNNL_RUNTIME_SEQ}. */
    public static final int DNNL_RUNTIME_SEQ = 1;
    /** {@code DNNL_RUNTIME_OMP}. */
    public static final int DNNL_RUNTIME_OMP = 2;
    /** {@code DNNL_RUNTIME_TBB}. */
    public static final int DNNL_RUNTIME_TBB = 4;
    /** {@code DNNL_RUNTIME_THREADPOOL}. */
    public static final int DNNL_RUNTIME_THREADPOOL = 8;
    /** {@code DNNL_RUNTIME_OCL}. */
    public static final int DNNL_RUNTIME_OCL = 256;
    /** {@code DNNL_RUNTIME_SYCL}. */
    public static final int DNNL_RUNTIME_SYCL = 512;

    /** {@code DNNL_MAX_NDIMS}. */
    public static final int DNNL_MAX_NDIMS = 12;

    // ---- dnnl_cpu_isa_t ----
    /** {@code dnnl_cpu_isa_default}. */
    public static final int dnnl_cpu_isa_default = 0x0;
    /** {@code dnnl_cpu_isa_sse41}. */
    public static final int dnnl_cpu_isa_sse41 = 0x1;
    /** {@code dnnl_cpu_isa_avx}. */
    public static final int dnnl_cpu_isa_avx = 0x3;
    /** {@code dnnl_cpu_isa_avx2}. */
    public static final int dnnl_cpu_isa_avx2 = 0x7;
    /** {@code dnnl_cpu_isa_avx2_vnni}. */
    public static final int dnnl_cpu_isa_avx2_vnni = 0xf;
    /** {@code dnnl_cpu_isa_avx2_vnni_2}. */
    public static final int dnnl_cpu_isa_avx2_vnni_2 = 0x1f;
    /** {@code dnnl_cpu_isa_avx512_core}. */
    public static final int dnnl_cpu_isa_avx512_core = 0x27;
    /** {@code dnnl_cpu_isa_avx512_core_vnni}. */
    public static final int dnnl_cpu_isa_avx512_core_vnni = 0x67;
    /** {@code dnnl_cpu_isa_avx512_core_bf16}. */
    public static final int dnnl_cpu_isa_avx512_core_bf16 = 0xe7;
    /** {@code dnnl_cpu_isa_avx10_1_512} (= {@code avx512_core_fp16}). */
    public static final int dnnl_cpu_isa_avx10_1_512 = 0x1ef;
    /** {@code dnnl_cpu_isa_avx10_1_512_amx} (= {@code avx512_core_amx}). */
    public static final int dnnl_cpu_isa_avx10_1_512_amx = 0xfef;
    /** {@code dnnl_cpu_isa_avx10_1_512_amx_fp16} (= {@code avx512_core_amx_fp16}). */
    public static final int dnnl_cpu_isa_avx10_1_512_amx_fp16 = 0x1fef;
    /** {@code dnnl_cpu_isa_avx10_2}. */
    public static final int dnnl_cpu_isa_avx10_2 = 0x201ff;
    /** {@code dnnl_cpu_isa_avx10_2_amx_2}. */
    public static final int dnnl_cpu_isa_avx10_2_amx_2 = 0x22fff;

    // ---- struct layouts ----
    /** {@code dnnl_version_t}: {@code int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime;}. */
    public static final StructLayout DNNL_VERSION_T = MemoryLayout.structLayout(
            JAVA_INT.withName("major"), JAVA_INT.withName("minor"), JAVA_INT.withName("patch"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("hash"),
            JAVA_INT.withName("cpu_runtime"), JAVA_INT.withName("gpu_runtime")).withName("dnnl_version_t");

    /** {@code dnnl_exec_arg_t}: {@code int arg; dnnl_memory_t memory;}. */
    public static final StructLayout DNNL_EXEC_ARG_T = MemoryLayout.structLayout(
            JAVA_INT.withName("arg"), MemoryLayout.paddingLayout(4), ADDRESS.withName("memory"))
            .withName("dnnl_exec_arg_t");

    private static final VarHandle EXEC_ARG_ARG = DNNL_EXEC_ARG_T.varHandle(MemoryLayout.PathElement.groupElement("arg"));
    private static final VarHandle EXEC_ARG_MEMORY = DNNL_EXEC_ARG_T.varHandle(MemoryLayout.PathElement.groupElement("memory"));

    /** Writes element {@code index} of a {@code dnnl_exec_arg_t} array. */
    public static void setExecArg(MemorySegment args, long index, int arg, MemorySegment memory) {
        EXEC_ARG_ARG.set(args, index * DNNL_EXEC_ARG_T.byteSize(), arg);
        EXEC_ARG_MEMORY.set(args, index * DNNL_EXEC_ARG_T.byteSize(), memory);
    }

    // ---- downcall handles, created when first needed (and only when the library is available) ----
    private static final class H {
        static final dev.isthmus.nativebindings.NativeLibrary L = DnnlLibrary.require();
        static final AddressLayout P = ADDRESS;
        static final MethodHandle version = L.downcall("dnnl_version", FunctionDescriptor.of(P));
        static final MethodHandle get_effective_cpu_isa = L.downcall("dnnl_get_effective_cpu_isa", FunctionDescriptor.of(JAVA_INT));
        static final MethodHandle engine_create = L.downcall("dnnl_engine_create", FunctionDescriptor.of(JAVA_INT, P, JAVA_INT, JAVA_LONG));
        static final MethodHandle engine_destroy = L.downcall("dnnl_engine_destroy", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle stream_create = L.downcall("dnnl_stream_create", FunctionDescriptor.of(JAVA_INT, P, P, JAVA_INT));
        static final MethodHandle stream_wait = L.downcall("dnnl_stream_wait", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle stream_destroy = L.downcall("dnnl_stream_destroy", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle memory_desc_create_with_tag = L.downcall("dnnl_memory_desc_create_with_tag",
                FunctionDescriptor.of(JAVA_INT, P, JAVA_INT, P, JAVA_INT, JAVA_INT));
        static final MethodHandle memory_desc_create_with_strides = L.downcall("dnnl_memory_desc_create_with_strides",
                FunctionDescriptor.of(JAVA_INT, P, JAVA_INT, P, JAVA_INT, P));
        static final MethodHandle memory_desc_destroy = L.downcall("dnnl_memory_desc_destroy", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle memory_create = L.downcall("dnnl_memory_create", FunctionDescriptor.of(JAVA_INT, P, P, P, P));
        static final MethodHandle memory_destroy = L.downcall("dnnl_memory_destroy", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle memory_set_data_handle = L.downcall("dnnl_memory_set_data_handle",
                FunctionDescriptor.of(JAVA_INT, P, P), Linker.Option.critical(false));
        static final MethodHandle primitive_attr_create = L.downcall("dnnl_primitive_attr_create", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle primitive_attr_destroy = L.downcall("dnnl_primitive_attr_destroy", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle primitive_attr_set_fpmath_mode = L.downcall("dnnl_primitive_attr_set_fpmath_mode",
                FunctionDescriptor.of(JAVA_INT, P, JAVA_INT));
        static final MethodHandle matmul_primitive_desc_create = L.downcall("dnnl_matmul_primitive_desc_create",
                FunctionDescriptor.of(JAVA_INT, P, P, P, P, P, P, P));
        static final MethodHandle primitive_desc_destroy = L.downcall("dnnl_primitive_desc_destroy", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle primitive_create = L.downcall("dnnl_primitive_create", FunctionDescriptor.of(JAVA_INT, P, P));
        static final MethodHandle primitive_destroy = L.downcall("dnnl_primitive_destroy", FunctionDescriptor.of(JAVA_INT, P));
        static final MethodHandle primitive_execute = L.downcall("dnnl_primitive_execute",
                FunctionDescriptor.of(JAVA_INT, P, P, JAVA_INT, P));
    }

    private static void check(String call, int status) {
        if (status != 0) {
            throw new DnnlException(call, status);
        }
    }

    /** Fails with the reason, before the handle class initializes, when oneDNN is unavailable. */
    private static void ensure() {
        DnnlLibrary.require();
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    private static MemorySegment out(Arena arena) {
        return arena.allocate(ADDRESS);
    }

    // ---- service ----

    /** {@code dnnl_version()}: the loaded library's version. */
    public static DnnlVersion version() {
        ensure();
        try {
            MemorySegment v = ((MemorySegment) H.version.invokeExact()).reinterpret(DNNL_VERSION_T.byteSize());
            MemorySegment hashPtr = v.get(ADDRESS, 16);
            String hash = hashPtr.equals(MemorySegment.NULL) ? "N/A" : hashPtr.reinterpret(256).getString(0);
            return new DnnlVersion(v.get(JAVA_INT, 0), v.get(JAVA_INT, 4), v.get(JAVA_INT, 8), hash,
                    v.get(JAVA_INT, 24), v.get(JAVA_INT, 28));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_get_effective_cpu_isa()}: a {@code dnnl_cpu_isa_*} value. */
    public static int getEffectiveCpuIsa() {
        ensure();
        try {
            return (int) H.get_effective_cpu_isa.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The name of the effective CPU ISA, e.g. {@code AVX2}, {@code AVX512_CORE}, {@code AVX512_CORE_AMX}. */
    public static String effectiveCpuIsaName() {
        return cpuIsaName(getEffectiveCpuIsa());
    }

    /** The name of a {@code dnnl_cpu_isa_t} value (upper case, as oneDNN's verbose output prints it). */
    public static String cpuIsaName(int isa) {
        return switch (isa) {
            case dnnl_cpu_isa_default -> "DEFAULT";
            case dnnl_cpu_isa_sse41 -> "SSE41";
            case dnnl_cpu_isa_avx -> "AVX";
            case dnnl_cpu_isa_avx2 -> "AVX2";
            case dnnl_cpu_isa_avx2_vnni -> "AVX2_VNNI";
            case dnnl_cpu_isa_avx2_vnni_2 -> "AVX2_VNNI_2";
            case dnnl_cpu_isa_avx512_core -> "AVX512_CORE";
            case dnnl_cpu_isa_avx512_core_vnni -> "AVX512_CORE_VNNI";
            case dnnl_cpu_isa_avx512_core_bf16 -> "AVX512_CORE_BF16";
            case dnnl_cpu_isa_avx10_1_512 -> "AVX512_CORE_FP16";
            case dnnl_cpu_isa_avx10_1_512_amx -> "AVX512_CORE_AMX";
            case dnnl_cpu_isa_avx10_1_512_amx_fp16 -> "AVX512_CORE_AMX_FP16";
            case dnnl_cpu_isa_avx10_2 -> "AVX10_2";
            case dnnl_cpu_isa_avx10_2_amx_2 -> "AVX10_2_AMX_2";
            default -> "ISA_0x" + Integer.toHexString(isa);
        };
    }

    /** The name of a {@code DNNL_RUNTIME_*} value. */
    public static String runtimeName(int runtime) {
        return switch (runtime) {
            case DNNL_RUNTIME_NONE -> "NONE";
            case DNNL_RUNTIME_SEQ -> "SEQ";
            case DNNL_RUNTIME_OMP -> "OMP";
            case DNNL_RUNTIME_TBB -> "TBB";
            case DNNL_RUNTIME_THREADPOOL -> "THREADPOOL";
            case DNNL_RUNTIME_OCL -> "OCL";
            case DNNL_RUNTIME_SYCL -> "SYCL";
            default -> "RUNTIME_" + runtime;
        };
    }

    // ---- engine and stream ----

    /** {@code dnnl_engine_create(&engine, kind, index)}. */
    public static MemorySegment engineCreate(int kind, long index) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = out(arena);
            check("dnnl_engine_create", (int) H.engine_create.invokeExact(p, kind, index));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_engine_destroy(engine)}. */
    public static void engineDestroy(MemorySegment engine) {
        ensure();
        try {
            check("dnnl_engine_destroy", (int) H.engine_destroy.invokeExact(engine));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final class DefaultEngine {
        static final MemorySegment CPU = engineCreate(dnnl_cpu, 0);
    }

    /** A process-wide CPU engine (index 0), created on first use and never destroyed. */
    public static MemorySegment cpuEngine() {
        ensure();
        return DefaultEngine.CPU;
    }

    /** {@code dnnl_stream_create(&stream, engine, flags)}. */
    public static MemorySegment streamCreate(MemorySegment engine, int flags) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = out(arena);
            check("dnnl_stream_create", (int) H.stream_create.invokeExact(p, engine, flags));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_stream_wait(stream)}: waits for all work queued on the stream. */
    public static void streamWait(MemorySegment stream) {
        ensure();
        try {
            check("dnnl_stream_wait", (int) H.stream_wait.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_stream_destroy(stream)}. */
    public static void streamDestroy(MemorySegment stream) {
        ensure();
        try {
            check("dnnl_stream_destroy", (int) H.stream_destroy.invokeExact(stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- memory descriptors and memory ----

    private static MemorySegment dims(Arena arena, long[] dims) {
        if (dims.length == 0 || dims.length > DNNL_MAX_NDIMS) {
            throw new IllegalArgumentException("ndims must be 1.." + DNNL_MAX_NDIMS + ": " + dims.length);
        }
        return arena.allocateFrom(JAVA_LONG, dims);
    }

    /** {@code dnnl_memory_desc_create_with_tag(&md, ndims, dims, data_type, tag)}. */
    public static MemorySegment memoryDescCreateWithTag(long[] dims, int dataType, int tag) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = out(arena);
            check("dnnl_memory_desc_create_with_tag", (int) H.memory_desc_create_with_tag.invokeExact(
                    p, dims.length, dims(arena, dims), dataType, tag));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_memory_desc_create_with_strides(&md, ndims, dims, data_type, strides)}; strides in elements. */
    public static MemorySegment memoryDescCreateWithStrides(long[] dims, int dataType, long[] strides) {
        if (strides.length != dims.length) {
            throw new IllegalArgumentException("dims and strides differ in length");
        }
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = out(arena);
            check("dnnl_memory_desc_create_with_strides", (int) H.memory_desc_create_with_strides.invokeExact(
                    p, dims.length, dims(arena, dims), dataType, dims(arena, strides)));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_memory_desc_destroy(md)}. */
    public static void memoryDescDestroy(MemorySegment memoryDesc) {
        ensure();
        try {
            check("dnnl_memory_desc_destroy", (int) H.memory_desc_destroy.invokeExact(memoryDesc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code dnnl_memory_create(&memory, md, engine, handle)}. Pass {@link MemorySegment#NULL}
     * ({@code DNNL_MEMORY_NONE}) to create a memory object without a buffer and set one later with
     * {@link #memorySetDataHandle}.
     */
    public static MemorySegment memoryCreate(MemorySegment memoryDesc, MemorySegment engine, MemorySegment handle) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = out(arena);
            check("dnnl_memory_create", (int) H.memory_create.invokeExact(p, memoryDesc, engine, handle));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_memory_set_data_handle(memory, handle)}: points a memory object at a buffer, no copy. */
    public static void memorySetDataHandle(MemorySegment memory, MemorySegment handle) {
        ensure();
        try {
            check("dnnl_memory_set_data_handle", (int) H.memory_set_data_handle.invokeExact(memory, handle));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_memory_destroy(memory)}; does not free a user-provided buffer. */
    public static void memoryDestroy(MemorySegment memory) {
        ensure();
        try {
            check("dnnl_memory_destroy", (int) H.memory_destroy.invokeExact(memory));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- attributes ----

    /** {@code dnnl_primitive_attr_create(&attr)}. */
    public static MemorySegment primitiveAttrCreate() {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = out(arena);
            check("dnnl_primitive_attr_create", (int) H.primitive_attr_create.invokeExact(p));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_primitive_attr_set_fpmath_mode(attr, mode)}; mode is a {@code dnnl_fpmath_mode_*}. */
    public static void primitiveAttrSetFpmathMode(MemorySegment attr, int mode) {
        ensure();
        try {
            check("dnnl_primitive_attr_set_fpmath_mode", (int) H.primitive_attr_set_fpmath_mode.invokeExact(attr, mode));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_primitive_attr_destroy(attr)}. */
    public static void primitiveAttrDestroy(MemorySegment attr) {
        ensure();
        try {
            check("dnnl_primitive_attr_destroy", (int) H.primitive_attr_destroy.invokeExact(attr));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- primitives ----

    /**
     * {@code dnnl_matmul_primitive_desc_create(&pd, engine, src_desc, weights_desc, bias_desc, dst_desc, attr)}.
     * {@code biasDesc} and {@code attr} may be {@link MemorySegment#NULL}.
     */
    public static MemorySegment matmulPrimitiveDescCreate(MemorySegment engine, MemorySegment srcDesc,
                                                          MemorySegment weightsDesc, MemorySegment biasDesc,
                                                          MemorySegment dstDesc, MemorySegment attr) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = out(arena);
            check("dnnl_matmul_primitive_desc_create", (int) H.matmul_primitive_desc_create.invokeExact(
                    p, engine, srcDesc, weightsDesc, biasDesc, dstDesc, attr));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_primitive_desc_destroy(pd)}. */
    public static void primitiveDescDestroy(MemorySegment primitiveDesc) {
        ensure();
        try {
            check("dnnl_primitive_desc_destroy", (int) H.primitive_desc_destroy.invokeExact(primitiveDesc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_primitive_create(&primitive, pd)}. */
    public static MemorySegment primitiveCreate(MemorySegment primitiveDesc) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = out(arena);
            check("dnnl_primitive_create", (int) H.primitive_create.invokeExact(p, primitiveDesc));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code dnnl_primitive_execute(primitive, stream, nargs, args)}; {@code args} is an array of
     * {@link #DNNL_EXEC_ARG_T} (see {@link #setExecArg}). Execution may be asynchronous: wait on the
     * stream before reading results.
     */
    public static void primitiveExecute(MemorySegment primitive, MemorySegment stream, int nargs, MemorySegment args) {
        ensure();
        try {
            check("dnnl_primitive_execute", (int) H.primitive_execute.invokeExact(primitive, stream, nargs, args));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dnnl_primitive_destroy(primitive)}. */
    public static void primitiveDestroy(MemorySegment primitive) {
        ensure();
        try {
            check("dnnl_primitive_destroy", (int) H.primitive_destroy.invokeExact(primitive));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

}
