package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.isthmus.runtime.template.ChatTemplate;
import dev.isthmus.runtime.template.TemplateException;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The chat-template interpreter on the Python-isms real templates use, on Jinja's whitespace rules
 * as transformers sets them, and on its sandbox. The expected strings are what Jinja2 3.1.6 (the
 * version transformers 5.17 uses) renders in transformers' chat-template environment.
 */
class ChatTemplateTest {
    private static final LocalDateTime NOW = LocalDateTime.of(2026, 7, 26, 13, 45, 0);

    private static String render(String source, Map<String, ?> vars) {
        return ChatTemplate.compile(source, ChatTemplate.Limits.DEFAULT, () -> NOW).render(vars);
    }

    static Stream<Arguments> jinja2Renders() {
        return Stream.of(
            Arguments.of("{{ messages[0]['content'].strip() }}|{{ messages[0].content|trim }}|{{ messages[1]['content'].startswith('Hi') }}|{{ messages[1].content.endswith(('x','>')) }}",
                    "{\"messages\": [{\"role\": \"system\", \"content\": \"  Be brief.  \"}, {\"role\": \"user\", \"content\": \"Hi <there>\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nhmm\\n</think>\\n\\nHello\", \"x\": null}]}",
                    "Be brief.|Be brief.|True|True"),
            Arguments.of("{{ messages[2].content.split('</think>')[-1].lstrip('\\n') }}|{{ messages[2].content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
                    "{\"messages\": [{\"role\": \"system\", \"content\": \"  Be brief.  \"}, {\"role\": \"user\", \"content\": \"Hi <there>\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nhmm\\n</think>\\n\\nHello\", \"x\": null}]}",
                    "Hello|hmm"),
            Arguments.of("{% for m in messages[::-1] %}{{ loop.index0 }}{{ m.role[0] }}{% if loop.last %}!{% endif %}{% endfor %}|{% for m in messages[1:] %}{{ m.role }},{% endfor %}|{{ 'abcdef'[1:4] }}{{ 'abcdef'[::-2] }}{{ [1,2,3,4][-2:] }}",
                    "{\"messages\": [{\"role\": \"system\", \"content\": \"  Be brief.  \"}, {\"role\": \"user\", \"content\": \"Hi <there>\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nhmm\\n</think>\\n\\nHello\", \"x\": null}]}",
                    "0a1u2s!|user,assistant,|bcdfdb[3, 4]"),
            Arguments.of("{% set ns = namespace(n=0, last='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.last = m.role %}{% endfor %}{{ ns.n }} {{ ns.last }}",
                    "{\"messages\": [{\"role\": \"system\", \"content\": \"  Be brief.  \"}, {\"role\": \"user\", \"content\": \"Hi <there>\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nhmm\\n</think>\\n\\nHello\", \"x\": null}]}",
                    "3 assistant"),
            Arguments.of("{% for m in messages %}{% if m.content is string %}s{% endif %}{% if m is mapping %}m{% endif %}{% if m.x is none %}N{% endif %}{% if m.x is defined %}D{% endif %}{% if m.y is not defined %}U{% endif %};{% endfor %}",
                    "{\"messages\": [{\"role\": \"system\", \"content\": \"  Be brief.  \"}, {\"role\": \"user\", \"content\": \"Hi <there>\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nhmm\\n</think>\\n\\nHello\", \"x\": null}]}",
                    "smU;smU;smNDU;"),
            Arguments.of("{{ tools|tojson }}\n{{ tools[0]|tojson(indent=2) }}\n{{ {'b': 1.5, 'a': [true, none, 1e-5, 1e16, 123456789.0]}|tojson }}",
                    "{\"tools\": [{\"name\": \"f\", \"description\": \"Zürich \\\"q\\\" \\\\ \\n\\t\\u0001\", \"parameters\": {\"x\": {\"type\": \"integer\", \"enum\": [1, 2]}}}]}",
                    "[{\"name\": \"f\", \"description\": \"Zürich \\\"q\\\" \\\\ \\n\\t\\u0001\", \"parameters\": {\"x\": {\"type\": \"integer\", \"enum\": [1, 2]}}}]\n{\n  \"name\": \"f\",\n  \"description\": \"Zürich \\\"q\\\" \\\\ \\n\\t\\u0001\",\n  \"parameters\": {\n    \"x\": {\n      \"type\": \"integer\",\n      \"enum\": [\n        1,\n        2\n      ]\n    }\n  }\n}\n{\"b\": 1.5, \"a\": [true, null, 1e-05, 1e+16, 123456789.0]}"),
            Arguments.of("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %-d') }}",
                    "{}",
                    "26 Jul 2026|2026-07-26 13:45:00 Sunday July 26"),
            Arguments.of("{{ [1, 'a', none, true, 2.5] }}|{{ {'k': 'v'} }}|{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 ~ 'x' ~ none }}|{{ 'a' if false }}|{{ 'yes' if 1 in [1,2] else 'no' }}|{{ 'ell' in 'hello' }} {{ 'k' in {'k':1} }} {{ 3 not in [1] }}",
                    "{}",
                    "[1, 'a', None, True, 2.5]|{'k': 'v'}|3 -4 1 2 3.5 1024 1xNone||yes|True True True"),
            Arguments.of("A\n  {% if true %}\n    B\n  {% endif %}\nC\n{%- if true -%}  D  {%- endif %}\n{%+ if true %}E{% endif +%}\nF{# comment #}\nG\n  {# c2 #}\nH",
                    "{}",
                    "A\n    B\nCDE\nFG\nH"),
            Arguments.of("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', punct='?') }}{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]",
                    "{}",
                    "Hi a! Hi b?[inner 2]"),
            Arguments.of("{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% else %}empty{% endfor %}{% for i in [] %}x{% else %}E{% endfor %}{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for x in [1,2,3,4] if x is even %}{{ x }}{% endfor %}",
                    "{}",
                    "02Ea=1;b=2;24"),
            Arguments.of("{{ messages|length }} {{ messages|map(attribute='role')|join(',') }} {{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|rejectattr('role', 'in', ['user'])|map(attribute='role')|first }} {{ 'x'|default('d') }} {{ undefined_thing|default('d') }} {{ ''|default('e', true) }} {{ 'Hello World'|lower|upper }} {{ '  a  '|trim }} {{ [3,1,2]|sort|join }} {{ messages[-1].get('x', 'none?') }} {{ messages[0].get('nope', 'dflt') }}",
                    "{\"messages\": [{\"role\": \"system\", \"content\": \"  Be brief.  \"}, {\"role\": \"user\", \"content\": \"Hi <there>\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nhmm\\n</think>\\n\\nHello\", \"x\": null}]}",
                    "3 system,user,assistant 1 system x d e HELLO WORLD a 123 None dflt"),
            Arguments.of("{% set a, b = [1, 2] %}{{ a }}{{ b }} {{ 'a-b-c'.split('-', 1) }} {{ ' x  y '.split() }} {{ 'a{}b{}'.format(1, 2) }} {{ 'abc'.replace('b', 'X') }} {{ 'hello'.title() }} {{ loop is defined }} {{ (1, 2)|length }} {{ 'x' * 3 }} {{ [1] + [2] }} {{ messages[1]['role'] == 'user' and messages[0]['role'] != 'user' }}",
                    "{\"messages\": [{\"role\": \"system\", \"content\": \"  Be brief.  \"}, {\"role\": \"user\", \"content\": \"Hi <there>\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nhmm\\n</think>\\n\\nHello\", \"x\": null}]}",
                    "12 ['a', 'b-c'] ['x', 'y'] a1b2 aXc Hello False 2 xxx [1, 2] True"));
    }

