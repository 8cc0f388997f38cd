package dev.isthmus.runtime.template;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Python value semantics for the template interpreter. Values are {@code null} (None),
 * {@link #UNDEFINED}-style {@link Undefined}, {@code Boolean}, {@code Long}, {@code Double},
 * {@code String}, {@code List<Object>}, {@code Map<String, Object>} (insertion-ordered),
 * {@link Namespace}, {@link Fn} and {@link Interpreter.Loop}; nothing else reaches a template.
 */
final class Py {
    private Py() {}

    /** Jinja's default undefined value: prints as empty, is false, iterates as empty; using it otherwise is an error. */
    record Undefined(String name) {}

    /** A {@code namespace(...)} object: attributes settable with {@code set ns.attr = ...}. */
    static final class Namespace {
        final Map<String, Object> attrs = new java.util.LinkedHashMap<>();
    }

    /** A callable: a global function, a bound method, or a macro. */
    @FunctionalInterface
    interface Fn {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    static final Undefined UNDEFINED = new Undefined(null);

    static TemplateException typeError(String message) {
        return new TemplateException("TypeError: " + message);
    }

    static String typeName(Object v) {
        if (v == null) return "NoneType";
        if (v instanceof Undefined) return "Undefined";
        if (v instanceof Boolean) return "bool";
        if (v instanceof Long) return "int";
        if (v instanceof Double) return "float";
        if (v instanceof String) return "str";
        if (v instanceof List<?>) return "list";
        if (v instanceof Map<?, ?>) return "dict";
        if (v instanceof Namespace) return "Namespace";
        if (v instanceof Fn) return "function";
        if (v instanceof Interpreter.Loop) return "LoopContext";
        return "object";
    }

    static boolean truthy(Object v) {
        if (v == null || v instanceof Undefined) return false;
        if (v instanceof Boolean b) return b;
        if (v instanceof Long l) return l != 0;
        if (v instanceof Double d) return d != 0;
        if (v instanceof String s) return !s.isEmpty();
        if (v instanceof List<?> l) return !l.isEmpty();
        if (v instanceof Map<?, ?> m) return !m.isEmpty();
        return true;
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean;
    }

    static double toDouble(Object v) {
        if (v instanceof Long l) return l;
        if (v instanceof Double d) return d;
        if (v instanceof Boolean b) return b ? 1 : 0;
        throw typeError("expected a number, got " + typeName(v));
    }

    static long toLong(Object v) {
        if (v instanceof Long l) return l;
        if (v instanceof Boolean b) return b ? 1 : 0;
        throw typeError("expected an integer, got " + typeName(v));
    }

    static boolean isInteger(Object v) {
        return v instanceof Long || v instanceof Boolean;
    }

    // ------------------------------------------------------------------ equality and order

    static boolean eq(Object a, Object b) {
        if (a == b) return true;
        if (a == null || b == null) return false;
        if (a instanceof Undefined || b instanceof Undefined) return a instanceof Undefined && b instanceof Undefined;
        if (isNumber(a) && isNumber(b)) {
            if (isInteger(a) && isInteger(b)) return toLong(a) == toLong(b);
            return toDouble(a) == toDouble(b);
        }
        if (a instanceof String s) return s.equals(b);
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) return false;
            for (int i = 0; i < x.size(); i++) if (!eq(x.get(i), y.get(i))) return false;
            return true;
        }
        if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
            if (x.size() != y.size()) return false;
            for (var e : x.entrySet()) {
                if (!y.containsKey(e.getKey()) || !eq(e.getValue(), y.get(e.getKey()))) return false;
            }
            return true;
        }
        return false;
    }

    static int compare(Object a, Object b) {
        if (isNumber(a) && isNumber(b)) {
            if (isInteger(a) && isInteger(b)) return Long.compare(toLong(a), toLong(b));
            return Double.compare(toDouble(a), toDouble(b));
        }
        if (a instanceof String x && b instanceof String y) return x.compareTo(y);
        if (a instanceof List<?> x && b instanceof List<?> y) {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                int c = compare(x.get(i), y.get(i));
                if (c != 0) return c;
            }
            return Integer.compare(x.size(), y.size());
        }
        throw typeError("'<' not supported between instances of '" + typeName(a) + "' and '" + typeName(b) + "'");
    }

    static boolean contains(Object container, Object item) {
        if (container instanceof String s) {
            if (!(item instanceof String t)) throw typeError("'in <string>' requires string as left operand, not " + typeName(item));
            return s.contains(t);
        }
        if (container instanceof List<?> l) {
            for (Object o : l) if (eq(o, item)) return true;
            return false;
        }
        if (container instanceof Map<?, ?> m) return item instanceof String && m.containsKey(item);
        if (container instanceof Undefined) return false;
        throw typeError("argument of type '" + typeName(container) + "' is not iterable");
    }

    // ------------------------------------------------------------------ iteration

    static List<Object> iterate(Object v) {
        if (v instanceof List<?> l) {
            @SuppressWarnings("unchecked") List<Object> r = (List<Object>) l;
            return r;
        }
        if (v instanceof Map<?, ?> m) return new ArrayList<>(m.keySet());
        if (v instanceof String s) {
            List<Object> out = new ArrayList<>();
            s.codePoints().forEach(cp -> out.add(new String(Character.toChars(cp))));
            return out;
        }
        if (v instanceof Undefined) return List.of();
        throw typeError("'" + typeName(v) + "' object is not iterable");
    }

    static int length(Object v) {
        if (v instanceof String s) return s.codePointCount(0, s.length());
        if (v instanceof List<?> l) return l.size();
        if (v instanceof Map<?, ?> m) return m.size();
        if (v instanceof Undefined) return 0;
        throw typeError("object of type '" + typeName(v) + "' has no len()");
    }

    // ------------------------------------------------------------------ str() and repr()

    static String str(Object v) {
        if (v instanceof String s) return s;
        if (v instanceof Undefined) return "";
        StringBuilder sb = new StringBuilder();
        repr(v, sb, false);
        return sb.toString();
    }

    static void repr(Object v, StringBuilder sb, boolean quoteStrings) {
        if (v == null) sb.append("None");
        else if (v instanceof Undefined) sb.append("");
        else if (v instanceof Boolean b) sb.append(b ? "True" : "False");
        else if (v instanceof Long l) sb.append(l);
        else if (v instanceof Double d) sb.append(floatRepr(d));
        else if (v instanceof String s) {
            if (quoteStrings) stringRepr(s, sb); else sb.append(s);
        } else if (v instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(", ");
                repr(l.get(i), sb, true);
            }
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            boolean first = true;
            for (var e : m.entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                repr(e.getKey(), sb, true);
                sb.append(": ");
                repr(e.getValue(), sb, true);
            }
            sb.append('}');
        } else if (v instanceof Namespace ns) {
            sb.append("<Namespace ");
            repr(ns.attrs, sb, true);
            sb.append('>');
        } else if (v instanceof Fn) sb.append("<function>");
        else sb.append('<').append(typeName(v)).append('>');
    }

    private static void stringRepr(String s, StringBuilder sb) {
        char q = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        sb.append(q);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c == q) sb.append('\\').append(c);
                    else if (c < 0x20 || c == 0x7f) sb.append(String.format("\\x%02x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append(q);
    }

    /** Python's repr of a float: the shortest round-trip digits, exponent form outside [1e-4, 1e16). */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        // Double.toString gives the shortest digits that round-trip (JDK 19+)
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int decpt = digits.length() - bd.scale();   // value = 0.digits × 10^decpt
        StringBuilder sb = new StringBuilder();
        if (d < 0) sb.append('-');
        if (decpt > -4 && decpt <= 16) {
            if (decpt <= 0) {
                sb.append("0.");
                sb.append("0".repeat(-decpt)).append(digits);
            } else if (decpt >= digits.length()) {
                sb.append(digits).append("0".repeat(decpt - digits.length())).append(".0");
            } else {
                sb.append(digits, 0, decpt).append('.').append(digits, decpt, digits.length());
            }
        } else {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
            int exp = decpt - 1;
            sb.append('e').append(exp < 0 ? '-' : '+');
            int a = Math.abs(exp);
            if (a < 10) sb.append('0');
            sb.append(a);
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ JSON (Python's json.dumps)

    static String toJson(Object v, String indent, String itemSep, String keySep, boolean sortKeys, boolean ensureAscii) {
        StringBuilder sb = new StringBuilder();
        json(v, sb, indent, itemSep, keySep, sortKeys, ensureAscii, 0);
        return sb.toString();
    }

    private static void json(Object v, StringBuilder sb, String indent, String itemSep, String keySep,
                             boolean sortKeys, boolean ensureAscii, int level) {
        if (v == null) sb.append("null");
        else if (v instanceof Boolean b) sb.append(b ? "true" : "false");
        else if (v instanceof Long l) sb.append(l);
        else if (v instanceof Double d) {
            if (Double.isNaN(d)) sb.append("NaN");
            else if (Double.isInfinite(d)) sb.append(d > 0 ? "Infinity" : "-Infinity");
            else sb.append(floatRepr(d));
        } else if (v instanceof String s) jsonString(s, sb, ensureAscii);
        else if (v instanceof List<?> l) {
            if (l.isEmpty()) { sb.append("[]"); return; }
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                if (i > 0) sb.append(itemSep);
                newline(sb, indent, level + 1);
                json(l.get(i), sb, indent, itemSep, keySep, sortKeys, ensureAscii, level + 1);
            }
            newline(sb, indent, level);
            sb.append(']');
        } else if (v instanceof Map<?, ?> m) {
            if (m.isEmpty()) { sb.append("{}"); return; }
            List<? extends Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
            if (sortKeys) entries.sort((x, y) -> ((String) x.getKey()).compareTo((String) y.getKey()));
            sb.append('{');
            boolean first = true;
            for (var e : entries) {
                if (!first) sb.append(itemSep);
                first = false;
                newline(sb, indent, level + 1);
                jsonString((String) e.getKey(), sb, ensureAscii);
                sb.append(keySep);
                json(e.getValue(), sb, indent, itemSep, keySep, sortKeys, ensureAscii, level + 1);
            }
            newline(sb, indent, level);
            sb.append('}');
        } else if (v instanceof Namespace ns) {
            json(ns.attrs, sb, indent, itemSep, keySep, sortKeys, ensureAscii, level);
        } else {
            throw typeError("Object of type " + typeName(v) + " is not JSON serializable");
        }
    }

    private static void newline(StringBuilder sb, String indent, int level) {
        if (indent == null) return;
        sb.append('\n');
        for (int i = 0; i < level; i++) sb.append(indent);
    }

    private static void jsonString(String s, StringBuilder sb, boolean ensureAscii) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    // ------------------------------------------------------------------ conversion of caller data

    /**
     * Copies caller data into template values: maps with string keys, lists (and arrays), strings,
     * numbers, booleans and null. Anything else is refused, so no other Java object reaches a template.
     */
    static Object fromJava(Object v, int depth) {
        if (depth > 64) throw new IllegalArgumentException("template variables nest deeper than 64 levels");
        if (v == null || v instanceof String || v instanceof Boolean) return v;
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte)
            return ((Number) v).longValue();
        if (v instanceof Float || v instanceof Double) return ((Number) v).doubleValue();
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new java.util.LinkedHashMap<>();
            for (var e : m.entrySet()) {
                if (!(e.getKey() instanceof String k))
                    throw new IllegalArgumentException("template variable maps need string keys, got " + e.getKey());
                out.put(k, fromJava(e.getValue(), depth + 1));
            }
            return out;
        }
        if (v instanceof Iterable<?> it) {
            List<Object> out = new ArrayList<>();
            for (Iterator<?> i = it.iterator(); i.hasNext(); ) out.add(fromJava(i.next(), depth + 1));
            return out;
        }
        if (v instanceof Object[] arr) {
            List<Object> out = new ArrayList<>();
            for (Object o : arr) out.add(fromJava(o, depth + 1));
            return out;
        }
        throw new IllegalArgumentException("a template variable cannot be a " + v.getClass().getName()
                + " (only maps, lists, strings, numbers, booleans and null)");
    }
}
