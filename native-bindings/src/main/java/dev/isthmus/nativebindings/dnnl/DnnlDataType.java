package dev.isthmus.nativebindings.dnnl;

/** The {@code dnnl_data_type_t} values Isthmus uses, with their element sizes. */
public enum DnnlDataType {
    /** {@code dnnl_f32}. */
    F32(Dnnl.dnnl_f32, 4),
    /** {@code dnnl_f16}. */
    F16(Dnnl.dnnl_f16, 2),
    /** {@code dnnl_bf16}. */
    BF16(Dnnl.dnnl_bf16, 2),
    /** {@code dnnl_s32}. */
    S32(Dnnl.dnnl_s32, 4),
    /** {@code dnnl_s8}. */
    S8(Dnnl.dnnl_s8, 1),
    /** {@code dnnl_u8}. */
    U8(Dnnl.dnnl_u8, 1);

    private final int code;
    private final int byteSize;

    DnnlDataType(int code, int byteSize) {
        this.code = code;
        this.byteSize = byteSize;
    }

    /** The C value. */
    public int code() {
        return code;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }
}
