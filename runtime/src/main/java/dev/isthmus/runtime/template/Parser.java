package dev.isthmus.runtime.template;

import dev.isthmus.runtime.template.Node.Expr;
import dev.isthmus.runtime.template.Node.Stmt;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns template source into a syntax tree, with Jinja's whitespace rules as Hugging Face configures
 * them ({@code trim_blocks} and {@code lstrip_blocks} on, plus the {@code -}/{@code +} markers).
 * Written for the subset of Jinja that model chat templates use; anything else is a
 * {@link TemplateException} naming the line.
 */
final class Parser {
    private static final int MAX_NESTING = 200;

    enum Kind { TEXT, VAR_BEGIN, VAR_END, BLOCK_BEGIN, BLOCK_END, NAME, STRING, INT, FLOAT, OP, EOF }

    record Tok(Kind kind, String text, int line) {}

    private final List<Tok> toks;
    private int pos;
    private int depth;
    private int loops;   // for bodies being parsed (break/continue are allowed only inside one)

    private Parser(List<Tok> toks) {
        this.toks = toks;
    }

    static List<Stmt> parse(String source) {
        Parser p = new Parser(lex(source));
        List<Stmt> body = p.statements();
        Tok t = p.peek();
        if (t.kind != Kind.EOF) {
            throw p.error(t, "unexpected '" + p.peekTagName() + "' tag with no open block");
        }
        return body;
    }

    // ------------------------------------------------------------------ lexer

    private static final String[] OPS = {"==", "!=", "<=", ">=", "//", "**", "<", ">", "+", "-", "*", "/", "%",
        "~", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "="};

    static List<Tok> lex(String src) {
        List<Tok> out = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        int i = 0;
        int line = 1;
        boolean stripNext = false;     // a '-' closed the previous tag: strip all leading whitespace
        boolean trimNewline = false;   // trim_blocks: drop one newline after a block or comment tag
        int n = src.length();
        while (i < n) {
            int open = nextOpen(src, i);
            int textEnd = open < 0 ? n : open;
            String chunk = src.substring(i, textEnd);
            if (stripNext) {
                chunk = stripLeading(chunk);
            } else if (trimNewline) {
                if (chunk.startsWith("\r\n")) chunk = chunk.substring(2);
                else if (chunk.startsWith("\n")) chunk = chunk.substring(1);
            }
            stripNext = false;
            trimNewline = false;
            text.append(chunk);
            line += count(src, i, textEnd);
            if (open < 0) {
                if (!text.isEmpty()) out.add(new Tok(Kind.TEXT, text.toString(), line));
                break;
            }
            char type = src.charAt(open + 1);
            char marker = open + 2 < n ? src.charAt(open + 2) : 0;
            if (marker == '-') {
                stripTrailing(text);
            } else if (type != '{' && marker != '+') {
                // lstrip_blocks: spaces and tabs between the line start and a block or comment tag
                int k = open - 1;
                while (k >= 0 && (src.charAt(k) == ' ' || src.charAt(k) == '\t')) k--;
                if (k < 0 || src.charAt(k) == '\n') {
                    int strip = open - 1 - k;
                    int keep = Math.max(0, text.length() - strip);
                    // only what is still in the buffer can be stripped (it always is: tags are not blanks)
                    text.setLength(keep);
                }
            }
            if (!text.isEmpty()) {
                out.add(new Tok(Kind.TEXT, text.toString(), line));
                text.setLength(0);
            }
            int start = open + 2 + ((marker == '-' || marker == '+') ? 1 : 0);
            if (type == '#') {
                int close = src.indexOf("#}", start);
                if (close < 0) throw new TemplateException("line " + line + ": unclosed comment");
                boolean dash = src.charAt(close - 1) == '-' && close - 1 >= start;
                line += count(src, open, close + 2);
                i = close + 2;
                if (dash) stripNext = true;
                else trimNewline = true;
                continue;
            }
            out.add(new Tok(type == '{' ? Kind.VAR_BEGIN : Kind.BLOCK_BEGIN, "", line));
            char closeChar = type == '{' ? '}' : '%';
            int[] state = {start, line};
            int endMarker = lexExpression(src, state, closeChar, out);
            i = state[0];
            line = state[1];
            out.add(new Tok(type == '{' ? Kind.VAR_END : Kind.BLOCK_END, "", line));
            if (endMarker == '-') stripNext = true;
            else if (type == '%' && endMarker != '+') trimNewline = true;
        }
        out.add(new Tok(Kind.EOF, "", line));
        return out;
    }