    @SuppressWarnings("unchecked")
    @ParameterizedTest
    @MethodSource("jinja2Renders")
    void rendersAsJinja2(String source, String varsJson, String expected) throws Exception {
        Map<String, Object> vars = new ObjectMapper().readValue(varsJson, Map.class);
        assertEquals(expected, render(source, vars));
    }

    @Test
    void raiseExceptionCarriesTheTemplatesMessage() {
        TemplateException e = assertThrows(TemplateException.class,
                () -> render("{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with a user message') }}{% endif %}",
                        Map.of("messages", List.of(Map.of("role", "assistant", "content", "x")))));
        assertTrue(e.getMessage().contains("Conversation must start with a user message"), e.getMessage());
        assertTrue(e.getMessage().contains("line 1"), e.getMessage());
    }

    @Test
    void syntaxErrorsNameTheLine() {
        for (String bad : new String[] {"a\n{% if x %}never closed", "a\nb\n{{ 1 + }}", "{% for x in %}{% endfor %}",
                                        "x\n{% endif %}", "{{ 'unclosed }}", "{% frobnicate %}", "{{ a b }}",
                                        "{% break %}", "{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}",
                                        "{{ '\\u12zz' }}", "{{ x.99999999999999999999 }}"}) {
            TemplateException e = assertThrows(TemplateException.class, () -> ChatTemplate.compile(bad), bad);
            assertTrue(e.getMessage().startsWith("line "), bad + " -> " + e.getMessage());
        }
        assertTrue(assertThrows(TemplateException.class, () -> ChatTemplate.compile("a\nb\n{{ 1 + }}")).getMessage().startsWith("line 3"));
    }

