package dev.isthmus.nativebindings.cuda;

import dev.isthmus.nativebindings.NativeLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings for the parts of the CUDA runtime API ({@code cuda_runtime_api.h}, {@code driver_types.h};
 * CUDA 12 and 13) that Isthmus calls, in the spirit of jextract: enum values as constants and one
 * typed static method per function.
 *
 * <p>Device pointers, streams ({@code cudaStream_t}) and events ({@code cudaEvent_t}) are
 * {@link MemorySegment} addresses; device pointers have length 0 and must not be dereferenced from
 * Java. Functions that return a value through an out-parameter return it. Every {@code cudaError_t}
 * other than {@code cudaSuccess} becomes a {@link CudaException} naming the call, the error's name
 * and its description.
 *
 * <p>Check {@link CudaDevices#probe()} before calling; when libcudart cannot be loaded every method
 * throws {@link IllegalStateException} with the reason.
 */
public final class CudaRuntime {
    private CudaRuntime() {}

    // ---- cudaError_t (the few Isthmus looks at by value) ----
    /** {@code cudaSuccess}. */
    public static final int cudaSuccess = 0;
    /** {@code cudaErrorInvalidValue}. */
    public static final int cudaErrorInvalidValue = 1;
    /** {@code cudaErrorMemoryAllocation}. */
    public static final int cudaErrorMemoryAllocation = 2;
    /** {@code cudaErrorInitializationError}. */
    public static final int cudaErrorInitializationError = 3;
    /** {@code cudaErrorInsufficientDriver}. */
    public static final int cudaErrorInsufficientDriver = 35;
    /** {@code cudaErrorNoDevice}. */
    public static final int cudaErrorNoDevice = 100;
    /** {@code cudaErrorNotReady}: the work an event or stream waits for has not completed yet (not a failure). */
    public static final int cudaErrorNotReady = 600;

    // ---- cudaMemcpyKind ----
    /** {@code cudaMemcpyHostToHost}. */
    public static final int cudaMemcpyHostToHost = 0;
    /** {@code cudaMemcpyHostToDevice}. */
    public static final int cudaMemcpyHostToDevice = 1;
    /** {@code cudaMemcpyDeviceToHost}. */
    public static final int cudaMemcpyDeviceToHost = 2;
    /** {@code cudaMemcpyDeviceToDevice}. */
    public static final int cudaMemcpyDeviceToDevice = 3;
    /** {@code cudaMemcpyDefault}: direction inferred from the pointers (unified addressing). */
    public static final int cudaMemcpyDefault = 4;

    // ---- cudaDeviceAttr ----
    /** {@code cudaDevAttrClockRate}: peak SM clock in kHz. */
    public static final int cudaDevAttrClockRate = 13;
    /** {@code cudaDevAttrMultiProcessorCount}. */
    public static final int cudaDevAttrMultiProcessorCount = 16;
    /** {@code cudaDevAttrMemoryClockRate}: peak memory clock in kHz (still present in CUDA 13's runtime API). */
    public static final int cudaDevAttrMemoryClockRate = 36;
    /** {@code cudaDevAttrGlobalMemoryBusWidth}: in bits. */
    public static final int cudaDevAttrGlobalMemoryBusWidth = 37;
    /** {@code cudaDevAttrL2CacheSize}: in bytes. */
    public static final int cudaDevAttrL2CacheSize = 38;
    /** {@code cudaDevAttrComputeCapabilityMajor}. */
    public static final int cudaDevAttrComputeCapabilityMajor = 75;
    /** {@code cudaDevAttrComputeCapabilityMinor}. */
    public static final int cudaDevAttrComputeCapabilityMinor = 76;

    /**
     * Bytes allocated for {@code struct cudaDeviceProp} by {@link #deviceName}: far more than any CUDA
     * version's struct (about 1 KB in CUDA 12 and 13), so the call can never write past it.
     */
    public static final long DEVICE_PROP_BUFFER_BYTES = 16 * 1024;

    private static final class H {
        static final NativeLibrary L = CudaRuntimeLibrary.require();
        static final MethodHandle runtimeGetVersion = L.downcall("cudaRuntimeGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle driverGetVersion = L.downcall("cudaDriverGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle getDeviceCount = L.downcall("cudaGetDeviceCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle deviceGetAttribute = L.downcall("cudaDeviceGetAttribute",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        static final MethodHandle getDeviceProperties = L.downcall("cudaGetDeviceProperties",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle setDevice = L.downcall("cudaSetDevice", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        static final MethodHandle memGetInfo = L.downcall("cudaMemGetInfo", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle malloc = L.downcall("cudaMalloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        static final MethodHandle free = L.downcall("cudaFree", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle mallocHost = L.downcall("cudaMallocHost", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
        static final MethodHandle freeHost = L.downcall("cudaFreeHost", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle memcpy = L.downcall("cudaMemcpy",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT));
        static final MethodHandle memcpyAsync = L.downcall("cudaMemcpyAsync",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS));
        static final MethodHandle memcpyAsyncAt = L.downcall("cudaMemcpyAsync",
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS));
        static final MethodHandle eventQuery = L.downcall("cudaEventQuery", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle streamCreate = L.downcall("cudaStreamCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle streamSynchronize = L.downcall("cudaStreamSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle streamDestroy = L.downcall("cudaStreamDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle eventCreate = L.downcall("cudaEventCreate", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle eventRecord = L.downcall("cudaEventRecord", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle eventSynchronize = L.downcall("cudaEventSynchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle eventElapsedTime = L.downcall("cudaEventElapsedTime",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        static final MethodHandle eventDestroy = L.downcall("cudaEventDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle deviceSynchronize = L.downcall("cudaDeviceSynchronize", FunctionDescriptor.of(JAVA_INT));
        static final MethodHandle getLastError = L.downcall("cudaGetLastError", FunctionDescriptor.of(JAVA_INT));
        static final MethodHandle getErrorName = L.downcall("cudaGetErrorName", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        static final MethodHandle getErrorString = L.downcall("cudaGetErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        static final MethodHandle streamBeginCapture = L.downcall("cudaStreamBeginCapture",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle streamEndCapture = L.downcall("cudaStreamEndCapture",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle graphInstantiate = L.downcall("cudaGraphInstantiate",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));
        static final MethodHandle graphLaunch = L.downcall("cudaGraphLaunch", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle graphDestroy = L.downcall("cudaGraphDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        static final MethodHandle graphExecDestroy = L.downcall("cudaGraphExecDestroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    }

    private static void ensure() {
        CudaRuntimeLibrary.require();
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    private static void check(String call, int error) {
        if (error != cudaSuccess) {
            throw new CudaException(call, error, cudaGetErrorName(error), cudaGetErrorString(error));
        }
    }

    private static String cString(MemorySegment p) {
        return p.equals(MemorySegment.NULL) ? null : p.reinterpret(4096).getString(0);
    }

    // ---- errors ----

    /** {@code cudaGetErrorName(error)}, e.g. {@code cudaErrorNoDevice}. */
    public static String cudaGetErrorName(int error) {
        ensure();
        try {
            String s = cString((MemorySegment) H.getErrorName.invokeExact(error));
            return s == null ? "cudaError(" + error + ")" : s;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaGetErrorString(error)}: the error's description. */
    public static String cudaGetErrorString(int error) {
        ensure();
        try {
            String s = cString((MemorySegment) H.getErrorString.invokeExact(error));
            return s == null ? "unknown error " + error : s;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaGetLastError()}: returns and clears the last error (a value, not thrown). */
    public static int cudaGetLastError() {
        ensure();
        try {
            return (int) H.getLastError.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- versions and devices ----

    private static int intOut(String call, MethodHandle mh) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(JAVA_INT);
            check(call, (int) mh.invokeExact(p));
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaRuntimeGetVersion}: e.g. 13000 for CUDA 13.0. */
    public static int cudaRuntimeGetVersion() {
        ensure();
        return intOut("cudaRuntimeGetVersion", H.runtimeGetVersion);
    }

    /** {@code cudaDriverGetVersion}: the newest CUDA version the driver supports, 0 when no driver is installed. */
    public static int cudaDriverGetVersion() {
        ensure();
        return intOut("cudaDriverGetVersion", H.driverGetVersion);
    }

    /** {@code cudaGetDeviceCount}. */
    public static int cudaGetDeviceCount() {
        ensure();
        return intOut("cudaGetDeviceCount", H.getDeviceCount);
    }

    /** {@code cudaDeviceGetAttribute(&value, attr, device)}; attr is a {@code cudaDevAttr*} constant. */
    public static int cudaDeviceGetAttribute(int attr, int device) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(JAVA_INT);
            check("cudaDeviceGetAttribute", (int) H.deviceGetAttribute.invokeExact(p, attr, device));
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * The device's name, read from {@code cudaGetDeviceProperties}. {@code char name[256]} is the first
     * member of {@code struct cudaDeviceProp} in every CUDA version, so only that offset is relied on;
     * the rest of the struct (whose layout changes between versions) is ignored, and the call writes
     * into a {@link #DEVICE_PROP_BUFFER_BYTES} buffer, larger than any version's struct. This avoids a
     * dependency on the driver API's {@code libcuda.so.1}.
     */
    public static String deviceName(int device) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment props = arena.allocate(DEVICE_PROP_BUFFER_BYTES, 16);
            check("cudaGetDeviceProperties", (int) H.getDeviceProperties.invokeExact(props, device));
            props.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 255, (byte) 0);
            return props.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaSetDevice(device)}: makes the device current for the calling thread. */
    public static void cudaSetDevice(int device) {
        ensure();
        try {
            check("cudaSetDevice", (int) H.setDevice.invokeExact(device));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code cudaMemGetInfo(&free, &total)} for the current device.
     *
     * @return {@code {free, total}} in bytes
     */
    public static long[] cudaMemGetInfo() {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            check("cudaMemGetInfo", (int) H.memGetInfo.invokeExact(free, total));
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaDeviceSynchronize()}. */
    public static void cudaDeviceSynchronize() {
        ensure();
        try {
            check("cudaDeviceSynchronize", (int) H.deviceSynchronize.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- memory ----

    private static MemorySegment ptrOut(String call, MethodHandle mh, long size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ADDRESS);
            check(call, (int) mh.invokeExact(p, size));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaMalloc(&ptr, size)}: device memory, as a zero-length address segment. */
    public static MemorySegment cudaMalloc(long size) {
        ensure();
        return ptrOut("cudaMalloc", H.malloc, size);
    }

    /** {@code cudaFree(ptr)}. */
    public static void cudaFree(MemorySegment devicePtr) {
        ensure();
        try {
            check("cudaFree", (int) H.free.invokeExact(devicePtr));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaMallocHost(&ptr, size)}: page-locked host memory, as a segment of {@code size} bytes. */
    public static MemorySegment cudaMallocHost(long size) {
        ensure();
        return ptrOut("cudaMallocHost", H.mallocHost, size).reinterpret(size);
    }

    /** {@code cudaFreeHost(ptr)}. */
    public static void cudaFreeHost(MemorySegment hostPtr) {
        ensure();
        try {
            check("cudaFreeHost", (int) H.freeHost.invokeExact(hostPtr));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaMemcpy(dst, src, count, kind)}; kind is a {@code cudaMemcpy*} constant; host segments must be native. */
    public static void cudaMemcpy(MemorySegment dst, MemorySegment src, long count, int kind) {
        ensure();
        try {
            check("cudaMemcpy", (int) H.memcpy.invokeExact(dst, src, count, kind));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaMemcpyAsync(dst, src, count, kind, stream)}; use pinned host memory for real asynchrony. */
    public static void cudaMemcpyAsync(MemorySegment dst, MemorySegment src, long count, int kind, MemorySegment stream) {
        ensure();
        try {
            check("cudaMemcpyAsync", (int) H.memcpyAsync.invokeExact(dst, src, count, kind, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code cudaMemcpyAsync} between raw addresses (no segment wrappers, so a hot path allocates nothing);
     * the caller guarantees both ranges hold {@code count} bytes.
     */
    public static void cudaMemcpyAsync(long dst, long src, long count, int kind, MemorySegment stream) {
        ensure();
        try {
            check("cudaMemcpyAsync", (int) H.memcpyAsyncAt.invokeExact(dst, src, count, kind, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- streams and events ----

    private static MemorySegment handleOut(String call, MethodHandle mh) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ADDRESS);
            check(call, (int) mh.invokeExact(p));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static void handleCall(String call, MethodHandle mh, MemorySegment handle) {
        try {
            check(call, (int) mh.invokeExact(handle));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- graphs ----

    /** {@code cudaStreamCaptureModeRelaxed}: other threads' unsafe calls are not refused during a capture. */
    public static final int cudaStreamCaptureModeRelaxed = 2;

    /** {@code cudaStreamBeginCapture(stream, mode)}: work enqueued on the stream is recorded, not run. */
    public static void cudaStreamBeginCapture(MemorySegment stream, int mode) {
        ensure();
        try {
            check("cudaStreamBeginCapture", (int) H.streamBeginCapture.invokeExact(stream, mode));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code cudaStreamEndCapture(stream, &graph)}: the recorded graph ({@code cudaGraph_t}). Throws (with
     * the capture ended) when the capture was invalidated.
     */
    public static MemorySegment cudaStreamEndCapture(MemorySegment stream) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ADDRESS);
            check("cudaStreamEndCapture", (int) H.streamEndCapture.invokeExact(stream, p));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaGraphInstantiate(&exec, graph, 0)}: an executable graph ({@code cudaGraphExec_t}). */
    public static MemorySegment cudaGraphInstantiate(MemorySegment graph) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(ADDRESS);
            check("cudaGraphInstantiate", (int) H.graphInstantiate.invokeExact(p, graph, 0L));
            return p.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaGraphLaunch(exec, stream)}. */
    public static void cudaGraphLaunch(MemorySegment exec, MemorySegment stream) {
        ensure();
        try {
            check("cudaGraphLaunch", (int) H.graphLaunch.invokeExact(exec, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaGraphDestroy(graph)}. */
    public static void cudaGraphDestroy(MemorySegment graph) {
        ensure();
        handleCall("cudaGraphDestroy", H.graphDestroy, graph);
    }

    /** {@code cudaGraphExecDestroy(exec)}. */
    public static void cudaGraphExecDestroy(MemorySegment exec) {
        ensure();
        handleCall("cudaGraphExecDestroy", H.graphExecDestroy, exec);
    }

    /** {@code cudaStreamCreate(&stream)}. */
    public static MemorySegment cudaStreamCreate() {
        ensure();
        return handleOut("cudaStreamCreate", H.streamCreate);
    }

    /** {@code cudaStreamSynchronize(stream)}. */
    public static void cudaStreamSynchronize(MemorySegment stream) {
        ensure();
        handleCall("cudaStreamSynchronize", H.streamSynchronize, stream);
    }

    /** {@code cudaStreamDestroy(stream)}. */
    public static void cudaStreamDestroy(MemorySegment stream) {
        ensure();
        handleCall("cudaStreamDestroy", H.streamDestroy, stream);
    }

    /** {@code cudaEventCreate(&event)}. */
    public static MemorySegment cudaEventCreate() {
        ensure();
        return handleOut("cudaEventCreate", H.eventCreate);
    }

    /** {@code cudaEventRecord(event, stream)}; {@link MemorySegment#NULL} is the legacy default stream. */
    public static void cudaEventRecord(MemorySegment event, MemorySegment stream) {
        ensure();
        try {
            check("cudaEventRecord", (int) H.eventRecord.invokeExact(event, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code cudaEventQuery(event)}: true when the work before the event's last record has completed (or it
     * was never recorded), false while it is pending ({@code cudaErrorNotReady}); any other error throws.
     */
    public static boolean cudaEventQuery(MemorySegment event) {
        ensure();
        int err;
        try {
            err = (int) H.eventQuery.invokeExact(event);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (err == cudaErrorNotReady) {
            return false;
        }
        check("cudaEventQuery", err);
        return true;
    }

    /** {@code cudaEventSynchronize(event)}. */
    public static void cudaEventSynchronize(MemorySegment event) {
        ensure();
        handleCall("cudaEventSynchronize", H.eventSynchronize, event);
    }

    /** {@code cudaEventElapsedTime(&ms, start, end)}: milliseconds between two recorded events. */
    public static float cudaEventElapsedTime(MemorySegment start, MemorySegment end) {
        ensure();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ms = arena.allocate(JAVA_FLOAT);
            check("cudaEventElapsedTime", (int) H.eventElapsedTime.invokeExact(ms, start, end));
            return ms.get(JAVA_FLOAT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaEventDestroy(event)}. */
    public static void cudaEventDestroy(MemorySegment event) {
        ensure();
        handleCall("cudaEventDestroy", H.eventDestroy, event);
    }
}
