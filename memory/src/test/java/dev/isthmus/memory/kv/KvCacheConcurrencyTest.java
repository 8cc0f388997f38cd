package dev.isthmus.memory.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class KvCacheConcurrencyTest {

    @Test
    void manyThreadsAllocateAndFreeThenPoolIsFull() throws Exception {
        KvCacheConfig c = KvCacheConfig.builder().type(KvType.F32).tokensPerBlock(4)
                .fullLayer(1, 8).slidingLayer(6, 1, 8).totalBlocks(48).build();
        int threads = 6;
        AtomicInteger fullCount = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        try (KvBlockPool pool = new KvBlockPool(c)) {
            ExecutorService ex = Executors.newFixedThreadPool(threads);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int th = 0; th < threads; th++) {
                int salt = th + 1;
                futures.add(ex.submit(() -> {
                    start.await();
                    Random r = new Random(salt);
                    for (int iter = 0; iter < 300; iter++) {
                        try (KvSequence s = pool.newSequence()) {
                            int steps = 1 + r.nextInt(6);
                            KvSequence fork = null;
                            try {
                                for (int i = 0; i < steps; i++) {
                                    int from = s.reserve(1 + r.nextInt(5));
                                    KvCacheTestSupport.fill(s, salt, from, s.length());
                                    if (fork == null && r.nextInt(4) == 0) {
                                        fork = s.fork();
                                    }
                                }
                                KvCacheTestSupport.check(s, salt, 0, s.length());
                                if (fork != null) {
                                    fork.reserve(1);
                                    KvCacheTestSupport.check(fork, salt, 0, fork.length() - 1);
                                }
                                done.incrementAndGet();
                            } catch (KvCacheFullException e) {
                                fullCount.incrementAndGet(); // expected under contention; nothing may leak
                            } finally {
                                if (fork != null) {
                                    fork.close();
                                }
                            }
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get();
            }
            ex.shutdown();
            assertEquals(48, pool.freeBlocks(), "every block back (" + done + " completed, " + fullCount + " hit a full pool)");
            for (int b = 0; b < 48; b++) {
                assertEquals(0, pool.refCount(b));
            }
        }
    }
}
