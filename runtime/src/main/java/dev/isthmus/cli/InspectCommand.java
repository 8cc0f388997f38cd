package dev.isthmus.cli;

import dev.isthmus.runtime.ModelInspection;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code isthmus inspect FILE|DIR [--json]}. */
@Command(name = "inspect",
        mixinStandardHelpOptions = true,
        description = {
            "Shows what a model file holds: format and version, architecture, metadata, the tensor table "
                    + "(name, type, shape, offset, bytes), bytes and parameters per type, totals and the tokenizer.",
            "Works on a GGUF file, a safetensors file and a Hugging Face folder (config.json + *.safetensors).",
            "Nothing but the header is read: tensor data stay untouched on disk."})
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "FILE|DIR", description = "A .gguf file, a .safetensors file or an HF model folder.")
    Path path;

    @Option(names = "--json", description = {
        "Print one JSON object with the keys format, version, architecture, metadata and tensors "
                + "(a list of {name, type, shape, offset, bytes}). Arrays longer than 16 elements appear as "
                + "{\"array_of\": TYPE, \"length\": N}. Shapes are in the file's own order (GGUF: innermost first; "
                + "safetensors: outermost first); offsets are absolute byte offsets in the (shard) file."})
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ModelInspection inspection = ModelInspection.of(path);
        if (json) {
            out.println(Json.pretty(inspection.toJson()));
        } else {
            inspection.printText(out);
        }
        out.flush();
        return 0;
    }
}
