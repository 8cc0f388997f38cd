package dev.isthmus.nativebindings;

import java.util.Objects;

/**
 * Whether an optional native capability (a library, a driver, a device, a backend) can be used,
 * and why not when it cannot. Probes return this instead of throwing, so that a missing library is
 * a logged fallback and never a crash.
 *
 * @param available true when the capability can be used
 * @param reason    one human-readable line: what was found, or why it cannot be used
 */
public record Availability(boolean available, String reason) {
    public Availability {
        Objects.requireNonNull(reason, "reason");
    }

    /** An available capability, with a line describing what was found. */
    public static Availability yes(String what) {
        return new Availability(true, what);
    }

    /** An unavailable capability, with the reason. */
    public static Availability no(String why) {
        return new Availability(false, why);
    }

    @Override
    public String toString() {
        return (available ? "available: " : "unavailable: ") + reason;
    }
}
