package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.runtime.sampling.StopMatcher;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Stop strings in streamed text: split across tokens, held back while undecided, never emitted. */
class StopMatcherTest {

    @Test
    void aStopStringSplitAcrossTokensIsFoundAndNotEmitted() {
        StopMatcher m = new StopMatcher(List.of("</answer>"));
        assertEquals("The result", m.push("The result"));
        assertEquals(" is 4", m.push(" is 4</"));      // "</" might start the stop string: held back
        assertEquals(2, m.pendingLength());
        assertEquals("", m.push("ans"));
        assertFalse(m.stopped());
        assertEquals("", m.push("wer>trailing"));
        assertTrue(m.stopped());
        assertEquals("</answer>", m.matched());
        assertEquals("", m.flush());
        assertThrows(IllegalStateException.class, () -> m.push("more"));
    }

    @Test
    void aFalseStartIsReleased() {
        StopMatcher m = new StopMatcher(List.of("\n\n"));
        assertEquals("line", m.push("line\n"));
        assertEquals("\nnext", m.push("next"));   // "\n" then "n": not a stop, released in order
        assertEquals("", m.push("\n"));
        assertEquals("\n", m.flush());
        assertFalse(m.stopped());
        assertNull(m.matched());
    }

    @Test
    void theEarliestOfSeveralStopsWins() {
        StopMatcher m = new StopMatcher(List.of("STOP", "ab", "abc"));
        assertEquals("x", m.push("xabcSTOP"));
        assertEquals("abc", m.matched());     // at the same start, the longer one
        StopMatcher n = new StopMatcher(List.of("world", "lo"));
        assertEquals("hel", n.push("hello world"));
        assertEquals("lo", n.matched());
    }

    @Test
    void anyTokenSplitGivesTheSameTextAsTheWhole() {
        String text = "Some answer.<|im_end|>\n\nUser: more text <|im_end|>";
        List<String> stops = List.of("<|im_end|>", "\n\nUser:");
        String expect = "Some answer.";
        Random r = new Random(3);
        for (int trial = 0; trial < 200; trial++) {
            StopMatcher m = new StopMatcher(stops);
            StringBuilder out = new StringBuilder();
            int i = 0;
            while (i < text.length() && !m.stopped()) {
                int len = 1 + r.nextInt(4);
                String piece = text.substring(i, Math.min(text.length(), i + len));
                i += piece.length();
                String emitted = m.push(piece);
                out.append(emitted);
                // nothing emitted may ever be part of a stop string: the prefix is always clean
                assertTrue(expect.startsWith(out.toString()), "emitted too much: " + out);
            }
            assertTrue(m.stopped());
            assertEquals(expect, out.toString());
        }
    }

    @Test
    void withoutStopsEverythingPassesThrough() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("abc", m.push("abc"));
        assertEquals("", m.flush());
        assertThrows(IllegalArgumentException.class, () -> new StopMatcher(List.of("")));
    }
}