    private static int hex(String digits, int line) {
        try {
            return Integer.parseInt(digits, 16);
        } catch (NumberFormatException e) {
            throw new TemplateException("line " + line + ": bad escape digits '" + digits + "'");
        }
    }

    private static int nextOpen(String src, int from) {
        for (int i = src.indexOf('{', from); i >= 0 && i + 1 < src.length(); i = src.indexOf('{', i + 1)) {
            char c = src.charAt(i + 1);
            if (c == '{' || c == '%' || c == '#') return i;
        }
        return -1;
    }

    private static int count(String s, int from, int to) {
        int c = 0;
        for (int i = from; i < to; i++) if (s.charAt(i) == '\n') c++;
        return c;
    }

    private static String stripLeading(String s) {
        int k = 0;
        while (k < s.length() && Character.isWhitespace(s.charAt(k))) k++;
        return s.substring(k);
    }

    private static void stripTrailing(StringBuilder sb) {
        int k = sb.length();
        while (k > 0 && Character.isWhitespace(sb.charAt(k - 1))) k--;
        sb.setLength(k);
    }

    /** Lexes one tag's expression tokens; returns the close marker ('-', '+' or 0), leaves state at the tag's end. */
    private static int lexExpression(String src, int[] state, char closeChar, List<Tok> out) {
        int i = state[0];
        int line = state[1];
        int n = src.length();
        int braces = 0;   // open '{' of dict literals: their '}}' does not end the tag
        while (true) {
            if (i >= n) throw new TemplateException("line " + line + ": unclosed tag");
            char c = src.charAt(i);
            if (c == '\n') { line++; i++; continue; }
            if (Character.isWhitespace(c)) { i++; continue; }
            // the tag's end, optionally with a whitespace marker
            if (braces == 0 && (c == '-' || c == '+') && i + 2 < n && src.charAt(i + 1) == closeChar && src.charAt(i + 2) == '}') {
                state[0] = i + 3; state[1] = line;
                return c;
            }
            if (braces == 0 && c == closeChar && i + 1 < n && src.charAt(i + 1) == '}') {
                state[0] = i + 2; state[1] = line;
                return 0;
            }
            if (c == '"' || c == '\'') {
                StringBuilder sb = new StringBuilder();
                int j = i + 1;
                while (true) {
                    if (j >= n) throw new TemplateException("line " + line + ": unclosed string literal");
                    char d = src.charAt(j);
                    if (d == c) break;
                    if (d == '\n') line++;
                    if (d == '\\' && j + 1 < n) {
                        char e = src.charAt(++j);
                        switch (e) {
                            case 'n' -> sb.append('\n');
                            case 't' -> sb.append('\t');
                            case 'r' -> sb.append('\r');
                            case '\\' -> sb.append('\\');
                            case '\'' -> sb.append('\'');
                            case '"' -> sb.append('"');
                            case '0' -> sb.append('\0');
                            case 'u' -> {
                                if (j + 4 >= n) throw new TemplateException("line " + line + ": bad \\u escape");
                                sb.append((char) hex(src.substring(j + 1, j + 5), line));
                                j += 4;
                            }
                            case 'x' -> {
                                if (j + 2 >= n) throw new TemplateException("line " + line + ": bad \\x escape");
                                sb.append((char) hex(src.substring(j + 1, j + 3), line));
                                j += 2;
                            }
                            case '\n' -> line++;
                            default -> sb.append('\\').append(e);
                        }
                        j++;
                        continue;
                    }
                    sb.append(d);
                    j++;
                }
                out.add(new Tok(Kind.STRING, sb.toString(), line));
                i = j + 1;
                continue;
            }
            if (Character.isDigit(c)) {
                int j = i;
                while (j < n && (Character.isDigit(src.charAt(j)) || src.charAt(j) == '_')) j++;
                boolean isFloat = false;
                if (j + 1 < n && src.charAt(j) == '.' && Character.isDigit(src.charAt(j + 1))) {
                    isFloat = true;
                    j++;
                    while (j < n && Character.isDigit(src.charAt(j))) j++;
                }
                if (j < n && (src.charAt(j) == 'e' || src.charAt(j) == 'E')) {
                    int k = j + 1;
                    if (k < n && (src.charAt(k) == '+' || src.charAt(k) == '-')) k++;
                    if (k < n && Character.isDigit(src.charAt(k))) {
                        isFloat = true;
                        j = k;
                        while (j < n && Character.isDigit(src.charAt(j))) j++;
                    }
                }
                out.add(new Tok(isFloat ? Kind.FLOAT : Kind.INT, src.substring(i, j).replace("_", ""), line));
                i = j;
                continue;
            }
            if (Character.isLetter(c) || c == '_') {
                int j = i;
                while (j < n && (Character.isLetterOrDigit(src.charAt(j)) || src.charAt(j) == '_')) j++;
                out.add(new Tok(Kind.NAME, src.substring(i, j), line));
                i = j;
                continue;
            }
            String op = null;
            for (String o : OPS) if (src.startsWith(o, i)) { op = o; break; }
            if (op == null) throw new TemplateException("line " + line + ": unexpected character '" + c + "'");
            if (op.equals("{")) braces++;
            else if (op.equals("}")) braces--;
            out.add(new Tok(Kind.OP, op, line));
            i += op.length();
        }
    }

