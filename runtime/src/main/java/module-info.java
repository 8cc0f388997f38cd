/**
 * The Isthmus runtime: the public API ({@code dev.isthmus}: {@code Sampling}, ...), the hardware probe
 * and backend choice, model loading, sampling, chat templates, and the command-line interface
 * ({@code isthmus probe}, {@code isthmus inspect}, ...).
 */
module dev.isthmus.runtime {
    requires transitive dev.isthmus.gguf;
    requires dev.isthmus.kernels.cpu;
    requires dev.isthmus.kernels.gpu;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;
    requires java.management;
    requires jdk.management;
    requires jdk.unsupported;



    exports dev.isthmus;
    exports dev.isthmus.runtime;
    // internal: the sampler chain and stop strings, and the chat-template renderer, for the tests
    exports dev.isthmus.runtime.sampling to dev.isthmus.tests;
    exports dev.isthmus.runtime.template to dev.isthmus.tests;
    // internal: the reference model graphs, visible to the cross-module conformance tests only
    exports dev.isthmus.runtime.model to dev.isthmus.tests;
    // internal: the converter, for the GGUF conformance tests (convert, then run from the GGUF)
    exports dev.isthmus.runtime.convert to dev.isthmus.tests;
    // internal: tokenizers (the Java engine and the CLI use them), for the tokenizer conformance tests
    exports dev.isthmus.runtime.tokenizer to dev.isthmus.tests;

    opens dev.isthmus.cli to info.picocli;

    uses dev.isthmus.memory.BackendProvider;
}
