package dev.isthmus.cli;

import dev.isthmus.Completion;
import dev.isthmus.ContextOverflowException;
import dev.isthmus.Engine;
import dev.isthmus.Generation;
import dev.isthmus.Message;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code isthmus chat [-m MODEL]}: an interactive chat rendered with the model's own chat template
 * (or, without one, the documented fallback of {@link Engine#renderChat}). {@code /reset} starts over,
 * {@code /exit} (or end of input) leaves, Ctrl-C stops a reply without leaving (and leaves when no
 * reply is running).
 */
@Command(name = "chat",
        mixinStandardHelpOptions = true,
        description = {"An interactive chat with the model, using its chat template.",
            "Commands: /reset clears the conversation, /exit leaves. Ctrl-C stops a reply (and leaves when "
                    + "none is running)."})
final class ChatCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    GenerationOptions options;

    @Option(names = "--system", paramLabel = "TEXT", description = "A system message to start the conversation with.")
    String system;

    private volatile Generation current;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        err.printf("isthmus: loading %s%n", options.modelPath());
        err.flush();
        try (Engine engine = options.open()) {
            if (!engine.hasChatTemplate()) {
                err.println("isthmus: the model has no chat template; using the plain 'role: text' format");
            }
            installInterrupt();
            err.println("isthmus: /reset clears the conversation, /exit leaves, Ctrl-C stops a reply");
            err.flush();
            List<Message> history = new ArrayList<>();
            if (system != null) {
                history.add(Message.system(system));
            }
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            while (true) {
                out.print("> ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit")) {
                    break;
                }
                if (line.strip().equals("/reset")) {
                    history.subList(system != null ? 1 : 0, history.size()).clear();
                    out.println("(conversation cleared)");
                    continue;
                }
                if (line.isBlank()) {
                    continue;
                }
                history.add(Message.user(line));
                StringBuilder reply = new StringBuilder();
                try {
                    current = engine.submitChat(history, options.sampling(), t -> {
                        reply.append(t.text());
                        out.print(t.text());
                        out.flush();
                    });
                    Completion c = current.join();
                    out.println();
                    history.add(Message.assistant(c.text()));
                    err.println(RunCommand.stats(c.stats(), engine.backend()));
                } catch (CancellationException e) {
                    out.println();
                    out.println("(stopped)");
                    history.add(Message.assistant(reply.toString()));
                } catch (ContextOverflowException e) {
                    history.removeLast();
                    err.println("isthmus: " + e.getMessage() + "; /reset to start over");
                } finally {
                    current = null;
                }
                out.flush();
                err.flush();
            }
        }
        return 0;
    }

    /** Ctrl-C cancels the running reply; with none running it ends the program as usual. */
    private void installInterrupt() {
        try {
            sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> {
                Generation g = current;
                if (g != null && !g.isDone()) {
                    g.cancel();
                } else {
                    System.exit(130);
                }
            });
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // no SIGINT here (e.g. some embedded environments): Ctrl-C simply ends the program
        }
    }
}
