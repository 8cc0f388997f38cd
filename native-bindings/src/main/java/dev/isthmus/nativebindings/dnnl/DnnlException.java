package dev.isthmus.nativebindings.dnnl;

/** A oneDNN call returned a status other than {@code dnnl_success}. */
public final class DnnlException extends RuntimeException {
    private final String call;
    private final int status;

    /**
     * @param call   the C function that failed
     * @param status its {@code dnnl_status_t}
     */
    public DnnlException(String call, int status) {
        super(call + " failed: " + DnnlStatus.nameOf(status));
        this.call = call;
        this.status = status;
    }

    /** The C function that failed. */
    public String call() {
        return call;
    }

    /** The raw {@code dnnl_status_t}. */
    public int statusCode() {
        return status;
    }

    /** The status, or null when the value is not one this binding knows. */
    public DnnlStatus status() {
        return DnnlStatus.of(status);
    }
}
