/**
 * Hand-written FFM bindings (jextract style: one class per header, typed static methods over
 * downcall handles, layouts as constants) for the native libraries Isthmus calls, and the code
 * that finds, extracts and loads those libraries. Nothing else lives here.
 */
module dev.isthmus.nativebindings {
    exports dev.isthmus.nativebindings;
    exports dev.isthmus.nativebindings.dnnl;
    exports dev.isthmus.nativebindings.cuda;
}
