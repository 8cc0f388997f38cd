/** Cross-module conformance tests, golden fixtures and JMH benchmarks (nothing exported). */
open module dev.isthmus.tests {
    requires dev.isthmus.runtime;
    requires jmh.core;
    requires com.fasterxml.jackson.databind;
}
