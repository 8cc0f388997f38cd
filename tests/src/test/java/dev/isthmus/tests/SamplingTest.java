package dev.isthmus.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.isthmus.Sampling;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The public {@link Sampling} value: withers, immutability, validation naming the parameter. */
class SamplingTest {

    @Test
    void withersReturnNewInstancesAndLeaveTheOriginalAlone() {
        Sampling d = Sampling.defaults();
        Sampling s = d.temperature(0.7).topP(0.9).maxTokens(256).seed(42).stop("\n\n");
        assertEquals(0.8, d.temperature());
        assertEquals(0.95, d.topP());
        assertEquals(512, d.maxTokens());
        assertEquals(OptionalLong.empty(), d.seed());
        assertEquals(List.of(), d.stop());
        assertEquals(0.7, s.temperature());
        assertEquals(0.9, s.topP());
        assertEquals(256, s.maxTokens());
        assertEquals(OptionalLong.of(42), s.seed());
        assertEquals(List.of("\n\n"), s.stop());
        assertEquals(40, s.topK());
        assertNotEquals(d, s);
        assertEquals(s, Sampling.defaults().temperature(0.7).topP(0.9).maxTokens(256).seed(42).stop("\n\n"));
        assertEquals(s.hashCode(), Sampling.defaults().temperature(0.7).topP(0.9).maxTokens(256).seed(42).stop("\n\n").hashCode());
    }

    @Test
    void greedyIsTemperatureZero() {
        assertTrue(Sampling.greedy().isGreedy());
        assertEquals(0.0, Sampling.greedy().temperature());
        assertTrue(!Sampling.defaults().isGreedy());
    }

    @Test
    void collectionsAccumulateAndAreUnmodifiable() {
        Sampling s = Sampling.defaults().stop("a", "b").stop("a", "c").stopTokens(5, 7).stopTokens(5)
                .logitBias(3, 1.5f).logitBias(1, Float.NEGATIVE_INFINITY).logitBias(3, -2f);
        assertEquals(List.of("a", "b", "c"), s.stop());
        assertEquals(Set.of(5, 7), s.stopTokens());
        assertEquals(Map.of(1, Float.NEGATIVE_INFINITY, 3, -2f), s.logitBias());
        assertEquals(List.of(1, 3), List.copyOf(s.logitBias().keySet()));
        assertThrows(UnsupportedOperationException.class, () -> s.stop().add("x"));
        assertThrows(UnsupportedOperationException.class, () -> s.stopTokens().add(1));
        assertThrows(UnsupportedOperationException.class, () -> s.logitBias().put(1, 1f));
    }

    private static void invalid(String parameter, Supplier<Sampling> call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::get, parameter);
        assertTrue(e.getMessage().contains(parameter), "message should name " + parameter + ": " + e.getMessage());
    }

    @Test
    void everyInvalidValueIsRejectedNamingTheParameter() {
        Sampling d = Sampling.defaults();
        invalid("temperature", () -> d.temperature(-0.1));
        invalid("temperature", () -> d.temperature(Double.NaN));
        invalid("temperature", () -> d.temperature(Double.POSITIVE_INFINITY));
        invalid("topK", () -> d.topK(-1));
        invalid("topP", () -> d.topP(0));
        invalid("topP", () -> d.topP(-0.5));
        invalid("topP", () -> d.topP(1.0001));
        invalid("topP", () -> d.topP(Double.NaN));
        invalid("minP", () -> d.minP(-0.01));
        invalid("minP", () -> d.minP(1.5));
        invalid("minP", () -> d.minP(Double.NaN));
        invalid("typicalP", () -> d.typicalP(0));
        invalid("typicalP", () -> d.typicalP(2));
        invalid("repetitionPenalty", () -> d.repetitionPenalty(0));
        invalid("repetitionPenalty", () -> d.repetitionPenalty(-1));
        invalid("repetitionPenalty", () -> d.repetitionPenalty(Double.POSITIVE_INFINITY));
        invalid("presencePenalty", () -> d.presencePenalty(Double.NaN));
        invalid("frequencyPenalty", () -> d.frequencyPenalty(Double.NEGATIVE_INFINITY));
        invalid("penaltyWindow", () -> d.penaltyWindow(-1));
        invalid("logitBias", () -> d.logitBias(-1, 1f));
        invalid("logitBias", () -> d.logitBias(4, Float.NaN));
        invalid("logitBias", () -> d.logitBias(4, Float.POSITIVE_INFINITY));
        invalid("stop", () -> d.stop(""));
        invalid("stop", () -> d.stop("ok", null));
        invalid("stopTokens", () -> d.stopTokens(3, -2));
        invalid("maxTokens", () -> d.maxTokens(0));
        invalid("maxTokens", () -> d.maxTokens(-5));
    }

    @Test
    void boundaryValuesAreAccepted() {
        Sampling s = Sampling.defaults().temperature(0).topK(0).topP(1).minP(0).minP(1).typicalP(1)
                .repetitionPenalty(1e-3).presencePenalty(-2).frequencyPenalty(2).penaltyWindow(0).maxTokens(1)
                .logitBias(0, Float.NEGATIVE_INFINITY);
        assertEquals(1.0, s.minP());
        assertEquals(1, s.maxTokens());
        assertEquals(-2.0, s.presencePenalty());
    }
}