    @Test
    void pythonTypeErrorsAndUndefinedUseAreErrors() {
        // None + str, as transformers raises for phi-3 with a null content
        assertThrows(TemplateException.class, () -> render("{{ m.content + '!' }}", Map.of("m", nullContent())));
        assertThrows(TemplateException.class, () -> render("{{ 'a' + 1 }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ nothing.attr }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ nothing() }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ 1 // 0 }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ 'x'|nosuchfilter }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ x is nosuchtest }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ 'a' in none }}", Map.of()));
        assertEquals("", render("{{ nothing }}{% for x in nothing %}x{% endfor %}", Map.of()));
    }

    private static Map<String, Object> nullContent() {
        Map<String, Object> m = new HashMap<>();
        m.put("role", "assistant");
        m.put("content", null);
        return m;
    }

    @Test
    void noJavaObjectIsReachable() {
        // methods of the underlying Java classes do not exist for templates
        assertEquals("", render("{{ s.getClass }}{{ s.__class__ }}{{ m.getClass }}{{ l.toString }}{{ m.entrySet }}",
                Map.of("s", "text", "m", Map.of("a", 1), "l", List.of(1))));
        assertThrows(TemplateException.class, () -> render("{{ s.getClass() }}", Map.of("s", "text")));
        assertThrows(TemplateException.class, () -> render("{{ s.getClass().forName('java.lang.Runtime') }}", Map.of("s", "text")));
        // only plain data may be passed in
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> render("{{ x }}", Map.of("x", new StringBuilder("a"))));
        assertTrue(e.getMessage().contains("StringBuilder"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> render("{{ x }}", Map.of("x", List.of(Thread.currentThread()))));
        assertThrows(IllegalArgumentException.class, () -> render("{{ x }}", Map.of("x", Map.of(1, "a"))));
    }

    @Test
    void listsAndDictsAreImmutableFromTheTemplate() {
        List<Object> messages = new ArrayList<>(List.of("a"));
        assertThrows(TemplateException.class, () -> render("{{ messages.append('b') }}", Map.of("messages", messages)));
        assertThrows(TemplateException.class, () -> render("{% set d = {} %}{% set d.x = 1 %}", Map.of()));
        assertEquals(List.of("a"), messages);
    }