    // ------------------------------------------------------------------ parser helpers

    private Tok peek() {
        return toks.get(pos);
    }

    private Tok peek(int ahead) {
        return toks.get(Math.min(toks.size() - 1, pos + ahead));
    }

    private Tok next() {
        return toks.get(pos++);
    }

    private boolean isOp(String op) {
        Tok t = peek();
        return t.kind == Kind.OP && t.text.equals(op);
    }

    private boolean isName(String name) {
        Tok t = peek();
        return t.kind == Kind.NAME && t.text.equals(name);
    }

    private Tok expectOp(String op) {
        Tok t = next();
        if (t.kind != Kind.OP || !t.text.equals(op)) throw error(t, "expected '" + op + "', found " + describe(t));
        return t;
    }

    private String expectName() {
        Tok t = next();
        if (t.kind != Kind.NAME) throw error(t, "expected a name, found " + describe(t));
        return t.text;
    }

    private void expect(Kind kind) {
        Tok t = next();
        if (t.kind != kind) throw error(t, "expected " + (kind == Kind.BLOCK_END ? "'%}'" : kind == Kind.VAR_END ? "'}}'" : kind.toString()) + ", found " + describe(t));
    }

    private static String describe(Tok t) {
        return switch (t.kind) {
            case EOF -> "the end of the template";
            case BLOCK_END -> "'%}'";
            case VAR_END -> "'}}'";
            case STRING -> "a string";
            default -> "'" + t.text + "'";
        };
    }

    TemplateException error(Tok t, String message) {
        return new TemplateException("line " + t.line + ": " + message);
    }

    private String peekTagName() {
        Tok t = peek(1);
        return t.kind == Kind.NAME ? t.text : t.text;
    }

    private void enter(Tok t) {
        if (++depth > MAX_NESTING) throw error(t, "nesting deeper than " + MAX_NESTING);
    }

    // ------------------------------------------------------------------ statements

