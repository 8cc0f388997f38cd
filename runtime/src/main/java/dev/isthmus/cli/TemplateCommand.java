package dev.isthmus.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.runtime.template.ChatTemplate;
import dev.isthmus.runtime.template.ModelChatTemplate;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code isthmus template MODEL --messages FILE [--tools FILE] [--add-generation-prompt] [--var k=v]}:
 * renders the model's own chat template for a conversation, as transformers' apply_chat_template does.
 */
@Command(name = "template",
        mixinStandardHelpOptions = true,
        description = {
            "Renders the model's own chat template for a conversation and prints the prompt text.",
            "MODEL is a GGUF file (tokenizer.chat_template), a Hugging Face folder (chat_template.jinja or "
                    + "tokenizer_config.json) or a .jinja file. FILE holds a JSON array of messages "
                    + "({\"role\": ..., \"content\": ...})."})
final class TemplateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "MODEL", description = "A GGUF file, an HF model folder, or a .jinja file.")
    Path model;

    @Option(names = "--messages", required = true, paramLabel = "FILE", description = "JSON array of messages.")
    Path messages;

    @Option(names = "--tools", paramLabel = "FILE", description = "JSON array of tool definitions.")
    Path tools;

    @Option(names = "--add-generation-prompt", description = "End with the assistant turn's opener.")
    boolean addGenerationPrompt;

    @Option(names = "--var", paramLabel = "NAME=JSON", description = "Another template variable, e.g. enable_thinking=false "
            + "or bos_token=\"<s>\" (a JSON value; bare text is taken as a string).")
    Map<String, String> vars = new HashMap<>();

    @Override
    @SuppressWarnings("unchecked")
    public Integer call() throws Exception {
        ObjectMapper json = new ObjectMapper();
        ModelChatTemplate m = ModelChatTemplate.read(model);
        ChatTemplate t = m.compile();
        Object msgs = json.readValue(Files.readString(messages), Object.class);
        if (!(msgs instanceof List<?>)) throw new IllegalArgumentException(messages + ": expected a JSON array of messages");
        Object toolList = tools == null ? null : json.readValue(Files.readString(tools), Object.class);
        if (toolList != null && !(toolList instanceof List<?>)) throw new IllegalArgumentException(tools + ": expected a JSON array of tools");
        Map<String, Object> extra = new HashMap<>();
        for (var e : vars.entrySet()) {
            Object v;
            try {
                v = json.readValue(e.getValue(), Object.class);
            } catch (com.fasterxml.jackson.core.JacksonException notJson) {
                v = e.getValue();
            }
            extra.put(e.getKey(), v);
        }
        Map<String, String> special = new HashMap<>(m.specialTokens());
        String prompt = t.render((List<Map<String, ?>>) msgs, (List<Map<String, ?>>) toolList, addGenerationPrompt, special, extra);
        spec.commandLine().getOut().print(prompt);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
