/**
 * Model file formats: GGUF (read and write), safetensors (single and sharded), Hugging Face
 * {@code config.json}, the ggml tensor-type registry and reference (de)quantization. Every reader
 * maps the file once and hands out zero-copy {@link java.lang.foreign.MemorySegment} views; every
 * structural problem in an untrusted file is a {@link dev.isthmus.format.ModelFormatException}.
 */
module dev.isthmus.gguf {
    requires transitive dev.isthmus.memory;
    requires com.fasterxml.jackson.databind;

    exports dev.isthmus.format;
    exports dev.isthmus.gguf;
    exports dev.isthmus.gguf.quant;
    exports dev.isthmus.hf;
    exports dev.isthmus.safetensors;
}
