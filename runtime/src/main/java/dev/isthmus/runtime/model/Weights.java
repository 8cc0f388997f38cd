package dev.isthmus.runtime.model;

/**
 * Where {@link DenseTransformer} reads its weights from: float32 copies of tensors by their
 * (normalised) Hugging Face name, in HF layout (HF shapes, outermost first; HF row order; HF
 * parameterisation of norms). Implementations undo whatever their file format changed:
 * {@link SafetensorsWeights} reads an HF checkpoint as it is, {@link GgufWeights} maps names
 * through the family's table, dequantizes, and reverses llama.cpp's converter transforms.
 */
sealed interface Weights permits SafetensorsWeights, GgufWeights {
    /** Whether the model holds tensor {@code hfName}. */
    boolean has(String hfName);

    /**
     * The tensor {@code hfName} as floats.
     *
     * @param shape the HF shape (outermost first) the spec expects; a different shape is a
     *              {@link dev.isthmus.format.ModelFormatException} naming both
     * @throws dev.isthmus.format.ModelFormatException for a missing tensor or a shape mismatch
     */
    float[] get(String hfName, long... shape);
}