    /** Statements up to EOF or a block tag whose name is one of the given end names (not consumed). */
    private List<Stmt> statements(String... ends) {
        List<Stmt> body = new ArrayList<>();
        while (true) {
            Tok t = peek();
            switch (t.kind) {
                case EOF -> { return body; }
                case TEXT -> { next(); body.add(new Node.Text(t.text)); }
                case VAR_BEGIN -> {
                    next();
                    Expr e = expression();
                    expect(Kind.VAR_END);
                    body.add(new Node.Output(e, t.line));
                }
                case BLOCK_BEGIN -> {
                    Tok nameTok = peek(1);
                    if (nameTok.kind != Kind.NAME) throw error(nameTok, "expected a tag name, found " + describe(nameTok));
                    for (String end : ends) if (nameTok.text.equals(end)) return body;
                    next();
                    next();
                    body.add(statement(nameTok));
                }
                default -> throw error(t, "unexpected " + describe(t));
            }
        }
    }

    private void endTag(String name, Tok opener) {
        Tok b = next();
        Tok n = next();
        if (b.kind != Kind.BLOCK_BEGIN || n.kind != Kind.NAME || !n.text.equals(name))
            throw error(opener, "'" + opener.text + "' block is not closed by '" + name + "'");
        expect(Kind.BLOCK_END);
    }

    private Stmt statement(Tok tag) {
        enter(tag);
        try {
            return switch (tag.text) {
                case "if" -> ifStatement(tag);
                case "for" -> forStatement(tag);
                case "set" -> setStatement(tag);
                case "macro" -> macroStatement(tag);
                case "break", "continue" -> {
                    if (loops == 0) throw error(tag, "'" + tag.text + "' outside a for loop");
                    expect(Kind.BLOCK_END);
                    yield tag.text.equals("break") ? new Node.Break(tag.line) : new Node.Continue(tag.line);
                }
                case "generation" -> {
                    expect(Kind.BLOCK_END);
                    List<Stmt> body = statements("endgeneration");
                    if (peek().kind == Kind.EOF) throw error(tag, "'generation' block is not closed by 'endgeneration'");
                    endTag("endgeneration", tag);
                    yield new Node.Block(body);
                }
                case "elif", "else", "endif", "endfor", "endset", "endmacro", "endgeneration" ->
                        throw error(tag, "unexpected '" + tag.text + "' tag with no open block");
                default -> throw error(tag, "unsupported tag '" + tag.text + "'");
            };
        } finally {
            depth--;
        }
    }

    private Stmt ifStatement(Tok tag) {
        List<Expr> conds = new ArrayList<>();
        List<List<Stmt>> bodies = new ArrayList<>();
        List<Stmt> orElse = List.of();
        conds.add(expression());
        expect(Kind.BLOCK_END);
        while (true) {
            bodies.add(statements("elif", "else", "endif"));
            if (peek().kind == Kind.EOF) throw error(tag, "'if' block is not closed by 'endif'");
            next();
            String which = next().text;
            if (which.equals("elif")) {
                conds.add(expression());
                expect(Kind.BLOCK_END);
            } else if (which.equals("else")) {
                expect(Kind.BLOCK_END);
                orElse = statements("endif");
                if (peek().kind == Kind.EOF) throw error(tag, "'if' block is not closed by 'endif'");
                endTag("endif", tag);
                break;
            } else {
                expect(Kind.BLOCK_END);
                break;
            }
        }
        return new Node.If(conds, bodies, orElse, tag.line);
    }

