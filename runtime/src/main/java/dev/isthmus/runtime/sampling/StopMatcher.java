package dev.isthmus.runtime.sampling;

import java.util.List;

/**
 * Finds stop strings in streamed text, also when one spans several tokens, and says how much of the
 * text is safe to show now.
 *
 * <p>Feed each token's text to {@link #push}; it returns what can be emitted at once. Text that could
 * still become the start of a stop string (a suffix of what has arrived that is a prefix of some stop
 * string) is held back until the next piece decides it. When a stop string appears,
 * {@link #stopped()} turns true, {@code push} returns the text before it, and the stop string and
 * anything after it are dropped. At the end of a generation that did not stop on a string,
 * {@link #flush()} returns the held-back rest. One matcher per generation; not thread-safe.
 */
public final class StopMatcher {
    private final String[] stops;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;
    private String matched;

    /**
     * @param stops the stop strings (each non-empty); an empty list never stops
     * @throws IllegalArgumentException if a stop string is null or empty
     */
    public StopMatcher(List<String> stops) {
        this.stops = stops.toArray(new String[0]);
        for (String s : this.stops)
            if (s == null || s.isEmpty()) throw new IllegalArgumentException("stop strings must be non-empty");
    }

    /**
     * Adds the next piece of text.
     *
     * @param piece the text of the next token(s)
     * @return the text that can be emitted now (possibly empty)
     * @throws IllegalStateException if the matcher has already stopped
     */
    public String push(CharSequence piece) {
        if (stopped) throw new IllegalStateException("the stop string \"" + matched + "\" was already found");
        int from = Math.max(0, pending.length() - maxStopLength() + 1);
        pending.append(piece);
        // the earliest occurrence of any stop string (longer first at the same position)
        int at = -1;
        for (String s : stops) {
            int i = pending.indexOf(s, from);
            if (i >= 0 && (at < 0 || i < at || (i == at && s.length() > matched.length()))) {
                at = i;
                matched = s;
            }
        }
        if (at >= 0) {
            stopped = true;
            String out = pending.substring(0, at);
            pending.setLength(0);
            return out;
        }
        int hold = heldBack();
        String out = pending.substring(0, pending.length() - hold);
        pending.delete(0, pending.length() - hold);
        return out;
    }

    /** @return the held-back text (at the end of a generation that did not stop); empty after a stop */
    public String flush() {
        String out = pending.toString();
        pending.setLength(0);
        return out;
    }

    /** @return whether a stop string has been found */
    public boolean stopped() {
        return stopped;
    }

    /** @return the stop string that was found, or null */
    public String matched() {
        return stopped ? matched : null;
    }

    /** @return how many characters are held back now */
    public int pendingLength() {
        return pending.length();
    }

    private int maxStopLength() {
        int m = 1;
        for (String s : stops) m = Math.max(m, s.length());
        return m;
    }

    /** The longest suffix of the pending text that is a proper prefix of some stop string. */
    private int heldBack() {
        int len = pending.length();
        int best = 0;
        for (String s : stops) {
            for (int k = Math.min(len, s.length() - 1); k > best; k--) {
                if (regionMatches(len - k, s, k)) { best = k; break; }
            }
        }
        return best;
    }

    private boolean regionMatches(int start, String s, int k) {
        for (int i = 0; i < k; i++) if (pending.charAt(start + i) != s.charAt(i)) return false;
        return true;
    }
}
