package dev.isthmus.nativebindings.cuda;

/** A CUDA runtime call returned a {@code cudaError_t} other than {@code cudaSuccess}. */
public final class CudaException extends RuntimeException {
    private final String call;
    private final int error;
    private final String errorName;

    /**
     * @param call        the C function that failed
     * @param error       its {@code cudaError_t}
     * @param errorName   {@code cudaGetErrorName(error)}
     * @param errorString {@code cudaGetErrorString(error)}
     */
    public CudaException(String call, int error, String errorName, String errorString) {
        super(call + " failed: " + errorName + " (" + error + "): " + errorString);
        this.call = call;
        this.error = error;
        this.errorName = errorName;
    }

    /** The C function that failed. */
    public String call() {
        return call;
    }

    /** The raw {@code cudaError_t}. */
    public int error() {
        return error;
    }

    /** The error's name, e.g. {@code cudaErrorNoDevice}. */
    public String errorName() {
        return errorName;
    }
}