    private Stmt forStatement(Tok tag) {
        List<String> targets = new ArrayList<>();
        boolean paren = isOp("(");
        if (paren) next();
        targets.add(expectName());
        while (isOp(",")) { next(); targets.add(expectName()); }
        if (paren) expectOp(")");
        if (!isName("in")) throw error(peek(), "expected 'in' in the for tag, found " + describe(peek()));
        next();
        Expr iterable = condition();   // no conditional expression here: 'if' starts the loop filter
        Expr filter = null;
        if (isName("if")) { next(); filter = expression(); }
        if (isName("recursive")) throw error(peek(), "recursive loops are not supported");
        expect(Kind.BLOCK_END);
        loops++;
        List<Stmt> body;
        try {
            body = statements("else", "endfor");
        } finally {
            loops--;
        }
        if (peek().kind == Kind.EOF) throw error(tag, "'for' block is not closed by 'endfor'");
        List<Stmt> orElse = List.of();
        if (peek(1).text.equals("else")) {
            next(); next();
            expect(Kind.BLOCK_END);
            orElse = statements("endfor");
            if (peek().kind == Kind.EOF) throw error(tag, "'for' block is not closed by 'endfor'");
        }
        endTag("endfor", tag);
        return new Node.For(targets, iterable, filter, body, orElse, tag.line);
    }

    private Stmt setStatement(Tok tag) {
        String first = expectName();
        if (isOp(".")) {
            next();
            String attr = expectName();
            expectOp("=");
            Expr value = expression();
            expect(Kind.BLOCK_END);
            return new Node.Set(List.of(first), attr, value, tag.line);
        }
        List<String> targets = new ArrayList<>(List.of(first));
        while (isOp(",")) { next(); targets.add(expectName()); }
        if (peek().kind == Kind.BLOCK_END && targets.size() == 1) {
            next();
            List<Stmt> body = statements("endset");
            if (peek().kind == Kind.EOF) throw error(tag, "'set' block is not closed by 'endset'");
            endTag("endset", tag);
            return new Node.SetBlock(first, body, tag.line);
        }
        expectOp("=");
        Expr value = tupleOrExpression();
        expect(Kind.BLOCK_END);
        return new Node.Set(targets, null, value, tag.line);
    }

    private Stmt macroStatement(Tok tag) {
        String name = expectName();
        expectOp("(");
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        while (!isOp(")")) {
            params.add(expectName());
            if (isOp("=")) { next(); defaults.add(expression()); }
            else if (!defaults.isEmpty()) throw error(peek(), "a macro parameter without a default follows one with a default");
            if (!isOp(")")) expectOp(",");
        }
        next();
        expect(Kind.BLOCK_END);
        int outerLoops = loops;
        loops = 0;   // a macro body is not inside the loop that defines it
        List<Stmt> body;
        try {
            body = statements("endmacro");
        } finally {
            loops = outerLoops;
        }
        if (peek().kind == Kind.EOF) throw error(tag, "'macro' block is not closed by 'endmacro'");
        endTag("endmacro", tag);
        return new Node.Macro(name, params, defaults, body, tag.line);
    }

    // ------------------------------------------------------------------ expressions

    private Expr tupleOrExpression() {
        Expr first = expression();
        if (!isOp(",")) return first;
        List<Expr> items = new ArrayList<>(List.of(first));
        while (isOp(",")) { next(); items.add(expression()); }
        return new Node.TupleExpr(items);
    }

    Expr expression() {
        Tok t = peek();
        enter(t);
        try {
            Expr e = condition();
            if (isName("if")) {
                next();
                Expr cond = condition();
                Expr orElse = null;
                if (isName("else")) { next(); orElse = expression(); }
                return new Node.Cond(cond, e, orElse);
            }
            return e;
        } finally {
            depth--;
        }
    }

    private Expr condition() {
        Expr e = and();
        while (isName("or")) { next(); e = new Node.Or(e, and()); }
        return e;
    }

    private Expr and() {
        Expr e = not();
        while (isName("and")) { next(); e = new Node.And(e, not()); }
        return e;
    }

    private Expr not() {
        if (isName("not")) {
            Tok t = next();
            enter(t);
            try { return new Node.Not(not()); } finally { depth--; }
        }
        return compare();
    }

