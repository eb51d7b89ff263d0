package finetune4j.text.jinja;

import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.ext.AstDict;
import com.hubspot.jinjava.el.ext.AstList;
import com.hubspot.jinjava.el.ext.AstNamedParameter;
import com.hubspot.jinjava.el.ext.AstTuple;
import com.hubspot.jinjava.el.ext.CollectionMembershipOperator;
import com.hubspot.jinjava.el.ext.CollectionNonMembershipOperator;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import com.hubspot.jinjava.el.ext.OrOperator;
import com.hubspot.jinjava.el.ext.PowerOfOperator;
import com.hubspot.jinjava.el.ext.StringConcatOperator;
import com.hubspot.jinjava.el.ext.TruncDivOperator;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.el.ext.AdditionOperator;
import jinjava.de.odysseus.el.tree.Bindings;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner;
import jinjava.de.odysseus.el.tree.impl.Scanner.Symbol;
import jinjava.de.odysseus.el.tree.impl.ast.AstBinary;
import jinjava.de.odysseus.el.tree.impl.ast.AstBracket;
import jinjava.de.odysseus.el.tree.impl.ast.AstDot;
import jinjava.de.odysseus.el.tree.impl.ast.AstMethod;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstParameters;
import jinjava.de.odysseus.el.tree.impl.ast.AstProperty;
import jinjava.de.odysseus.el.tree.impl.ast.AstRightValue;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.PropertyNotFoundException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Jinjava's expression parser with Python's expression semantics.
 *
 * <ul>
 *   <li>Every binary operator ({@code + - * / // % ** == != < <= > >= in, not in, and, or, ~}) and
 *       unary {@code not}/{@code -} evaluates through {@link PyOps} / Python truthiness instead of
 *       EL coercions; {@code and}/{@code or} return an operand, as Python does.</li>
 *   <li>Subscripts take Python slices with a step ({@code messages[::-1]}, {@code s[1:-1]}),
 *       which Jinjava's grammar rejects.</li>
 *   <li>{@code none}/{@code None} is {@link PyNone}, not Java null (which means undefined).</li>
 *   <li>An attribute or item of an undefined value is an error, as Jinja2's Undefined raises;
 *       a missing key of a defined dict is undefined.</li>
 *   <li>An unknown filter is reported at parse time, as Jinja2 does.</li>
 *   <li>List, tuple and dict literals build immutable values ({@link PyTuple} for tuples).</li>
 * </ul>
 */
final class PyParser extends ExtendedParser {
    private static final Set<Symbol> TEST_NAME_SYMBOLS = EnumSet.of(Symbol.IDENTIFIER, Symbol.EQ, Symbol.NE,
            Symbol.LT, Symbol.LE, Symbol.GT, Symbol.GE, Symbol.TRUE, Symbol.FALSE, Symbol.NULL, Symbol.EXTENSION);

    /** Builds {@link PyParser}s (JUEL instantiates the parser per expression through its builder). */
    static final class PyBuilder extends ExtendedSyntaxBuilder {
        private static final long serialVersionUID = 1L;

        PyBuilder() {
            super(Feature.METHOD_INVOCATIONS, Feature.VARARGS);
        }

        @Override
        protected Parser createParser(String expression) {
            return new PyParser(this, expression);
        }
    }

    PyParser(Builder context, String input) {
        super(context, input);
        putExtensionHandler(StringConcatOperator.TOKEN, binary(StringConcatOperator.HANDLER, Op.CONCAT));
        putExtensionHandler(TruncDivOperator.TOKEN, binary(TruncDivOperator.HANDLER, Op.FLOORDIV));
        putExtensionHandler(PowerOfOperator.TOKEN, binary(PowerOfOperator.HANDLER, Op.POW));
        putExtensionHandler(CollectionMembershipOperator.TOKEN, binary(CollectionMembershipOperator.HANDLER, Op.IN));
        putExtensionHandler(CollectionNonMembershipOperator.TOKEN, binary(CollectionNonMembershipOperator.HANDLER, Op.NOT_IN));
    }

    @Override
    protected Scanner createScanner(String expression) {
        return new PyScanner(expression);
    }

    /** Parameters and list items; Python allows a trailing comma ({@code (1,)}, {@code [a, b,]}, {@code f(x,)}). */
    @Override
    protected AstParameters params(Symbol left, Symbol right) throws Scanner.ScanException, ParseException {
        consumeToken(left);
        List<AstNode> l = new ArrayList<>();
        AstNode v = argument(false);
        if (v != null) {
            l.add(v);
            while (getToken().getSymbol() == Symbol.COMMA) {
                consumeToken();
                if (getToken().getSymbol() == right) break;
                l.add(argument(true));
            }
        }
        consumeToken(right);
        return createAstParameters(l);
    }

    /** An argument: {@code name=expression} (the whole expression, as in Python) or an expression. */
    private AstNode argument(boolean required) throws Scanner.ScanException, ParseException {
        if (getToken().getSymbol() == Symbol.IDENTIFIER && "=".equals(lookahead(0).getImage())) {
            String name = consumeToken().getImage();
            consumeToken();
            return new AstNamedParameter(identifier(name), expr(true));
        }
        return expr(required);
    }

    private static ExtensionHandler binary(ExtensionHandler original, Op op) {
        return new ExtensionHandler(original.getExtensionPoint()) {
            @Override
            public AstNode createAstNode(AstNode... children) {
                return new AstBinary(children[0], children[1], op);
            }
        };
    }

    // ------------------------------------------------------------------ operators

    /** The operators, evaluated with Python semantics. */
    enum Op implements AstBinary.Operator {
        ADD("+"), SUB("-"), MUL("*"), DIV("/"), FLOORDIV("//"), MOD("%"), POW("**"), CONCAT("~"),
        EQ("=="), NE("!="), LT("<"), LE("<="), GT(">"), GE(">="), IN("in"), NOT_IN("not in"), AND("and"), OR("or");

        private final String symbol;

        Op(String symbol) {
            this.symbol = symbol;
        }

        @Override
        public Object eval(Bindings bindings, ELContext context, AstNode left, AstNode right) {
            Object a = left.eval(bindings, context);
            switch (this) {
                case AND:
                    return PyValues.truthy(a) ? right.eval(bindings, context) : a;
                case OR:
                    return PyValues.truthy(a) ? a : right.eval(bindings, context);
                default:
                    break;
            }
            Object b = right.eval(bindings, context);
            return switch (this) {
                case ADD -> PyOps.add(a, b);
                case SUB -> PyOps.sub(a, b);
                case MUL -> PyOps.mul(a, b);
                case DIV -> PyOps.div(a, b);
                case FLOORDIV -> PyOps.floorDiv(a, b);
                case MOD -> PyOps.mod(a, b);
                case POW -> PyOps.pow(a, b);
                case CONCAT -> {
                    String x = PyRepr.str(a), y = PyRepr.str(b);
                    RenderState.current().checkSize((long) x.length() + y.length(), "a string");
                    yield x + y;
                }
                case EQ -> PyOps.eq(a, b);
                case NE -> !PyOps.eq(a, b);
                case LT -> PyOps.compare(a, b, symbol) < 0;
                case LE -> PyOps.compare(a, b, symbol) <= 0;
                case GT -> PyOps.compare(a, b, symbol) > 0;
                case GE -> PyOps.compare(a, b, symbol) >= 0;
                case IN -> PyOps.contains(b, a);
                case NOT_IN -> !PyOps.contains(b, a);
                default -> throw new IllegalStateException(name());
            };
        }

        @Override
        public String toString() {
            return symbol;
        }
    }

    private enum UnaryOp implements AstUnary.Operator {
        NOT, NEG;

        @Override
        public Object eval(Bindings bindings, ELContext context, AstNode node) {
            Object v = node.eval(bindings, context);
            return this == NOT ? !PyValues.truthy(v) : PyOps.neg(v);
        }

        @Override
        public String toString() {
            return this == NOT ? "not " : "-";
        }
    }

    @Override
    protected AstBinary createAstBinary(AstNode left, AstNode right, AstBinary.Operator operator) {
        Op op = null;
        if (operator == AstBinary.ADD || operator == AdditionOperator.OP) op = Op.ADD;
        else if (operator == AstBinary.SUB) op = Op.SUB;
        else if (operator == AstBinary.MUL) op = Op.MUL;
        else if (operator == AstBinary.DIV) op = Op.DIV;
        else if (operator == AstBinary.MOD) op = Op.MOD;
        else if (operator == AstBinary.EQ) op = Op.EQ;
        else if (operator == AstBinary.NE) op = Op.NE;
        else if (operator == AstBinary.LT) op = Op.LT;
        else if (operator == AstBinary.LE) op = Op.LE;
        else if (operator == AstBinary.GT) op = Op.GT;
        else if (operator == AstBinary.GE) op = Op.GE;
        else if (operator == AstBinary.AND) op = Op.AND;
        else if (operator == AstBinary.OR || operator == OrOperator.OP) op = Op.OR;
        return new AstBinary(left, right, op != null ? op : operator);
    }

    @Override
    protected AstUnary createAstUnary(AstNode child, AstUnary.Operator operator) {
        if (operator == AstUnary.NOT) return new AstUnary(child, UnaryOp.NOT);
        if (operator == AstUnary.NEG) return new AstUnary(child, UnaryOp.NEG);
        return super.createAstUnary(child, operator);
    }

    // ------------------------------------------------------------------ literals

    @Override
    protected AstNode nonliteral() throws Scanner.ScanException, ParseException {
        Scanner.Token t = getToken();
        if (t.getSymbol() == Symbol.IDENTIFIER && ("none".equals(t.getImage()) || "None".equals(t.getImage()))
                && lookahead(0).getSymbol() != Symbol.LPAREN) {
            consumeToken();
            return new Constant(PyNone.NONE);
        }
        return super.nonliteral();
    }

    @Override
    protected AstList createAstList(AstParameters parameters) {
        return new AstList(parameters) {
            @Override
            public Object eval(Bindings bindings, ELContext context) {
                List<Object> out = new ArrayList<>();
                for (int i = 0; i < parameters.getCardinality(); i++) out.add(orNone(parameters.getChild(i).eval(bindings, context)));
                return Collections.unmodifiableList(out);
            }
        };
    }

    @Override
    protected AstTuple createAstTuple(AstParameters parameters) {
        return new AstTuple(parameters) {
            @Override
            public Object eval(Bindings bindings, ELContext context) {
                Object[] out = new Object[parameters.getCardinality()];
                for (int i = 0; i < out.length; i++) out[i] = orNone(parameters.getChild(i).eval(bindings, context));
                return new PyTuple(out);
            }
        };
    }

    @Override
    protected AstDict createAstDict(Map<AstNode, AstNode> dict) {
        return new AstDict(dict) {
            @Override
            public Object eval(Bindings bindings, ELContext context) {
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<AstNode, AstNode> e : dict.entrySet()) {
                    Object k = e.getKey().eval(bindings, context);
                    if (!PyValues.isString(k)) {
                        throw PyErrors.typeError("finetune4j templates support only str dict keys, got " + PyValues.typeName(k));
                    }
                    out.put(PyValues.str(k), orNone(e.getValue().eval(bindings, context)));
                }
                return Collections.unmodifiableMap(out);
            }
        };
    }

    private static Object orNone(Object v) {
        return v == null ? PyNone.NONE : v;
    }

    /** A constant (the {@code none} literal). */
    static final class Constant extends AstRightValue {
        private final Object value;

        Constant(Object value) {
            this.value = value;
        }

        @Override
        public Object eval(Bindings bindings, ELContext context) {
            return value;
        }

        @Override
        public void appendStructure(StringBuilder b, Bindings bindings) {
            b.append(value);
        }

        @Override
        public String toString() {
            return String.valueOf(value);
        }

        @Override
        public int getCardinality() {
            return 0;
        }

        @Override
        public AstNode getChild(int i) {
            return null;
        }
    }

    // ------------------------------------------------------------------ attribute / item access

    @Override
    protected AstDot createAstDot(AstNode prefix, String property, boolean lvalue) {
        return new AstDot(prefix, property, lvalue) {
            @Override
            public Object eval(Bindings bindings, ELContext context) {
                Object base = prefix.eval(bindings, context);
                if (base == null) throw PyErrors.undefined("'" + describe(prefix) + "' is undefined");
                return PyResolver.get(base, property);
            }
        };
    }

    @Override
    protected AstBracket createAstBracket(AstNode base, AstNode property, boolean lvalue, boolean strict) {
        return new AstBracket(base, property, lvalue, strict) {
            @Override
            public Object eval(Bindings bindings, ELContext context) {
                Object b = prefix.eval(bindings, context);
                if (b == null) throw PyErrors.undefined("'" + describe(prefix) + "' is undefined");
                return PyResolver.get(b, property.eval(bindings, context));
            }
        };
    }

    /** A method call on an undefined value fails, as calling an attribute of Jinja2's Undefined does. */
    @Override
    protected AstMethod createAstMethod(AstProperty property, AstParameters params) {
        return new AstMethod(property, params) {
            @Override
            public Object eval(Bindings bindings, ELContext context) {
                try {
                    return eval(bindings, context, false);
                } catch (PropertyNotFoundException e) {
                    throw PyErrors.undefined("'" + describe(property) + "' is undefined (called on an undefined value)");
                }
            }
        };
    }

    private static String describe(AstNode node) {
        StringBuilder sb = new StringBuilder();
        node.appendStructure(sb, null);
        return sb.toString();
    }

    /** {@code base[start:stop:step]}. */
    private static final class Slice extends AstRightValue {
        private final AstNode base, start, stop, step;

        Slice(AstNode base, AstNode start, AstNode stop, AstNode step) {
            this.base = base;
            this.start = start;
            this.stop = stop;
            this.step = step;
        }

        @Override
        public Object eval(Bindings bindings, ELContext context) {
            Object b = base.eval(bindings, context);
            if (b == null) throw PyErrors.undefined("'" + describe(base) + "' is undefined");
            return PyOps.slice(b, ev(start, bindings, context), ev(stop, bindings, context), ev(step, bindings, context));
        }

        private static Object ev(AstNode n, Bindings bindings, ELContext context) {
            return n == null ? PyNone.NONE : n.eval(bindings, context);
        }

        @Override
        public void appendStructure(StringBuilder b, Bindings bindings) {
            base.appendStructure(b, bindings);
            b.append("[");
            if (start != null) start.appendStructure(b, bindings);
            b.append(':');
            if (stop != null) stop.appendStructure(b, bindings);
            if (step != null) {
                b.append(':');
                step.appendStructure(b, bindings);
            }
            b.append(']');
        }

        @Override
        public int getCardinality() {
            return 4;
        }

        @Override
        public AstNode getChild(int i) {
            return switch (i) {
                case 0 -> base;
                case 1 -> start;
                case 2 -> stop;
                case 3 -> step;
                default -> null;
            };
        }
    }

    // ------------------------------------------------------------------ postfix: . [ ] | is

    /** True while parsing the operand of unary minus: Jinja2 applies filters to {@code -x}, not to x. */
    private boolean noFilters;

    @Override
    protected AstNode expr(boolean required) throws Scanner.ScanException, ParseException {
        boolean saved = noFilters;
        noFilters = false;
        try {
            return super.expr(required);
        } finally {
            noFilters = saved;
        }
    }

    /**
     * Jinja2's precedence: {@code not} binds looser than comparisons ({@code not x|length == 1} is
     * {@code not (x|length == 1)}), where EL makes it a unary operator binding tighter than {@code ==}.
     */
    @Override
    protected AstNode and(boolean required) throws Scanner.ScanException, ParseException {
        AstNode v = not(required);
        if (v == null) return null;
        while (true) {
            if (getToken().getSymbol() == Symbol.AND) {
                consumeToken();
                v = createAstBinary(v, not(true), AstBinary.AND);
            } else if (getToken().getSymbol() == Symbol.EXTENSION
                    && getExtensionHandler(getToken()).getExtensionPoint() == ExtensionPoint.AND) {
                v = getExtensionHandler(consumeToken()).createAstNode(v, not(true));
            } else {
                return v;
            }
        }
    }

    private AstNode not(boolean required) throws Scanner.ScanException, ParseException {
        if (getToken().getSymbol() == Symbol.NOT) {
            consumeToken();
            return createAstUnary(not(true), AstUnary.NOT);
        }
        return eq(required);
    }

    @Override
    protected AstNode unary(boolean required) throws Scanner.ScanException, ParseException {
        if (getToken().getSymbol() != Symbol.MINUS) return super.unary(required);
        consumeToken();
        boolean saved = noFilters;
        noFilters = true;
        AstNode operand;
        try {
            operand = unary(true);
        } finally {
            noFilters = saved;
        }
        AstNode v = createAstUnary(operand, AstUnary.NEG);
        return noFilters ? v : filtersAndTests(v);
    }

    private boolean isColon() {
        return getToken().getSymbol() == Symbol.COLON && ":".equals(getToken().getImage());
    }

    @Override
    protected AstNode value() throws Scanner.ScanException, ParseException {
        boolean lvalue = true;
        AstNode v = nonliteral();
        if (v == null) {
            v = literal();
            if (v == null) return null;
            lvalue = false;
        }
        while (true) {
            Symbol sym = getToken().getSymbol();
            if (sym == Symbol.DOT) {
                consumeToken();
                String name = consumeToken(Symbol.IDENTIFIER).getImage();
                AstDot dot = createAstDot(v, name, lvalue);
                v = getToken().getSymbol() == Symbol.LPAREN ? createAstMethod(dot, params()) : dot;
            } else if (sym == Symbol.LBRACK) {
                consumeToken();
                AstNode start = isColon() ? null : expr(true);
                if (isColon()) {
                    consumeToken();
                    AstNode stop = null, step = null;
                    if (!isColon() && getToken().getSymbol() != Symbol.RBRACK) stop = expr(true);
                    if (isColon()) {
                        consumeToken();
                        if (getToken().getSymbol() != Symbol.RBRACK) step = expr(true);
                    }
                    consumeToken(Symbol.RBRACK);
                    v = new Slice(v, start, stop, step);
                } else {
                    consumeToken(Symbol.RBRACK);
                    AstBracket bracket = createAstBracket(v, start, lvalue, true);
                    v = getToken().getSymbol() == Symbol.LPAREN ? createAstMethod(bracket, params()) : bracket;
                }
            } else {
                return noFilters ? v : filtersAndTests(v);
            }
        }
    }

    private AstNode filtersAndTests(AstNode v) throws Scanner.ScanException, ParseException {
        if ("|".equals(getToken().getImage()) && lookahead(0).getSymbol() == Symbol.IDENTIFIER) {
            do {
                consumeToken();
                String name = consumeToken().getImage();
                JinjavaInterpreter current = JinjavaInterpreter.getCurrent();
                if (current != null) {
                    var filter = current.getContext().getFilter(name);
                    if (filter instanceof PyFilters.Unsupported u) throw u.error();
                    if (filter == null) throw PyErrors.abort(TemplateException.Kind.SYNTAX, "No filter named '" + name + "'.", null);
                }
                List<AstNode> args = new ArrayList<>(List.of(v, interpreter()));
                if (getToken().getSymbol() == Symbol.LPAREN) {
                    AstParameters p = params();
                    for (int i = 0; i < p.getCardinality(); i++) args.add(p.getChild(i));
                }
                AstProperty filter = createAstDot(identifier(FILTER_PREFIX + name), "filter", true);
                v = createAstMethod(filter, createAstParameters(args));
            } while ("|".equals(getToken().getImage()) && lookahead(0).getSymbol() == Symbol.IDENTIFIER);
            return v;
        }
        if ("is".equals(getToken().getImage())) {
            boolean negated = "not".equals(lookahead(0).getImage());
            Scanner.Token nameToken = lookahead(negated ? 1 : 0);
            if (TEST_NAME_SYMBOLS.contains(nameToken.getSymbol())) {
                consumeToken();
                if (negated) consumeToken();
                String name = consumeToken().getImage();
                if (name.equals("True") || name.equals("False") || name.equals("None")) name = name.toLowerCase(java.util.Locale.ROOT);
                List<AstNode> args = new ArrayList<>(List.of(v, interpreter()));
                AstNode arg = value();
                if (arg != null) args.add(arg);
                AstProperty test = createAstDot(identifier(EXPTEST_PREFIX + name), negated ? "evaluateNegated" : "evaluate", true);
                return createAstMethod(test, createAstParameters(args));
            }
        }
        return v;
    }
}
