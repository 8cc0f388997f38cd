package dev.isthmus.kernels.cpu.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** The op pool: every unit runs exactly once per call, from spinning, parked and quiesced workers alike. */
class OpPoolTest {

    @Test
    void everyUnitRunsOncePerCallWhateverTheWorkersWereDoing() throws Exception {
        try (OpPool pool = new OpPool(3)) {
            for (int call = 0; call < 300; call++) {
                int units = 1 + call % 17;
                AtomicIntegerArray ran = new AtomicIntegerArray(units);
                AtomicIntegerArray workerSeen = new AtomicIntegerArray(3);
                pool.run((unit, worker) -> {
                    ran.incrementAndGet(unit);
                    workerSeen.incrementAndGet(worker);
                }, units);
                for (int u = 0; u < units; u++) {
                    assertEquals(1, ran.get(u), "unit " + u + " of call " + call);
                }
                // alternate between back-to-back calls (spinning workers), quiesced workers and parked ones
                switch (call % 3) {
                    case 0 -> pool.quiesce();
                    case 1 -> Thread.sleep(2);   // past the spin: the workers park
                    default -> { }
                }
            }
        }
    }

    @Test
    void aFailingUnitIsRethrownAndThePoolStaysUsable() {
        try (OpPool pool = new OpPool(2)) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> pool.run((unit, worker) -> {
                if (unit == 5) {
                    throw new IllegalArgumentException("unit 5");
                }
            }, 8));
            assertTrue(e.getMessage().contains("unit 5") || (e.getCause() != null
                    && e.getCause().getMessage().contains("unit 5")), e.toString());
            AtomicIntegerArray ran = new AtomicIntegerArray(8);
            pool.run((unit, worker) -> ran.incrementAndGet(unit), 8);
            for (int u = 0; u < 8; u++) {
                assertEquals(1, ran.get(u));
            }
        }
    }

    @Test
    void closedPoolRefusesWork() {
        OpPool pool = new OpPool(2);
        pool.close();
        assertThrows(IllegalStateException.class, () -> pool.run((unit, worker) -> { }, 4));
        pool.close(); // idempotent
    }
}
