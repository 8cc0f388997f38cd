package dev.isthmus.nativebindings.dnnl;

/** {@code dnnl_status_t}: the result of every oneDNN C API call. */
public enum DnnlStatus {
    /** The operation was successful. */
    SUCCESS(0),
    /** The operation failed due to an out-of-memory condition. */
    OUT_OF_MEMORY(1),
    /** The operation failed because of incorrect function arguments. */
    INVALID_ARGUMENTS(2),
    /** The operation failed because requested functionality is not implemented. */
    UNIMPLEMENTED(3),
    /** The last available implementation is reached. */
    LAST_IMPL_REACHED(4),
    /** Primitive or engine failed on execution. */
    RUNTIME_ERROR(5),
    /** Queried element is not required for given primitive. */
    NOT_REQUIRED(6),
    /** The graph is not legitimate. */
    INVALID_GRAPH(7),
    /** The operation is not legitimate according to op schema. */
    INVALID_GRAPH_OP(8),
    /** The shape cannot be inferred or compiled. */
    INVALID_SHAPE(9),
    /** The data type cannot be inferred or compiled. */
    INVALID_DATA_TYPE(10);

    private final int code;

    DnnlStatus(int code) {
        this.code = code;
    }

    /** The C value. */
    public int code() {
        return code;
    }

    /** The C name, e.g. {@code dnnl_unimplemented}. */
    public String cName() {
        return "dnnl_" + name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The status for a C value, or null when it is not a known status. */
    public static DnnlStatus of(int code) {
        DnnlStatus[] all = values();
        return code >= 0 && code < all.length ? all[code] : null;
    }

    /** The C name of a status value, or {@code dnnl_status(<n>)} when unknown. */
    public static String nameOf(int code) {
        DnnlStatus s = of(code);
        return s == null ? "dnnl_status(" + code + ")" : s.cName();
    }
}