    private Expr compare() {
        Tok start = peek();
        Expr first = math1();
        List<String> ops = new ArrayList<>();
        List<Expr> operands = new ArrayList<>(List.of(first));
        while (true) {
            Tok t = peek();
            if (t.kind == Kind.OP && (t.text.equals("==") || t.text.equals("!=") || t.text.equals("<")
                    || t.text.equals(">") || t.text.equals("<=") || t.text.equals(">="))) {
                next();
                ops.add(t.text);
            } else if (isName("in")) {
                next();
                ops.add("in");
            } else if (isName("not") && peek(1).kind == Kind.NAME && peek(1).text.equals("in")) {
                next(); next();
                ops.add("not in");
            } else {
                break;
            }
            operands.add(math1());
        }
        return ops.isEmpty() ? first : new Node.Compare(ops, operands, start.line);
    }

    private Expr math1() {
        Expr e = concat();
        while (isOp("+") || isOp("-")) {
            Tok t = next();
            e = new Node.Binary(t.text, e, concat(), t.line);
        }
        return e;
    }

    private Expr concat() {
        Expr e = math2();
        while (isOp("~")) {
            Tok t = next();
            e = new Node.Binary("~", e, math2(), t.line);
        }
        return e;
    }

    private Expr math2() {
        Expr e = pow();
        while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
            Tok t = next();
            e = new Node.Binary(t.text, e, pow(), t.line);
        }
        return e;
    }

    private Expr pow() {
        Expr e = unary(true);
        while (isOp("**")) {
            Tok t = next();
            e = new Node.Binary("**", e, unary(true), t.line);
        }
        return e;
    }

    private Expr unary(boolean withFilter) {
        Tok t = peek();
        Expr e;
        if (isOp("-") || isOp("+")) {
            next();
            enter(t);
            try { e = new Node.Unary(t.text, unary(false), t.line); } finally { depth--; }
        } else {
            e = postfix(primary());
        }
        return withFilter ? filters(e) : e;
    }

    private Expr primary() {
        Tok t = next();
        switch (t.kind) {
            case STRING -> {
                StringBuilder sb = new StringBuilder(t.text);
                while (peek().kind == Kind.STRING) sb.append(next().text);   // adjacent literals concatenate
                return new Node.Literal(sb.toString());
            }
            case INT -> {
                try { return new Node.Literal(Long.parseLong(t.text)); }
                catch (NumberFormatException e) { throw error(t, "integer literal out of range: " + t.text); }
            }
            case FLOAT -> { return new Node.Literal(Double.parseDouble(t.text)); }
            case NAME -> {
                return switch (t.text) {
                    case "true", "True" -> new Node.Literal(Boolean.TRUE);
                    case "false", "False" -> new Node.Literal(Boolean.FALSE);
                    case "none", "None" -> new Node.Literal(null);
                    default -> new Node.Name(t.text, t.line);
                };
            }
            case OP -> {
                enter(t);
                try {
                    switch (t.text) {
                        case "(" -> {
                            if (isOp(")")) { next(); return new Node.TupleExpr(List.of()); }
                            Expr e = expression();
                            if (isOp(")")) { next(); return e; }
                            List<Expr> items = new ArrayList<>(List.of(e));
                            while (isOp(",")) {
                                next();
                                if (isOp(")")) break;
                                items.add(expression());
                            }
                            expectOp(")");
                            return new Node.TupleExpr(items);
                        }
                        case "[" -> {
                            List<Expr> items = new ArrayList<>();
                            while (!isOp("]")) {
                                items.add(expression());
                                if (!isOp("]")) expectOp(",");
                            }
                            next();
                            return new Node.ListExpr(items);
                        }
                        case "{" -> {
                            List<Expr> keys = new ArrayList<>();
                            List<Expr> values = new ArrayList<>();
                            while (!isOp("}")) {
                                keys.add(expression());
                                expectOp(":");
                                values.add(expression());
                                if (!isOp("}")) expectOp(",");
                            }
                            next();
                            return new Node.DictExpr(keys, values);
                        }
                        default -> throw error(t, "unexpected " + describe(t));
                    }
                } finally {
                    depth--;
                }
            }
            default -> throw error(t, "expected an expression, found " + describe(t));
        }
    }

    private Expr postfix(Expr e) {
        while (true) {
            Tok t = peek();
            if (isOp(".")) {
                next();
                Tok name = next();
                if (name.kind != Kind.NAME && name.kind != Kind.INT) throw error(name, "expected an attribute name after '.'");
                if (name.kind == Kind.INT && name.text.length() > 18) throw error(name, "index out of range: " + name.text);
                e = name.kind == Kind.INT ? new Node.GetItem(e, new Node.Literal(Long.parseLong(name.text)), t.line)
                        : new Node.GetAttr(e, name.text, t.line);
            } else if (isOp("[")) {
                next();
                e = subscript(e, t);
            } else if (isOp("(")) {
                e = call(e, t);
            } else {
                return e;
            }
        }
    }

    private Expr subscript(Expr target, Tok t) {
        Expr start = null, stop = null, step = null;
        boolean slice = false;
        if (!isOp(":")) start = expression();
        if (isOp(":")) {
            slice = true;
            next();
            if (!isOp("]") && !isOp(":")) stop = expression();
            if (isOp(":")) {
                next();
                if (!isOp("]")) step = expression();
            }
        }
        expectOp("]");
        return slice ? new Node.Slice(target, start, stop, step, t.line) : new Node.GetItem(target, start, t.line);
    }

    private Node.Call call(Expr target, Tok t) {
        List<Expr> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Expr> kwValues = new ArrayList<>();
        arguments(args, kwNames, kwValues);
        return new Node.Call(target, args, kwNames, kwValues, t.line);
    }

    private void arguments(List<Expr> args, List<String> kwNames, List<Expr> kwValues) {
        expectOp("(");
        while (!isOp(")")) {
            if (peek().kind == Kind.NAME && peek(1).kind == Kind.OP && peek(1).text.equals("=")) {
                kwNames.add(next().text);
                next();
                kwValues.add(expression());
            } else {
                if (!kwNames.isEmpty()) throw error(peek(), "a positional argument follows a keyword argument");
                args.add(expression());
            }
            if (!isOp(")")) expectOp(",");
        }
        next();
    }

    private Expr filters(Expr e) {
        while (true) {
            Tok t = peek();
            if (isOp("|")) {
                next();
                String name = expectName();
                while (isOp(".")) { next(); name = name + "." + expectName(); }
                List<Expr> args = new ArrayList<>();
                List<String> kwNames = new ArrayList<>();
                List<Expr> kwValues = new ArrayList<>();
                if (isOp("(")) arguments(args, kwNames, kwValues);
                e = new Node.Filter(e, name, args, kwNames, kwValues, t.line);
            } else if (isName("is")) {
                next();
                boolean negated = false;
                if (isName("not")) { next(); negated = true; }
                String name = expectName();
                List<Expr> args = new ArrayList<>();
                if (isOp("(")) {
                    List<String> kwNames = new ArrayList<>();
                    List<Expr> kwValues = new ArrayList<>();
                    arguments(args, kwNames, kwValues);
                    if (!kwNames.isEmpty()) throw error(t, "tests take no keyword arguments");
                } else {
                    Tok a = peek();
                    boolean startsArg = (a.kind == Kind.NAME && !a.text.equals("else") && !a.text.equals("or")
                            && !a.text.equals("and") && !a.text.equals("if") && !a.text.equals("is")
                            && !a.text.equals("in") && !a.text.equals("not"))
                            || a.kind == Kind.STRING || a.kind == Kind.INT || a.kind == Kind.FLOAT
                            || (a.kind == Kind.OP && (a.text.equals("[") || a.text.equals("{")));
                    if (startsArg) args.add(postfix(primary()));
                }
                e = new Node.Test(e, name, args, negated, t.line);
            } else {
                return e;
            }
        }
    }
}
