package dev.isthmus.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code isthmus template}: the model's own chat template from a .jinja file, an HF folder or a GGUF file. */
class TemplateCommandTest {
    @TempDir
    Path dir;

    private Path messages() throws Exception {
        Path m = dir.resolve("messages.json");
        Files.writeString(m, "[{\"role\": \"user\", \"content\": \" Hi \"}]");
        return m;
    }

    @Test
    void rendersAJinjaFileWithGivenVariables() throws Exception {
        Path t = dir.resolve("t.jinja");
        Files.writeString(t, "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content|trim }}{% endfor %}"
                + "{% if add_generation_prompt %}[assistant]{% endif %}{% if enable_thinking is false %}(no think){% endif %}");
        CliTest.Result r = LogitsCommandTest.run("template", t.toString(), "--messages", messages().toString(),
                "--add-generation-prompt", "--var", "bos_token=<s>", "--var", "enable_thinking=false");
        assertEquals(0, r.code(), r.err());
        assertEquals("<s>[user]Hi[assistant](no think)", r.out());
    }

    @Test
    void readsAnHfFolderPreferringChatTemplateJinja() throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<B>\"},"
                + " \"eos_token\": \"<E>\", \"chat_template\": \"{{ bos_token }}cfg{{ eos_token }}\"}");
        CliTest.Result r = LogitsCommandTest.run("template", dir.toString(), "--messages", messages().toString());
        assertEquals(0, r.code(), r.err());
        assertEquals("<B>cfg<E>", r.out());
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ bos_token }}file");
        r = LogitsCommandTest.run("template", dir.toString(), "--messages", messages().toString());
        assertEquals("<B>file", r.out());
    }

    @Test
    void readsTheTemplateOfAGgufFile() throws Exception {
        String shared = System.getProperty("isthmus.shared");
        Path gguf = shared == null ? null : Path.of(shared, "vocab", "ggml-vocab-phi-3.gguf");
        Assumptions.assumeTrue(gguf != null && Files.exists(gguf), "../shared/vocab/ggml-vocab-phi-3.gguf is absent");
        CliTest.Result r = LogitsCommandTest.run("template", gguf.toString(), "--messages", messages().toString());
        assertEquals(0, r.code(), r.err());
        // Phi-3's template, with bos_token taken from the vocabulary (id 1 = "<s>")
        assertEquals("<s><|user|>\n Hi <|end|>\n<|assistant|>\n", r.out());
    }

    @Test
    void errorsAreOneLine() throws Exception {
        CliTest.Result none = LogitsCommandTest.run("template", dir.toString(), "--messages", messages().toString());
        assertEquals(1, none.code());
        assertTrue(none.err().contains("has no chat template"), none.err());
        Path t = dir.resolve("bad.jinja");
        Files.writeString(t, "{% if messages[0].role == 'user' %}{{ raise_exception('no users here') }}{% endif %}");
        CliTest.Result raised = LogitsCommandTest.run("template", t.toString(), "--messages", messages().toString());
        assertEquals(1, raised.code());
        assertTrue(raised.err().contains("no users here"), raised.err());
        Files.writeString(t, "{% if x %}unclosed");
        CliTest.Result syntax = LogitsCommandTest.run("template", t.toString(), "--messages", messages().toString());
        assertEquals(1, syntax.code());
        assertTrue(syntax.err().contains("bad.jinja") && syntax.err().contains("line 1"), syntax.err());
    }
}
