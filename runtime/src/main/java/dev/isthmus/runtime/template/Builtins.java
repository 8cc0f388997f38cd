package dev.isthmus.runtime.template;

import dev.isthmus.runtime.template.Py.Fn;
import dev.isthmus.runtime.template.Py.Namespace;
import dev.isthmus.runtime.template.Py.Undefined;
import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The filters, tests, global functions and Python methods (of str, dict and list) that chat
 * templates use, written to behave as Jinja2 and Python do in transformers' chat-template environment
 * (its own {@code tojson}: {@code json.dumps} with {@code ensure_ascii=False}; {@code raise_exception};
 * {@code strftime_now}). Methods that would mutate a list or dict are absent, as in Jinja's immutable
 * sandbox.
 */
final class Builtins {
    /** The largest string one filter or method may build in a single step. */
    static final int MAX_BUILT_CHARS = 16 << 20;

    private final Supplier<LocalDateTime> clock;

    Builtins(Supplier<LocalDateTime> clock) {
        this.clock = clock;
    }

    // ------------------------------------------------------------------ globals

    void addGlobals(Map<String, Object> vars) {
        vars.put("raise_exception", (Fn) (args, kw) -> {
            throw new TemplateException("TemplateError: " + (args.isEmpty() ? "" : Py.str(args.get(0))));
        });
        vars.put("strftime_now", (Fn) (args, kw) -> {
            if (args.size() != 1 || !(args.get(0) instanceof String f)) throw Py.typeError("strftime_now(format) takes one string");
            return strftime(f, clock.get());
        });
        vars.put("namespace", (Fn) (args, kw) -> {
            Namespace ns = new Namespace();
            for (Object a : args) {
                if (!(a instanceof Map<?, ?> m)) throw Py.typeError("namespace() takes keyword arguments or a dict");
                for (var e : m.entrySet()) ns.attrs.put((String) e.getKey(), e.getValue());
            }
            ns.attrs.putAll(kw);
            return ns;
        });
        vars.put("range", (Fn) (args, kw) -> {
            long start = 0, stop, step = 1;
            if (args.size() == 1) stop = Py.toLong(args.get(0));
            else if (args.size() == 2 || args.size() == 3) {
                start = Py.toLong(args.get(0));
                stop = Py.toLong(args.get(1));
                if (args.size() == 3) step = Py.toLong(args.get(2));
            } else throw Py.typeError("range expected 1 to 3 arguments, got " + args.size());
            if (step == 0) throw new TemplateException("ValueError: range() arg 3 must not be zero");
            long count = step > 0 ? Math.max(0, (stop - start + step - 1) / step) : Math.max(0, (start - stop - step - 1) / -step);
            if (count > 100_000) throw new TemplateException("range() of more than 100000 items (sandbox limit)");
            List<Object> out = new ArrayList<>();
            for (long i = 0; i < count; i++) out.add(start + i * step);
            return out;
        });
        vars.put("dict", (Fn) (args, kw) -> {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Object a : args) {
                if (!(a instanceof Map<?, ?> m)) throw Py.typeError("dict() takes keyword arguments or a dict");
                for (var e : m.entrySet()) out.put((String) e.getKey(), e.getValue());
            }
            out.putAll(kw);
            return out;
        });
    }

    /** Python's strftime for the codes chat templates use (the glibc {@code -} flag drops padding). */
    static String strftime(String format, LocalDateTime t) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) { sb.append(c); continue; }
            char f = format.charAt(++i);
            boolean noPad = false;
            if (f == '-' && i + 1 < format.length()) { noPad = true; f = format.charAt(++i); }
            switch (f) {
                case 'Y' -> sb.append(t.getYear());
                case 'y' -> pad(sb, t.getYear() % 100, 2, noPad);
                case 'm' -> pad(sb, t.getMonthValue(), 2, noPad);
                case 'd' -> pad(sb, t.getDayOfMonth(), 2, noPad);
                case 'e' -> sb.append(t.getDayOfMonth() < 10 && !noPad ? " " : "").append(t.getDayOfMonth());
                case 'j' -> pad(sb, t.getDayOfYear(), 3, noPad);
                case 'H' -> pad(sb, t.getHour(), 2, noPad);
                case 'I' -> pad(sb, (t.getHour() + 11) % 12 + 1, 2, noPad);
                case 'M' -> pad(sb, t.getMinute(), 2, noPad);
                case 'S' -> pad(sb, t.getSecond(), 2, noPad);
                case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'w' -> sb.append(t.getDayOfWeek().getValue() % 7);
                case 'F' -> sb.append(strftime("%Y-%m-%d", t));
                case 'T' -> sb.append(strftime("%H:%M:%S", t));
                case 'D' -> sb.append(strftime("%m/%d/%y", t));
                case 'Z', 'z' -> { }
                case '%' -> sb.append('%');
                default -> sb.append('%').append(noPad ? "-" : "").append(f);
            }
        }
        return sb.toString();
    }

    private static void pad(StringBuilder sb, int v, int width, boolean noPad) {
        String s = Integer.toString(v);
        if (!noPad) for (int i = s.length(); i < width; i++) sb.append('0');
        sb.append(s);
    }

    // ------------------------------------------------------------------ methods

    Fn stringMethod(String s, String name) {
        return switch (name) {
            case "strip" -> (a, kw) -> strip(s, chars(a), true, true);
            case "lstrip" -> (a, kw) -> strip(s, chars(a), true, false);
            case "rstrip" -> (a, kw) -> strip(s, chars(a), false, true);
            case "startswith" -> (a, kw) -> affix(s, arg(a, 0, "startswith"), true);
            case "endswith" -> (a, kw) -> affix(s, arg(a, 0, "endswith"), false);
            case "split" -> (a, kw) -> split(s, a.isEmpty() ? kw.get("sep") : a.get(0),
                    a.size() > 1 ? Py.toLong(a.get(1)) : kw.containsKey("maxsplit") ? Py.toLong(kw.get("maxsplit")) : -1);
            case "upper" -> (a, kw) -> s.toUpperCase(Locale.ROOT);
            case "lower" -> (a, kw) -> s.toLowerCase(Locale.ROOT);
            case "title" -> (a, kw) -> title(s);
            case "capitalize" -> (a, kw) -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "replace" -> (a, kw) -> replace(s, str(arg(a, 0, "replace")), str(arg(a, 1, "replace")), a.size() > 2 ? Py.toLong(a.get(2)) : -1);
            case "find" -> (a, kw) -> (long) s.indexOf(str(arg(a, 0, "find")));
            case "count" -> (a, kw) -> {
                String t = str(arg(a, 0, "count"));
                if (t.isEmpty()) return (long) Py.length(s) + 1;
                long c = 0;
                for (int i = s.indexOf(t); i >= 0; i = s.indexOf(t, i + t.length())) c++;
                return c;
            };
            case "join" -> (a, kw) -> join(Py.iterate(arg(a, 0, "join")), s);
            case "splitlines" -> (a, kw) -> {
                List<Object> out = new ArrayList<>();
                for (String line : s.split("\r\n|\r|\n", -1)) out.add(line);
                if (!out.isEmpty() && ((String) out.get(out.size() - 1)).isEmpty()) out.remove(out.size() - 1);
                return out;
            };
            case "isdigit" -> (a, kw) -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isspace" -> (a, kw) -> !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
            case "isalpha" -> (a, kw) -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "format" -> (a, kw) -> format(s, a, kw);
            default -> null;
        };
    }

    Fn dictMethod(Map<?, ?> m, String name) {
        return switch (name) {
            case "items" -> (a, kw) -> {
                List<Object> out = new ArrayList<>();
                for (var e : m.entrySet()) {
                    List<Object> pair = new ArrayList<>(2);
                    pair.add(e.getKey());
                    pair.add(e.getValue());
                    out.add(pair);
                }
                return out;
            };
            case "keys" -> (a, kw) -> new ArrayList<Object>(m.keySet());
            case "values" -> (a, kw) -> new ArrayList<Object>(m.values());
            case "get" -> (a, kw) -> {
                Object k = arg(a, 0, "get");
                if (m.containsKey(k)) return m.get(k);
                return a.size() > 1 ? a.get(1) : null;
            };
            default -> null;
        };
    }

    Fn listMethod(List<?> l, String name) {
        return switch (name) {
            case "index" -> (a, kw) -> {
                Object x = arg(a, 0, "index");
                for (int i = 0; i < l.size(); i++) if (Py.eq(l.get(i), x)) return (long) i;
                throw new TemplateException("ValueError: " + Py.str(x) + " is not in list");
            };
            case "count" -> (a, kw) -> {
                Object x = arg(a, 0, "count");
                long c = 0;
                for (Object o : l) if (Py.eq(o, x)) c++;
                return c;
            };
            case "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse" -> (a, kw) -> {
                throw new TemplateException("SecurityError: access to a mutating list method ('" + name + "') is unsafe (lists are immutable in templates)");
            };
            default -> null;
        };
    }

    /** Python's printf-style {@code fmt % args}: %s, %r, %d/%i, %f/%e/%g with flags, width and precision, %%. */
    static String percentFormat(String fmt, List<?> args) {
        StringBuilder sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < fmt.length(); i++) {
            char c = fmt.charAt(i);
            if (c != '%') { sb.append(c); continue; }
            int j = i + 1;
            while (j < fmt.length() && "-+ 0#".indexOf(fmt.charAt(j)) >= 0) j++;
            while (j < fmt.length() && (Character.isDigit(fmt.charAt(j)) || fmt.charAt(j) == '.')) j++;
            if (j >= fmt.length()) throw new TemplateException("ValueError: incomplete format");
            char conv = fmt.charAt(j);
            String spec = fmt.substring(i + 1, j);
            for (String number : spec.replaceAll("^[-+ 0#]*", "").split("\\."))
                if (number.length() > 4) throw new TemplateException("ValueError: format width or precision over 9999 (sandbox limit)");
            i = j;
            if (conv == '%') { sb.append('%'); continue; }
            if (next >= args.size()) throw Py.typeError("not enough arguments for format string");
            Object a = args.get(next++);
            if (a == Interpreter.NONE) a = null;
            try {
                formatOne(sb, spec, conv, a);
            } catch (java.util.IllegalFormatException e) {
                throw new TemplateException("ValueError: unsupported format '%" + spec + conv + "'");
            }
        }
        if (next < args.size()) throw Py.typeError("not all arguments converted during string formatting");
        return sb.toString();
    }

    private static void formatOne(StringBuilder sb, String spec, char conv, Object a) {
        {
            switch (conv) {
                case 's' -> sb.append(String.format("%" + spec + "s", Py.str(a)));
                case 'r' -> {
                    StringBuilder r = new StringBuilder();
                    Py.repr(a, r, true);
                    sb.append(String.format("%" + spec + "s", r));
                }
                case 'd', 'i' -> sb.append(String.format("%" + spec + "d", a instanceof Double d ? (long) d.doubleValue() : Py.toLong(a)));
                case 'f', 'F', 'e', 'E', 'g', 'G' -> sb.append(String.format("%" + spec + conv, Py.toDouble(a)));
                default -> throw new TemplateException("ValueError: unsupported format character '" + conv + "'");
            }
        }
    }

    private static int width(Object w) {
        long n = Py.toLong(w);
        if (n < 0 || n > 1000) throw new TemplateException("an indent of " + n + " is outside 0..1000");
        return (int) n;
    }

    private static Object arg(List<Object> a, int i, String fn) {
        if (a.size() <= i) throw Py.typeError(fn + "() is missing an argument");
        return a.get(i);
    }

    private static String str(Object v) {
        if (!(v instanceof String s)) throw Py.typeError("expected a str, got " + Py.typeName(v));
        return s;
    }

    private static String chars(List<Object> a) {
        if (a.isEmpty() || a.get(0) == null) return null;
        return str(a.get(0));
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int b = 0, e = s.length();
        if (left) while (b < e && strippable(s.charAt(b), chars)) b++;
        if (right) while (e > b && strippable(s.charAt(e - 1), chars)) e--;
        return s.substring(b, e);
    }

    private static boolean strippable(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
    }

    private static boolean affix(String s, Object arg, boolean prefix) {
        if (arg instanceof List<?> options) {
            for (Object o : options) if (affix(s, o, prefix)) return true;
            return false;
        }
        String t = str(arg);
        return prefix ? s.startsWith(t) : s.endsWith(t);
    }

    private static List<Object> split(String s, Object sep, long maxSplit) {
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            // whitespace runs, no empty strings
            int i = 0, n = s.length();
            while (true) {
                while (i < n && Character.isWhitespace(s.charAt(i))) i++;
                if (i >= n) break;
                if (maxSplit >= 0 && out.size() == maxSplit) {
                    out.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !Character.isWhitespace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        String d = str(sep);
        if (d.isEmpty()) throw new TemplateException("ValueError: empty separator");
        int from = 0;
        while (maxSplit < 0 || out.size() < maxSplit) {
            int at = s.indexOf(d, from);
            if (at < 0) break;
            out.add(s.substring(from, at));
            from = at + d.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static String replace(String s, String old, String by, long count) {
        long matches = old.isEmpty() ? s.length() + 1L : (s.length() / old.length());
        if (by.length() > old.length() && matches * (by.length() - old.length()) > MAX_BUILT_CHARS)
            throw new TemplateException("replace() could build more than " + MAX_BUILT_CHARS + " characters (sandbox limit)");
        if (count < 0) return s.replace(old, by);
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (long k = 0; k < count; k++) {
            int at = old.isEmpty() ? (from <= s.length() ? from : -1) : s.indexOf(old, from);
            if (at < 0) break;
            sb.append(s, from, at).append(by);
            from = at + old.length();
            if (old.isEmpty()) {
                if (at < s.length()) sb.append(s.charAt(at));
                from = at + 1;
            }
        }
        if (from <= s.length()) sb.append(s.substring(Math.min(from, s.length())));
        return sb.toString();
    }

    private static String title(String s) {
        StringBuilder sb = new StringBuilder();
        boolean prevCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            sb.append(prevCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
            prevCased = Character.isLetter(c);
        }
        return sb.toString();
    }

    private static String join(List<Object> items, String sep) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) sb.append(sep);
            sb.append(Py.str(items.get(i)));
        }
        return sb.toString();
    }

    private static String format(String s, List<Object> args, Map<String, Object> kw) {
        StringBuilder sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '{' && i + 1 < s.length() && s.charAt(i + 1) == '{') { sb.append('{'); i++; continue; }
            if (c == '}' && i + 1 < s.length() && s.charAt(i + 1) == '}') { sb.append('}'); i++; continue; }
            if (c != '{') { sb.append(c); continue; }
            int close = s.indexOf('}', i);
            if (close < 0) throw new TemplateException("ValueError: single '{' encountered in format string");
            String field = s.substring(i + 1, close);
            Object v;
            if (field.isEmpty()) v = arg(args, auto++, "format");
            else if (field.chars().allMatch(Character::isDigit)) v = arg(args, Integer.parseInt(field), "format");
            else if (kw.containsKey(field)) v = kw.get(field);
            else throw new TemplateException("KeyError: '" + field + "'");
            sb.append(Py.str(v));
            i = close;
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ filters

    Object filter(String name, Object v, List<Object> args, Map<String, Object> kw, Interpreter in) {
        return switch (name) {
            case "tojson" -> {
                Object indent = kw.containsKey("indent") ? kw.get("indent") : args.isEmpty() ? null : args.get(0);
                String ind = indent == null ? null : indent instanceof String s ? s : " ".repeat(width(indent));
                String itemSep = ind == null ? ", " : ",";
                String keySep = ": ";
                if (kw.get("separators") instanceof List<?> seps && seps.size() == 2) {
                    itemSep = str(seps.get(0));
                    keySep = str(seps.get(1));
                }
                yield Py.toJson(v, ind, itemSep, keySep, Py.truthy(kw.get("sort_keys")),
                        kw.containsKey("ensure_ascii") && Py.truthy(kw.get("ensure_ascii")));
            }
            case "format" -> percentFormat(Py.str(v), args);
            case "trim" -> strip(Py.str(v), args.isEmpty() ? null : chars(args), true, true);
            case "length", "count" -> (long) Py.length(v);
            case "upper" -> Py.str(v).toUpperCase(Locale.ROOT);
            case "lower" -> Py.str(v).toLowerCase(Locale.ROOT);
            case "title" -> title(Py.str(v));
            case "capitalize" -> {
                String s = Py.str(v);
                yield s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            }
            case "string" -> Py.str(v);
            case "safe", "escape_none" -> v;
            case "e", "escape" -> Py.str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                    .replace("\"", "&#34;").replace("'", "&#39;");
            case "default", "d" -> {
                Object dflt = args.isEmpty() ? "" : args.get(0);
                boolean bool = args.size() > 1 ? Py.truthy(args.get(1)) : Py.truthy(kw.get("boolean"));
                yield v instanceof Undefined || (bool && !Py.truthy(v)) ? dflt : v;
            }
            case "join" -> {
                String sep = args.isEmpty() ? (kw.containsKey("d") ? str(kw.get("d")) : "") : str(args.get(0));
                List<Object> items = Py.iterate(v);
                Object attr = kw.containsKey("attribute") ? kw.get("attribute") : args.size() > 1 ? args.get(1) : null;
                if (attr != null) {
                    List<Object> mapped = new ArrayList<>();
                    for (Object o : items) mapped.add(in.getItem(o, attr, 0));
                    items = mapped;
                }
                yield join(items, sep);
            }
            case "first" -> {
                List<Object> l = Py.iterate(v);
                yield l.isEmpty() ? new Undefined("first") : l.get(0);
            }
            case "last" -> {
                List<Object> l = Py.iterate(v);
                yield l.isEmpty() ? new Undefined("last") : l.get(l.size() - 1);
            }
            case "list" -> new ArrayList<>(Py.iterate(v));
            case "reverse" -> {
                if (v instanceof String s) yield new StringBuilder(s).reverse().toString();
                List<Object> l = new ArrayList<>(Py.iterate(v));
                java.util.Collections.reverse(l);
                yield l;
            }
            case "unique" -> {
                List<Object> out = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    boolean seen = false;
                    for (Object p : out) if (Py.eq(o, p)) { seen = true; break; }
                    if (!seen) out.add(o);
                }
                yield out;
            }
            case "int" -> {
                if (v instanceof String s) {
                    try { yield Long.parseLong(s.trim()); }
                    catch (NumberFormatException e) {
                        try { yield (long) Double.parseDouble(s.trim()); } catch (NumberFormatException e2) { yield args.isEmpty() ? 0L : args.get(0); }
                    }
                }
                if (v instanceof Double d) yield (long) d.doubleValue();
                if (Py.isInteger(v)) yield Py.toLong(v);
                yield args.isEmpty() ? 0L : args.get(0);
            }
            case "float" -> {
                if (v instanceof String s) {
                    try { yield Double.parseDouble(s.trim()); } catch (NumberFormatException e) { yield args.isEmpty() ? 0.0 : args.get(0); }
                }
                if (Py.isNumber(v)) yield Py.toDouble(v);
                yield args.isEmpty() ? 0.0 : args.get(0);
            }
            case "abs" -> v instanceof Double d ? Math.abs(d) : Math.abs(Py.toLong(v));
            case "round" -> {
                long digits = args.isEmpty() ? 0 : Py.toLong(args.get(0));
                double scale = Math.pow(10, digits);
                yield Math.rint(Py.toDouble(v) * scale) / scale;
            }
            case "replace" -> replace(Py.str(v), str(arg(args, 0, "replace")), str(arg(args, 1, "replace")),
                    args.size() > 2 ? Py.toLong(args.get(2)) : -1);
            case "items" -> {
                if (v instanceof Undefined) yield List.of();
                if (!(v instanceof Map<?, ?> m)) throw Py.typeError("items filter needs a dict, got " + Py.typeName(v));
                yield dictMethod(m, "items").call(List.of(), Map.of());
            }
            case "dictsort" -> {
                if (!(v instanceof Map<?, ?> m)) throw Py.typeError("dictsort needs a dict, got " + Py.typeName(v));
                @SuppressWarnings("unchecked") List<Object> pairs = (List<Object>) dictMethod(m, "items").call(List.of(), Map.of());
                pairs.sort((x, y) -> Py.compare(((List<?>) x).get(0), ((List<?>) y).get(0)));
                yield pairs;
            }
            case "sort" -> {
                List<Object> l = new ArrayList<>(Py.iterate(v));
                boolean reverse = Py.truthy(kw.get("reverse")) || (!args.isEmpty() && Py.truthy(args.get(0)));
                Object attr = kw.get("attribute");
                l.sort((x, y) -> {
                    Object a = attr == null ? x : in.getItem(x, attr, 0);
                    Object b = attr == null ? y : in.getItem(y, attr, 0);
                    return reverse ? Py.compare(b, a) : Py.compare(a, b);
                });
                yield l;
            }
            case "sum" -> {
                Object total = 0L;
                for (Object o : Py.iterate(v)) total = Interpreter.binary("+", total, o);
                yield total;
            }
            case "min", "max" -> {
                List<Object> l = Py.iterate(v);
                if (l.isEmpty()) yield new Undefined(name);
                Object best = l.get(0);
                for (Object o : l) {
                    int c = Py.compare(o, best);
                    if (name.equals("min") ? c < 0 : c > 0) best = o;
                }
                yield best;
            }
            case "map" -> {
                List<Object> out = new ArrayList<>();
                if (kw.containsKey("attribute")) {
                    for (Object o : Py.iterate(v)) {
                        Object x = in.getItem(o, kw.get("attribute"), 0);
                        out.add(x instanceof Undefined && kw.containsKey("default") ? kw.get("default") : x);
                    }
                } else {
                    String f = str(arg(args, 0, "map"));
                    List<Object> rest = args.subList(1, args.size());
                    for (Object o : Py.iterate(v)) out.add(filter(f, o, rest, Map.of(), in));
                }
                yield out;
            }
            case "select", "reject" -> {
                List<Object> out = new ArrayList<>();
                String t = args.isEmpty() ? null : str(args.get(0));
                List<Object> rest = args.isEmpty() ? List.of() : args.subList(1, args.size());
                for (Object o : Py.iterate(v)) {
                    boolean r = t == null ? Py.truthy(o) : test(t, o, rest);
                    if (r == name.equals("select")) out.add(o);
                }
                yield out;
            }
            case "selectattr", "rejectattr" -> {
                Object attr = arg(args, 0, name);
                String t = args.size() > 1 ? str(args.get(1)) : null;
                List<Object> rest = args.size() > 2 ? args.subList(2, args.size()) : List.of();
                List<Object> out = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    Object x = attr instanceof String s && s.contains(".") ? dotted(in, o, s) : in.getItem(o, attr, 0);
                    boolean r = t == null ? Py.truthy(x) : test(t, x, rest);
                    if (r == name.equals("selectattr")) out.add(o);
                }
                yield out;
            }
            case "indent" -> {
                Object w = args.isEmpty() ? kw.getOrDefault("width", 4L) : args.get(0);
                String pad = w instanceof String s ? s : " ".repeat(width(w));
                boolean first = args.size() > 1 ? Py.truthy(args.get(1)) : Py.truthy(kw.get("first"));
                boolean blank = args.size() > 2 ? Py.truthy(args.get(2)) : Py.truthy(kw.get("blank"));
                String[] lines = Py.str(v).split("\n", -1);
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < lines.length; i++) {
                    if (i > 0) sb.append('\n');
                    if ((i > 0 || first) && (blank || !lines[i].isEmpty())) sb.append(pad);
                    sb.append(lines[i]);
                }
                yield sb.toString();
            }
            case "wordcount" -> (long) split(Py.str(v), null, -1).size();
            case "batch" -> {
                long size = Py.toLong(arg(args, 0, "batch"));
                if (size <= 0) throw new TemplateException("ValueError: batch size must be positive");
                List<Object> out = new ArrayList<>();
                List<Object> cur = new ArrayList<>();
                for (Object o : Py.iterate(v)) {
                    cur.add(o);
                    if (cur.size() == size) { out.add(cur); cur = new ArrayList<>(); }
                }
                if (!cur.isEmpty()) out.add(cur);
                yield out;
            }
            case "attr" -> in.getAttr(v, str(arg(args, 0, "attr")), 0);
            default -> throw new TemplateException("no filter named '" + name + "'");
        };
    }

    private static Object dotted(Interpreter in, Object o, String path) {
        Object x = o;
        for (String part : path.split("\\.")) x = x instanceof Undefined ? x : in.getItem(x, part, 0);
        return x;
    }

    // ------------------------------------------------------------------ tests

    boolean test(String name, Object v, List<Object> args) {
        return switch (name) {
            case "defined" -> !(v instanceof Undefined);
            case "undefined" -> v instanceof Undefined;
            case "none" -> v == null;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "string" -> v instanceof String;
            case "number" -> v instanceof Long || v instanceof Double || v instanceof Boolean;
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "mapping" -> v instanceof Map<?, ?> || v instanceof Namespace;
            case "iterable" -> v instanceof List<?> || v instanceof Map<?, ?> || v instanceof String || v instanceof Undefined;
            case "sequence" -> v instanceof List<?> || v instanceof Map<?, ?> || v instanceof String;
            case "callable" -> v instanceof Fn;
            case "odd" -> Math.floorMod(Py.toLong(v), 2) == 1;
            case "even" -> Math.floorMod(Py.toLong(v), 2) == 0;
            case "divisibleby" -> Py.toLong(arg(args, 0, "divisibleby")) != 0 && Math.floorMod(Py.toLong(v), Py.toLong(args.get(0))) == 0;
            case "eq", "equalto", "==" -> Py.eq(v, arg(args, 0, name));
            case "ne", "!=" -> !Py.eq(v, arg(args, 0, name));
            case "lt", "lessthan", "<" -> Py.compare(v, arg(args, 0, name)) < 0;
            case "le", "<=" -> Py.compare(v, arg(args, 0, name)) <= 0;
            case "gt", "greaterthan", ">" -> Py.compare(v, arg(args, 0, name)) > 0;
            case "ge", ">=" -> Py.compare(v, arg(args, 0, name)) >= 0;
            case "in" -> Py.contains(arg(args, 0, name), v);
            case "sameas" -> {
                Object o = arg(args, 0, name);
                yield v == o || (v == null && o == null) || (v instanceof Boolean && v.equals(o));
            }
            case "lower" -> v instanceof String s && s.equals(s.toLowerCase(Locale.ROOT));
            case "upper" -> v instanceof String s && s.equals(s.toUpperCase(Locale.ROOT));
            default -> throw new TemplateException("no test named '" + name + "'");
        };
    }
}
