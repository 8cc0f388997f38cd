/** Cross-module conformance tests, golden fixtures and JMH benchmarks (nothing exported). */
open module dev.isthmus.tests {
    requires dev.isthmus.runtime;
    requires dev.isthmus.gguf;
    requires dev.isthmus.kernels.cpu;
    requires dev.isthmus.nativebindings;
    requires jmh.core;
    requires com.fasterxml.jackson.databind;
    requires java.compiler;

    uses dev.isthmus.memory.BackendProvider;
}
