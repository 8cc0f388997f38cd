package dev.isthmus.runtime.template;

import dev.isthmus.runtime.template.Node.Expr;
import dev.isthmus.runtime.template.Node.Stmt;
import dev.isthmus.runtime.template.Py.Fn;
import dev.isthmus.runtime.template.Py.Namespace;
import dev.isthmus.runtime.template.Py.Undefined;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Renders a parsed template with Python semantics, inside a sandbox: only the values of {@link Py}
 * exist (no Java object, method or class is reachable), lists and dicts are immutable from the
 * template's side (as in Jinja's {@code ImmutableSandboxedEnvironment}), and the output size, the
 * total number of loop iterations and the macro-call depth are bounded.
 */
final class Interpreter {
    private final ChatTemplate.Limits limits;
    private final StringBuilder out = new StringBuilder();
    private final Builtins builtins;
    private long iterations;
    private int callDepth;

    /** A variable scope; lookups fall back to the parent. */
    static final class Scope {
        final Scope parent;
        final Map<String, Object> vars = new HashMap<>();

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object get(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                Object v = s.vars.get(name);
                if (v != null || s.vars.containsKey(name)) return v;
            }
            return new Undefined(name);
        }
    }

    /** The {@code loop} variable of a for loop. */
    static final class Loop {
        final List<Object> items;
        int index0;

        Loop(List<Object> items) {
            this.items = items;
        }
    }

    private static final class BreakSignal extends RuntimeException {
        BreakSignal() { super(null, null, false, false); }
    }

    private static final class ContinueSignal extends RuntimeException {
        ContinueSignal() { super(null, null, false, false); }
    }

    Interpreter(ChatTemplate.Limits limits, Builtins builtins) {
        this.limits = limits;
        this.builtins = builtins;
    }

    String render(List<Stmt> body, Scope root) {
        exec(body, root, out);
        return out.toString();
    }

    // ------------------------------------------------------------------ statements

    private void emit(StringBuilder sb, String s) {
        if (sb.length() + (long) s.length() > limits.maxOutputChars())
            throw new TemplateException("the output exceeds " + limits.maxOutputChars() + " characters (sandbox limit)");
        sb.append(s);
    }

    private void exec(List<Stmt> body, Scope scope, StringBuilder sb) {
        for (Stmt st : body) exec(st, scope, sb);
    }

    private void exec(Stmt st, Scope scope, StringBuilder sb) {
        switch (st) {
            case Node.Text t -> emit(sb, t.text());
            case Node.Output o -> emit(sb, Py.str(eval(o.expr(), scope)));
            case Node.If i -> {
                for (int k = 0; k < i.conditions().size(); k++) {
                    if (Py.truthy(eval(i.conditions().get(k), scope))) {
                        exec(i.bodies().get(k), scope, sb);
                        return;
                    }
                }
                exec(i.orElse(), scope, sb);
            }
            case Node.For f -> execFor(f, scope, sb);
            case Node.Set s -> execSet(s, scope);
            case Node.SetBlock s -> {
                StringBuilder inner = new StringBuilder();
                exec(s.body(), scope, inner);
                scope.vars.put(s.target(), inner.toString());
            }
            case Node.Macro m -> scope.vars.put(m.name(), macro(m, scope));
            case Node.Break b -> throw new BreakSignal();
            case Node.Continue c -> throw new ContinueSignal();
            case Node.Block b -> exec(b.body(), scope, sb);
        }
    }

    private void execSet(Node.Set s, Scope scope) {
        Object v = eval(s.value(), scope);
        if (s.attr() != null) {
            Object target = scope.get(s.targets().get(0));
            if (!(target instanceof Namespace ns))
                throw new TemplateException("line " + s.line() + ": cannot assign attribute on a " + Py.typeName(target)
                        + " (only a namespace() object takes attributes)");
            ns.attrs.put(s.attr(), v);
            return;
        }
        if (s.targets().size() == 1) {
            scope.vars.put(s.targets().get(0), v);
            return;
        }
        unpack(s.targets(), v, scope, s.line());
    }

    private static void unpack(List<String> targets, Object v, Scope scope, int line) {
        List<Object> items = Py.iterate(v);
        if (items.size() != targets.size())
            throw new TemplateException("line " + line + ": cannot unpack " + items.size() + " values into " + targets.size() + " names");
        for (int i = 0; i < targets.size(); i++) scope.vars.put(targets.get(i), items.get(i));
    }

    private void execFor(Node.For f, Scope scope, StringBuilder sb) {
        Object iterable = eval(f.iterable(), scope);
        List<Object> all = Py.iterate(iterable);
        if (iterable instanceof Map<?, ?> && f.targets().size() == 2) {
            // "for k, v in dict" is an error in Python; templates write dict.items(): keep Python's behaviour
        }
        Scope inner = new Scope(scope);
        List<Object> items = all;
        if (f.filter() != null) {
            items = new ArrayList<>();
            for (Object o : all) {
                bind(f, o, inner);
                if (Py.truthy(eval(f.filter(), inner))) items.add(o);
            }
        }
        if (items.isEmpty()) {
            exec(f.orElse(), scope, sb);
            return;
        }
        Loop loop = new Loop(items);
        inner.vars.put("loop", loop);
        for (int i = 0; i < items.size(); i++) {
            if (++iterations > limits.maxLoopIterations())
                throw new TemplateException("line " + f.line() + ": more than " + limits.maxLoopIterations() + " loop iterations (sandbox limit)");
            loop.index0 = i;
            bind(f, items.get(i), inner);
            try {
                exec(f.body(), inner, sb);
            } catch (BreakSignal b) {
                break;
            } catch (ContinueSignal c) {
                // next item
            }
        }
    }

    private static void bind(Node.For f, Object item, Scope scope) {
        if (f.targets().size() == 1) scope.vars.put(f.targets().get(0), item);
        else unpack(f.targets(), item, scope, f.line());
    }

    private Fn macro(Node.Macro m, Scope defining) {
        return (args, kwargs) -> {
            if (args.size() > m.params().size())
                throw new TemplateException("line " + m.line() + ": macro '" + m.name() + "' takes " + m.params().size() + " arguments, got " + args.size());
            if (++callDepth > limits.maxCallDepth())
                throw new TemplateException("line " + m.line() + ": macro calls nest deeper than " + limits.maxCallDepth() + " (sandbox limit)");
            try {
                Scope s = new Scope(defining);
                int firstDefault = m.params().size() - m.defaults().size();
                for (int i = 0; i < m.params().size(); i++) {
                    String p = m.params().get(i);
                    Object v;
                    if (i < args.size()) v = args.get(i);
                    else if (kwargs.containsKey(p)) v = kwargs.get(p);
                    else if (i >= firstDefault) v = eval(m.defaults().get(i - firstDefault), defining);
                    else v = new Undefined(p);
                    s.vars.put(p, v);
                }
                for (String k : kwargs.keySet())
                    if (!m.params().contains(k))
                        throw new TemplateException("line " + m.line() + ": macro '" + m.name() + "' has no parameter '" + k + "'");
                StringBuilder inner = new StringBuilder();
                exec(m.body(), s, inner);
                return inner.toString();
            } finally {
                callDepth--;
            }
        };
    }

    // ------------------------------------------------------------------ expressions

    Object eval(Expr e, Scope scope) {
        return switch (e) {
            case Node.Literal l -> l.value();
            case Node.Name n -> scope.get(n.name());
            case Node.ListExpr l -> {
                List<Object> out = new ArrayList<>(l.items().size());
                for (Expr x : l.items()) out.add(eval(x, scope));
                yield out;
            }
            case Node.TupleExpr t -> {
                List<Object> out = new ArrayList<>(t.items().size());
                for (Expr x : t.items()) out.add(eval(x, scope));
                yield out;
            }
            case Node.DictExpr d -> {
                Map<String, Object> out = new LinkedHashMap<>();
                for (int i = 0; i < d.keys().size(); i++) {
                    Object k = eval(d.keys().get(i), scope);
                    if (!(k instanceof String ks)) throw Py.typeError("dict keys must be strings here, got " + Py.typeName(k));
                    out.put(ks, eval(d.values().get(i), scope));
                }
                yield out;
            }
            case Node.GetAttr g -> getAttr(eval(g.target(), scope), g.name(), g.line());
            case Node.GetItem g -> getItem(eval(g.target(), scope), eval(g.index(), scope), g.line());
            case Node.Slice s -> slice(eval(s.target(), scope), s.start() == null ? null : eval(s.start(), scope),
                    s.stop() == null ? null : eval(s.stop(), scope), s.step() == null ? null : eval(s.step(), scope), s.line());
            case Node.Call c -> call(c, scope);
            case Node.Filter f -> {
                List<Object> args = new ArrayList<>();
                for (Expr x : f.args()) args.add(eval(x, scope));
                Map<String, Object> kw = new LinkedHashMap<>();
                for (int i = 0; i < f.kwNames().size(); i++) kw.put(f.kwNames().get(i), eval(f.kwValues().get(i), scope));
                yield bounded(withLine(f.line(), () -> builtins.filter(f.name(), eval(f.target(), scope), args, kw, this)), f.line());
            }
            case Node.Test t -> {
                List<Object> args = new ArrayList<>();
                for (Expr x : t.args()) args.add(eval(x, scope));
                boolean r = withLine(t.line(), () -> builtins.test(t.name(), eval(t.target(), scope), args));
                yield t.negated() != r;
            }
            case Node.Unary u -> {
                Object v = eval(u.operand(), scope);
                if (v instanceof Long l) yield u.op().equals("-") ? -l : l;
                if (v instanceof Double d) yield u.op().equals("-") ? -d : d;
                if (v instanceof Boolean b) yield u.op().equals("-") ? -(b ? 1L : 0L) : (b ? 1L : 0L);
                throw new TemplateException("line " + u.line() + ": TypeError: bad operand type for unary " + u.op() + ": '" + Py.typeName(v) + "'");
            }
            case Node.Binary b -> bounded(withLine(b.line(), () -> binary(b.op(), eval(b.left(), scope), eval(b.right(), scope))), b.line());
            case Node.Compare c -> {
                Object left = eval(c.operands().get(0), scope);
                for (int i = 0; i < c.ops().size(); i++) {
                    Object right = eval(c.operands().get(i + 1), scope);
                    String op = c.ops().get(i);
                    Object l = left;
                    boolean r = withLine(c.line(), () -> compare(op, l, right));
                    if (!r) yield false;
                    left = right;
                }
                yield true;
            }
            case Node.And a -> {
                Object l = eval(a.left(), scope);
                yield Py.truthy(l) ? eval(a.right(), scope) : l;
            }
            case Node.Or o -> {
                Object l = eval(o.left(), scope);
                yield Py.truthy(l) ? l : eval(o.right(), scope);
            }
            case Node.Not n -> !Py.truthy(eval(n.operand(), scope));
            case Node.Cond c -> Py.truthy(eval(c.condition(), scope)) ? eval(c.then(), scope)
                    : c.orElse() == null ? Py.UNDEFINED : eval(c.orElse(), scope);
        };
    }

    /** Values built by an operator, filter or call stay within the output bound (no doubling to exhaustion). */
    private Object bounded(Object v, int line) {
        long size = v instanceof String str ? str.length() : v instanceof List<?> l ? l.size() : 0;
        if (size > limits.maxOutputChars())
            throw new TemplateException("line " + line + ": a value of " + size + " characters or items exceeds the sandbox limit of "
                    + limits.maxOutputChars());
        return v;
    }

    private static <T> T withLine(int line, java.util.function.Supplier<T> body) {
        try {
            return body.get();
        } catch (TemplateException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("line ")) throw e;
            throw new TemplateException("line " + line + ": " + e.getMessage(), e.getCause());
        }
    }

    private Object call(Node.Call c, Scope scope) {
        Object target = eval(c.target(), scope);
        List<Object> args = new ArrayList<>();
        for (Expr x : c.args()) args.add(eval(x, scope));
        Map<String, Object> kw = new LinkedHashMap<>();
        for (int i = 0; i < c.kwNames().size(); i++) kw.put(c.kwNames().get(i), eval(c.kwValues().get(i), scope));
        if (target instanceof Fn fn) return bounded(withLine(c.line(), () -> fn.call(args, kw)), c.line());
        if (target instanceof Undefined u)
            throw new TemplateException("line " + c.line() + ": UndefinedError: '" + (u.name() == null ? "value" : u.name()) + "' is undefined");
        throw new TemplateException("line " + c.line() + ": TypeError: '" + Py.typeName(target) + "' object is not callable");
    }

    Object getAttr(Object target, String name, int line) {
        if (target instanceof Map<?, ?> m) {
            Fn method = builtins.dictMethod(m, name);
            if (method != null) return method;
            Object v = m.get(name);
            return v != null || m.containsKey(name) ? v : new Undefined(name);
        }
        if (target instanceof String s) {
            Fn method = builtins.stringMethod(s, name);
            return method != null ? method : new Undefined(name);
        }
        if (target instanceof List<?> l) {
            Fn method = builtins.listMethod(l, name);
            return method != null ? method : new Undefined(name);
        }
        if (target instanceof Namespace ns) {
            Object v = ns.attrs.get(name);
            return v != null || ns.attrs.containsKey(name) ? v : new Undefined(name);
        }
        if (target instanceof Loop loop) return loopAttr(loop, name);
        if (target instanceof Undefined u)
            throw new TemplateException("line " + line + ": UndefinedError: '" + (u.name() == null ? "value" : u.name())
                    + "' is undefined (getting its '" + name + "')");
        return new Undefined(name);
    }

    private static Object loopAttr(Loop loop, String name) {
        int i = loop.index0;
        int n = loop.items.size();
        return switch (name) {
            case "index0" -> (long) i;
            case "index" -> (long) i + 1;
            case "revindex" -> (long) (n - i);
            case "revindex0" -> (long) (n - i - 1);
            case "first" -> i == 0;
            case "last" -> i == n - 1;
            case "length" -> (long) n;
            case "previtem" -> i > 0 ? loop.items.get(i - 1) : new Undefined("previtem");
            case "nextitem" -> i < n - 1 ? loop.items.get(i + 1) : new Undefined("nextitem");
            case "depth" -> 1L;
            case "depth0" -> 0L;
            case "cycle" -> (Fn) (args, kw) -> {
                if (args.isEmpty()) throw Py.typeError("cycle() needs at least one item");
                return args.get(loop.index0 % args.size());
            };
            default -> new Undefined(name);
        };
    }

    Object getItem(Object target, Object index, int line) {
        if (target instanceof Map<?, ?> m) {
            if (index instanceof String k) {
                Object v = m.get(k);
                if (v != null || m.containsKey(k)) return v;
                Fn method = builtins.dictMethod(m, k);
                return method != null ? method : new Undefined(k);
            }
            return new Undefined(Py.str(index));
        }
        if (target instanceof List<?> l) {
            if (!Py.isInteger(index)) {
                if (index instanceof String k) return getAttr(target, k, line);
                throw new TemplateException("line " + line + ": TypeError: list indices must be integers, not " + Py.typeName(index));
            }
            long i = Py.toLong(index);
            if (i < 0) i += l.size();
            if (i < 0 || i >= l.size()) return new Undefined("[" + Py.toLong(index) + "]");
            return l.get((int) i);
        }
        if (target instanceof String s) {
            if (index instanceof String k) return getAttr(target, k, line);
            if (!Py.isInteger(index))
                throw new TemplateException("line " + line + ": TypeError: string indices must be integers");
            int[] cps = s.codePoints().toArray();
            long i = Py.toLong(index);
            if (i < 0) i += cps.length;
            if (i < 0 || i >= cps.length) return new Undefined("[" + Py.toLong(index) + "]");
            return new String(Character.toChars(cps[(int) i]));
        }
        if (target instanceof Namespace || target instanceof Loop) {
            if (index instanceof String k) return getAttr(target, k, line);
        }
        if (target instanceof Undefined u)
            throw new TemplateException("line " + line + ": UndefinedError: '" + (u.name() == null ? "value" : u.name())
                    + "' is undefined (indexing it with " + Py.str(index) + ")");
        throw new TemplateException("line " + line + ": TypeError: '" + Py.typeName(target) + "' object is not subscriptable");
    }

    private static Object slice(Object target, Object start, Object stop, Object step, int line) {
        long st = step == null ? 1 : Py.toLong(step);
        if (st == 0) throw new TemplateException("line " + line + ": ValueError: slice step cannot be zero");
        List<Object> items;
        boolean isString = target instanceof String;
        if (target instanceof List<?> l) {
            @SuppressWarnings("unchecked") List<Object> li = (List<Object>) l;
            items = li;
        } else if (isString) {
            items = Py.iterate(target);
        } else if (target instanceof Undefined) {
            return List.of();
        } else {
            throw new TemplateException("line " + line + ": TypeError: '" + Py.typeName(target) + "' object is not subscriptable");
        }
        int n = items.size();
        long lo, hi;
        if (st > 0) {
            lo = start == null ? 0 : clampIndex(Py.toLong(start), n, 0, n);
            hi = stop == null ? n : clampIndex(Py.toLong(stop), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clampIndex(Py.toLong(start), n, -1, n - 1);
            hi = stop == null ? -1 : clampIndex(Py.toLong(stop), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        if (st > 0) for (long i = lo; i < hi; i += st) out.add(items.get((int) i));
        else for (long i = lo; i > hi; i += st) out.add(items.get((int) i));
        if (isString) {
            StringBuilder sb = new StringBuilder();
            for (Object o : out) sb.append((String) o);
            return sb.toString();
        }
        return out;
    }

    private static long clampIndex(long i, int n, long min, long max) {
        if (i < 0) i += n;
        return Math.max(min, Math.min(max, i));
    }

    static Object binary(String op, Object a, Object b) {
        if (a instanceof Undefined u && !op.equals("~"))
            throw new TemplateException("UndefinedError: '" + (u.name() == null ? "value" : u.name()) + "' is undefined");
        if (b instanceof Undefined u && !op.equals("~"))
            throw new TemplateException("UndefinedError: '" + (u.name() == null ? "value" : u.name()) + "' is undefined");
        switch (op) {
            case "~":
                return Py.str(a) + Py.str(b);
            case "+":
                if (a instanceof String x && b instanceof String y) return x + y;
                if (a instanceof List<?> x && b instanceof List<?> y) {
                    List<Object> out = new ArrayList<>(x);
                    out.addAll(y);
                    return out;
                }
                if (Py.isNumber(a) && Py.isNumber(b)) {
                    if (Py.isInteger(a) && Py.isInteger(b)) return Math.addExact(Py.toLong(a), Py.toLong(b));
                    return Py.toDouble(a) + Py.toDouble(b);
                }
                if (a instanceof String)
                    throw Py.typeError("can only concatenate str (not \"" + Py.typeName(b) + "\") to str");
                throw Py.typeError("unsupported operand type(s) for +: '" + Py.typeName(a) + "' and '" + Py.typeName(b) + "'");
            case "-":
                numeric(op, a, b);
                if (Py.isInteger(a) && Py.isInteger(b)) return Math.subtractExact(Py.toLong(a), Py.toLong(b));
                return Py.toDouble(a) - Py.toDouble(b);
            case "*":
                if (a instanceof String s && Py.isInteger(b)) return repeat(s, Py.toLong(b));
                if (b instanceof String s && Py.isInteger(a)) return repeat(s, Py.toLong(a));
                numeric(op, a, b);
                if (Py.isInteger(a) && Py.isInteger(b)) return Math.multiplyExact(Py.toLong(a), Py.toLong(b));
                return Py.toDouble(a) * Py.toDouble(b);
            case "/":
                numeric(op, a, b);
                if (Py.toDouble(b) == 0) throw new TemplateException("ZeroDivisionError: division by zero");
                return Py.toDouble(a) / Py.toDouble(b);
            case "//":
                numeric(op, a, b);
                if (Py.toDouble(b) == 0) throw new TemplateException("ZeroDivisionError: integer division or modulo by zero");
                if (Py.isInteger(a) && Py.isInteger(b)) return Math.floorDiv(Py.toLong(a), Py.toLong(b));
                return Math.floor(Py.toDouble(a) / Py.toDouble(b));
            case "%":
                if (a instanceof String fmt) return Builtins.percentFormat(fmt, b instanceof List<?> l ? l : List.of(b == null ? NONE : b));
                numeric(op, a, b);
                if (Py.toDouble(b) == 0) throw new TemplateException("ZeroDivisionError: integer division or modulo by zero");
                if (Py.isInteger(a) && Py.isInteger(b)) return Math.floorMod(Py.toLong(a), Py.toLong(b));
                double x = Py.toDouble(a), y = Py.toDouble(b);
                return x - Math.floor(x / y) * y;
            case "**":
                numeric(op, a, b);
                if (Py.isInteger(a) && Py.isInteger(b) && Py.toLong(b) >= 0) {
                    long r = 1, base = Py.toLong(a);
                    for (long e = Py.toLong(b); e > 0; e >>= 1) {   // by squaring: overflow is found in 64 steps
                        if ((e & 1) != 0) r = Math.multiplyExact(r, base);
                        if (e > 1) base = Math.multiplyExact(base, base);
                    }
                    return r;
                }
                return Math.pow(Py.toDouble(a), Py.toDouble(b));
            default:
                throw new TemplateException("unknown operator " + op);
        }
    }

    /** Marks a None argument in a List.of (which cannot hold null). */
    static final Object NONE = new Object();

    private static String repeat(String s, long times) {
        if (times <= 0) return "";
        if (times > 1_000_000 || times * s.length() > 1_000_000) throw new TemplateException("string repetition too large (sandbox limit)");
        return s.repeat((int) times);
    }

    private static void numeric(String op, Object a, Object b) {
        if (!Py.isNumber(a) || !Py.isNumber(b))
            throw Py.typeError("unsupported operand type(s) for " + op + ": '" + Py.typeName(a) + "' and '" + Py.typeName(b) + "'");
    }

    private static boolean compare(String op, Object a, Object b) {
        return switch (op) {
            case "==" -> Py.eq(a, b);
            case "!=" -> !Py.eq(a, b);
            case "<" -> Py.compare(a, b) < 0;
            case ">" -> Py.compare(a, b) > 0;
            case "<=" -> Py.compare(a, b) <= 0;
            case ">=" -> Py.compare(a, b) >= 0;
            case "in" -> Py.contains(b, a);
            case "not in" -> !Py.contains(b, a);
            default -> throw new TemplateException("unknown comparison " + op);
        };
    }
}
