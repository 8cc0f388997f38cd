package dev.isthmus.runtime.template;

import java.util.List;

/** The syntax tree of a template: statements ({@code Stmt}) and expressions ({@code Expr}). */
sealed interface Node {

    /** A statement: produces output or changes variables. */
    sealed interface Stmt extends Node {}

    /** An expression: evaluates to a value. */
    sealed interface Expr extends Node {}

    record Text(String text) implements Stmt {}
    record Output(Expr expr, int line) implements Stmt {}
    record If(List<Expr> conditions, List<List<Stmt>> bodies, List<Stmt> orElse, int line) implements Stmt {}
    record For(List<String> targets, Expr iterable, Expr filter, List<Stmt> body, List<Stmt> orElse, int line) implements Stmt {}
    /** {@code set name = value}, {@code set a, b = value}, or {@code set ns.attr = value} (attr non-null). */
    record Set(List<String> targets, String attr, Expr value, int line) implements Stmt {}
    record SetBlock(String target, List<Stmt> body, int line) implements Stmt {}
    record Macro(String name, List<String> params, List<Expr> defaults, List<Stmt> body, int line) implements Stmt {}
    record Break(int line) implements Stmt {}
    record Continue(int line) implements Stmt {}
    /** A block whose body is rendered as is ({@code generation}: transformers' assistant-mask marker). */
    record Block(List<Stmt> body) implements Stmt {}

    record Literal(Object value) implements Expr {}
    record Name(String name, int line) implements Expr {}
    record ListExpr(List<Expr> items) implements Expr {}
    record TupleExpr(List<Expr> items) implements Expr {}
    record DictExpr(List<Expr> keys, List<Expr> values) implements Expr {}
    record GetAttr(Expr target, String name, int line) implements Expr {}
    record GetItem(Expr target, Expr index, int line) implements Expr {}
    record Slice(Expr target, Expr start, Expr stop, Expr step, int line) implements Expr {}
    record Call(Expr target, List<Expr> args, List<String> kwNames, List<Expr> kwValues, int line) implements Expr {}
    record Filter(Expr target, String name, List<Expr> args, List<String> kwNames, List<Expr> kwValues, int line) implements Expr {}
    record Test(Expr target, String name, List<Expr> args, boolean negated, int line) implements Expr {}
    record Unary(String op, Expr operand, int line) implements Expr {}
    record Binary(String op, Expr left, Expr right, int line) implements Expr {}
    /** A comparison chain such as {@code a < b <= c}: ops.size() == operands.size() - 1. */
    record Compare(List<String> ops, List<Expr> operands, int line) implements Expr {}
    record And(Expr left, Expr right) implements Expr {}
    record Or(Expr left, Expr right) implements Expr {}
    record Not(Expr operand) implements Expr {}
    record Cond(Expr condition, Expr then, Expr orElse) implements Expr {}
}
