package dev.isthmus.cli;

import dev.isthmus.format.ModelFormatException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code isthmus} command. Every failure is one line on stderr and a non-zero exit: 1 for a
 * problem with the input or the machine, 2 for a usage error. {@code ISTHMUS_DEBUG=1} adds the
 * stack trace.
 */
@Command(name = "isthmus",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "A JVM-native LLM inference runtime.",
        subcommands = {ProbeCommand.class, InspectCommand.class, ConvertCommand.class, RandomCommand.class, LogitsCommand.class,
            BenchCommand.class, RunCommand.class, ChatCommand.class, TokenizeCommand.class, DetokenizeCommand.class, TemplateCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams and returns the exit code (for tests). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            err.println("isthmus: " + oneLine(ex));
            if (System.getenv("ISTHMUS_DEBUG") != null) {
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            err.println("isthmus: " + ex.getMessage());
            err.println("Try 'isthmus " + (ex.getCommandLine().getCommandName().equals("isthmus") ? "" : ex.getCommandLine().getCommandName() + " ") + "--help'.");
            err.flush();
            return 2;
        });
        int code = cl.execute(args);
        out.flush();
        return code;
    }

    /** One message line for an exception, without a stack trace. */
    static String oneLine(Throwable ex) {
        if (ex instanceof ModelFormatException) {
            return ex.getMessage();
        }
        if (ex instanceof NoSuchFileException e) {
            return "no such file: " + e.getFile();
        }
        if (ex instanceof AccessDeniedException e) {
            return "permission denied: " + e.getFile();
        }
        if (ex instanceof java.io.IOException || ex instanceof IllegalArgumentException
                || ex instanceof IllegalStateException || ex instanceof UnsupportedOperationException) {
            String m = ex.getMessage();
            return m == null ? ex.getClass().getSimpleName() : m.replace('\n', ' ');
        }
        return "internal error: " + ex + " (set ISTHMUS_DEBUG=1 for the stack trace, and please report it)";
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            // on the module path the version is the module's; on the class path, the jar manifest's
            String v = Main.class.getModule().getDescriptor() != null
                    ? Main.class.getModule().getDescriptor().rawVersion().orElse(null)
                    : Main.class.getPackage().getImplementationVersion();
            return new String[] {"isthmus " + (v == null ? "(development build)" : v)
                    + " on Java " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")"};
        }
    }
}
