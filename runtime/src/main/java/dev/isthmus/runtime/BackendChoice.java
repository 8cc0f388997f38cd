package dev.isthmus.runtime;

import dev.isthmus.memory.BackendProvider;
import dev.isthmus.nativebindings.Availability;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceLoader;

/**
 * Which backend runs a model, and why — decided once per process (or per explicit call), in the
 * manner of Lucene's {@code VectorizationProvider}: every provider found through
 * {@link ServiceLoader} is probed; the available one with the highest priority that can hold the
 * model wins; {@code -Disthmus.backend=cpu|cuda} (or {@link #choose(List, String, long)}'s
 * override) forces a choice. The reason is one line, logged when the choice is made.
 *
 * @param backend  the chosen backend's name
 * @param reason   one line saying why
 * @param statuses every backend found, with its availability, in priority order
 */
public record BackendChoice(String backend, String reason, List<Status> statuses) {
    /** System property that forces a backend. */
    public static final String PROPERTY = "isthmus.backend";

    private static final System.Logger LOG = System.getLogger("dev.isthmus.runtime");

    /** A backend and what its probe said. */
    public record Status(String name, int priority, Availability availability, long memoryBytes) {
    }

    /** All backend providers on the module path or class path. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class, BackendChoice.class.getClassLoader()).forEach(list::add);
        return list;
    }

    /** Chooses for a model of unknown size, honouring {@code -Disthmus.backend}. */
    public static BackendChoice choose() {
        return choose(providers(), System.getProperty(PROPERTY), -1);
    }

    /**
     * Chooses among {@code providers}.
     *
     * @param override   a backend name that must be used (null or blank: choose automatically)
     * @param modelBytes bytes the model needs on the backend (weights and caches), or -1 if unknown
     * @throws IllegalArgumentException when the override names no known backend
     * @throws IllegalStateException    when the override names a backend that cannot run here
     */
    public static BackendChoice choose(List<BackendProvider> providers, String override, long modelBytes) {
        List<Status> statuses = new ArrayList<>();
        for (BackendProvider p : providers) {
            Availability a;
            try {
                a = p.probe();
            } catch (RuntimeException | LinkageError e) {
                a = Availability.no("probe failed: " + e);
            }
            statuses.add(new Status(p.name(), p.priority(), a, a.available() ? safeMemory(p) : -1));
        }
        statuses.sort(Comparator.comparingInt(Status::priority).reversed().thenComparing(Status::name));
        BackendChoice choice;
        if (override != null && !override.isBlank()) {
            String want = override.trim().toLowerCase(Locale.ROOT);
            Status s = statuses.stream().filter(x -> x.name().equals(want)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("-D" + PROPERTY + "=" + override
                            + " names no backend; known: " + statuses.stream().map(Status::name).toList()));
            if (!s.availability().available()) {
                throw new IllegalStateException("-D" + PROPERTY + "=" + want + " was requested, but " + want
                        + " is unavailable: " + s.availability().reason());
            }
            choice = new BackendChoice(want, "forced by -D" + PROPERTY + "=" + want + " (" + s.availability().reason() + ")", statuses);
        } else {
            choice = automatic(statuses, modelBytes);
        }
        LOG.log(System.Logger.Level.DEBUG, "backend {0}: {1}", choice.backend(), choice.reason());
        return choice;
    }

    private static long safeMemory(BackendProvider p) {
        try {
            return p.memoryBytes();
        } catch (RuntimeException e) {
            return -1;
        }
    }

    private static BackendChoice automatic(List<Status> statuses, long modelBytes) {
        List<String> passedOver = new ArrayList<>();
        for (Status s : statuses) {
            if (!s.availability().available()) {
                passedOver.add(s.name() + " unavailable (" + s.availability().reason() + ")");
                continue;
            }
            if (modelBytes > 0 && s.memoryBytes() >= 0 && s.memoryBytes() < modelBytes && s.priority() > 0) {
                passedOver.add(s.name() + " too small (model needs " + ModelInspection.human(modelBytes)
                        + ", " + ModelInspection.human(s.memoryBytes()) + " free)");
                continue;
            }
            String why = s.availability().reason();
            if (!passedOver.isEmpty()) {
                why += "; " + String.join("; ", passedOver);
            }
            return new BackendChoice(s.name(), why, statuses);
        }
        throw new IllegalStateException("no backend can run here: " + String.join("; ", passedOver));
    }

    /**
     * Chooses a backend (as {@link #choose(List, String, long)}; {@code override} null or blank for the
     * probe's choice, else the named one) and opens it for computing.
     *
     * @param threads CPU threads (0: the physical cores)
     * @throws IllegalArgumentException when the override names no known backend
     * @throws IllegalStateException    when the chosen backend cannot run or compute here
     */
    public static dev.isthmus.memory.backend.Backend open(String override, int threads) {
        List<BackendProvider> providers = providers();
        BackendChoice choice = choose(providers, override, -1);
        BackendProvider p = providers.stream().filter(x -> x.name().equals(choice.backend())).findFirst().orElseThrow();
        try {
            return p.open(threads);
        } catch (UnsupportedOperationException e) {
            throw new IllegalStateException("the " + p.name() + " backend cannot run models: " + e.getMessage(), e);
        }
    }
}