    @Test
    void sandboxLimitsStopRunawayTemplates() {
        ChatTemplate.Limits small = new ChatTemplate.Limits(1000, 500, 8);
        TemplateException out = assertThrows(TemplateException.class, () -> ChatTemplate.compile(
                "{% for i in range(100) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}", small, () -> NOW).render(Map.of()));
        assertTrue(out.getMessage().contains("output"), out.getMessage());
        TemplateException loops = assertThrows(TemplateException.class, () -> ChatTemplate.compile(
                "{% for i in range(30) %}{% for j in range(30) %}{% endfor %}{% endfor %}", small, () -> NOW).render(Map.of()));
        assertTrue(loops.getMessage().contains("loop iterations"), loops.getMessage());
        TemplateException rec = assertThrows(TemplateException.class, () -> ChatTemplate.compile(
                "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", small, () -> NOW).render(Map.of()));
        assertTrue(rec.getMessage().contains("deeper"), rec.getMessage());
        // doubling a string in a loop is stopped at the output bound, not at memory exhaustion
        TemplateException grow = assertThrows(TemplateException.class, () -> render(
                "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}", Map.of()));
        assertTrue(grow.getMessage().contains("sandbox limit"), grow.getMessage());
        assertThrows(TemplateException.class, () -> render("{{ 'ab' * 100000000000 }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ ('x' * 1000)|replace('x', 'y' * 100000) }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ 'a'|indent(100000000) }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ 3 ** 100 }}", Map.of()));
        assertEquals("1", render("{{ 1 ** 1000000000000000 }}", Map.of()));
        // the default limits stop an endless recursion too, with an exception and not a crash
        assertThrows(TemplateException.class, () -> render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", Map.of()));
        // deeply nested syntax is refused at parse time
        assertThrows(TemplateException.class, () -> ChatTemplate.compile("{{ " + "(".repeat(5000) + "1" + ")".repeat(5000) + " }}"));
        assertThrows(TemplateException.class, () -> ChatTemplate.compile("x".repeat(ChatTemplate.MAX_SOURCE_CHARS + 1)));
        assertThrows(IllegalArgumentException.class, () -> new ChatTemplate.Limits(0, 1, 1));
    }

    @Test
    void renderTakesTheConversationAsTransformersDoes() {
        ChatTemplate t = ChatTemplate.compile("{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
                + "{% if tools %}[{{ tools|length }} tools]{% endif %}{% if add_generation_prompt %}<assistant>{% endif %}"
                + "{% if enable_thinking is false %}(no think){% endif %}", ChatTemplate.Limits.DEFAULT, () -> NOW);
        List<Map<String, Object>> msgs = List.of(Map.of("role", "user", "content", "hi"));
        assertEquals("<s><user>hi<assistant>", t.render(msgs, null, true, Map.of("bos_token", "<s>"), Map.of()));
        assertEquals("<s><user>hi[1 tools](no think)", t.render(msgs, List.of(Map.of("type", "function")), false,
                Map.of("bos_token", "<s>"), Map.of("enable_thinking", false)));
    }

    @Test
    void percentFormattingAsPython() {
        // Jinja2 3.1.6 renders: a-3-'q'- 3.14-%|None|x and 2|v=5
        assertEquals("a-3-'q'- 3.14-%|None|x and 2|v=5",
                render("{{ '%s-%d-%r-%5.2f-%%|%s' % ('a', 3, 'q', 3.14159, none) }}|{{ '%s and %s'|format('x', 2) }}|{{ 'v=%s' % 5 }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ '%s %s' % ('a',) }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ '%s' % ('a', 'b') }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ '%99999999s' % 'a' }}", Map.of()));
        assertThrows(TemplateException.class, () -> render("{{ '%#s' % 'a' }}", Map.of()));
    }

    @Test
    void strftimeNowUsesTheGivenClock() {
        assertEquals("26 Jul 2026", render("{{ strftime_now('%d %b %Y') }}", Map.of()));
        assertEquals("Sunday 1:45 PM", render("{{ strftime_now('%A %-I:%M %p') }}", Map.of()));
    }
}
