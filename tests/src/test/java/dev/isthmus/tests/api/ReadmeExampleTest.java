package dev.isthmus.tests.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every {@code java} block of the README compiles against the public API (and nothing else of ours). */
class ReadmeExampleTest {
    @TempDir
    Path out;

    @Test
    void readmeJavaBlocksCompile() throws Exception {
        Path readme = Path.of(System.getProperty("isthmus.root", ".."), "README.md");
        String text = Files.readString(readme);
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(text);
        List<JavaFileObject> sources = new ArrayList<>();
        int i = 0;
        while (m.find()) {
            String body = m.group(1);
            String src = "import dev.isthmus.*;\nimport java.nio.file.Path;\nimport java.util.List;\n"
                    + "class ReadmeExample" + i + " {\n  static void example() throws Exception {\n" + body + "\n  }\n}\n";
            String name = "ReadmeExample" + i++;
            sources.add(new SimpleJavaFileObject(java.net.URI.create("string:///" + name + ".java"),
                    JavaFileObject.Kind.SOURCE) {
                @Override
                public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                    return src;
                }
            });
        }
        assertFalse(sources.isEmpty(), "the README has a java block");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter diagnostics = new StringWriter();
        boolean ok = javac.getTask(diagnostics, null, null,
                List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString(), "-proc:none"),
                null, sources).call();
        assertTrue(ok, "README example does not compile:\n" + diagnostics);
        assertEquals(sources.size(), Files.list(out).filter(p -> p.toString().endsWith(".class")).count());
    }
}
