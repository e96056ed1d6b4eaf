"""The rule language's parser: text -> tokens -> a small syntax tree, in linear time.

No regular expression that can backtrack and no recursion the input can deepen without bound:
a rule is at most :data:`MAX_RULE_CHARS` characters, nests at most :data:`MAX_DEPTH` levels and
has at most :data:`MAX_NODES` nodes; anything else is a :class:`DomainError` that says what to
change. Sums, products and chains of ``and`` / ``or`` are flat n-ary nodes, so a long sum is not
a deep tree. (Rules arrive from untrusted places too: ``privsynth serve``'s ``where=``.)

Grammar::

    rule       := 'if' expr 'then' expr | column '=' arith | expr
    expr       := and ('or' and)*
    and        := not ('and' not)*
    not        := 'not' not | comparison
    comparison := arith (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in') arith)*
    arith      := term (('+' | '-') term)*
    term       := unary (('*' | '/') unary)*
    unary      := ('-' | '+') unary | atom
    atom       := number | 'string' | "string" | True | False | name | `any name` | '(' expr ')'
                | '[' constant (',' constant)* ']'

Example:
    >>> parse("if rel == 'Husband' then age >= 18").kind
    'if'
    >>> parse("a + b + c").terms[2]
    Node(kind='name', value='c', terms=(), ops=())
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from privsynth.core.errors import DomainError

__all__ = ["Node", "parse", "tokenize", "MAX_RULE_CHARS", "MAX_DEPTH", "MAX_NODES"]

#: Longest rule, in characters.
MAX_RULE_CHARS = 4096
#: Deepest nesting of parentheses, ``not`` and signs.
MAX_DEPTH = 32
#: Most syntax-tree nodes in one rule.
MAX_NODES = 512

_KEYWORDS = {"and", "or", "not", "in", "if", "then", "True", "False", "true", "false"}
_COMPARE = ("==", "!=", "<=", ">=", "<", ">")
_SYMBOLS = ("==", "!=", "<=", ">=", "<", ">", "=", "+", "-", "*", "/", "(", ")", "[", "]", ",")


@dataclass(frozen=True)
class Node:
    """One node of a parsed rule.

    ``kind`` is one of ``number``, ``string``, ``bool``, ``name`` (``value`` holds the constant or
    the column name), ``list`` (``terms``: constants), ``neg``, ``not`` (one term), ``sum`` /
    ``product`` (``terms`` joined by ``ops``: ``+ -`` or ``* /``), ``and`` / ``or`` (``terms``),
    ``compare`` (``terms`` joined by ``ops``: comparisons, ``in``, ``not in``), ``if`` (condition,
    consequence) and ``formula`` (``value``: the derived column; one term).
    """

    kind: str
    value: Any = None
    terms: tuple = ()
    ops: tuple = ()


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, word (keyword), symbol, end
    text: Any
    at: int


def _fail(source: str, message: str) -> DomainError:
    shown = source if len(source) <= 80 else source[:77] + "..."
    return DomainError(f"Rule {shown!r}: {message}")


def tokenize(source: str) -> list[_Token]:
    """The tokens of ``source`` (one left-to-right pass)."""
    if len(source) > MAX_RULE_CHARS:
        raise _fail(source, f"{len(source)} characters, over the limit of {MAX_RULE_CHARS}; write shorter rules.")
    out: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c.isspace():
            i += 1
        elif c.isdigit() or (c == "." and i + 1 < n and source[i + 1].isdigit()):
            j = i
            while j < n and (source[j].isdigit() or source[j] == "."):
                j += 1
            if j < n and source[j] in "eE" and j + 1 < n and (source[j + 1].isdigit() or (source[j + 1] in "+-" and j + 2 < n
                                                                                          and source[j + 2].isdigit())):
                j += 2
                while j < n and source[j].isdigit():
                    j += 1
            text = source[i:j]
            try:
                value: Any = int(text) if text.isdigit() else float(text)
            except ValueError:
                raise _fail(source, f"{text!r} at position {i} is not a number.") from None
            out.append(_Token("number", value, i))
            i = j
        elif c in "'\"":
            j = source.find(c, i + 1)
            if j < 0:
                raise _fail(source, f"the text starting at position {i} has no closing {c}.")
            out.append(_Token("string", source[i + 1:j], i))
            i = j + 1
        elif c == "`":
            j = source.find("`", i + 1)
            if j <= i + 1:
                raise _fail(source, f"the name in backticks at position {i} is empty or not closed.")
            out.append(_Token("name", source[i + 1:j], i))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            word = source[i:j]
            out.append(_Token("word" if word in _KEYWORDS else "name", word, i))
            i = j
        else:
            symbol = next((s for s in _SYMBOLS if source.startswith(s, i)), None)
            if symbol is None:
                raise _fail(source, f"unexpected character {c!r} at position {i}; rules use columns, constants, lists, "
                                    "comparisons, in, and/or/not, + - * / and parentheses.")
            out.append(_Token("symbol", symbol, i))
            i += len(symbol)
    out.append(_Token("end", None, n))
    return out


class _Parser:
    def __init__(self, source: str) -> None:
        self.source, self.tokens, self.i, self.depth, self.nodes = source, tokenize(source), 0, 0, 0

    # -- helpers ---------------------------------------------------------------------------
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def at(self, kind: str, *texts: Any) -> bool:
        return self.tok.kind == kind and (not texts or self.tok.text in texts)

    def take(self) -> _Token:
        tok = self.tok
        self.i += 1
        return tok

    def expect(self, kind: str, text: Any, what: str) -> None:
        if not self.at(kind, text):
            raise self.error(f"expected {what}")
        self.i += 1

    def error(self, what: str) -> DomainError:
        tok = self.tok
        found = "the end" if tok.kind == "end" else repr(tok.text)
        return _fail(self.source, f"is not a valid expression: {what} at position {tok.at}, found {found} (anything but columns, "
                                  "constants, lists, comparisons, in, and/or/not, + - * / and parentheses is not allowed). Write e.g. "
                                  "'age >= 18', 'start <= end', \"if a == 'x' then b in ['y', 'z']\" or 'total = a + b' (backticks "
                                  "around names like `a-b`).")

    def node(self, kind: str, value: Any = None, terms: tuple = (), ops: tuple = ()) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _fail(self.source, f"more than {MAX_NODES} terms; split it into several rules.")
        return Node(kind, value, terms, ops)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail(self.source, f"nested more than {MAX_DEPTH} levels deep.")

    # -- grammar -----------------------------------------------------------------------------
    def rule(self) -> Node:
        if self.at("word", "if"):
            self.take()
            condition = self.expr()
            self.expect("word", "then", "'then'")
            out = self.node("if", terms=(condition, self.expr()))
        elif self.at("name") and self.tokens[self.i + 1].kind == "symbol" and self.tokens[self.i + 1].text == "=":
            target = self.take().text
            self.take()
            out = self.node("formula", target, (self.arith(),))
        else:
            out = self.expr()
        if not self.at("end"):
            raise self.error("unexpected text")
        return out

    def expr(self) -> Node:
        return self.joined(self.conjunction, "or")

    def conjunction(self) -> Node:
        return self.joined(self.negation, "and")

    def joined(self, operand: Any, word: str) -> Node:
        """``operand (word operand)*`` as one flat ``and`` / ``or`` node."""
        terms = [operand()]
        while self.at("word", word):
            self.take()
            terms.append(operand())
        return terms[0] if len(terms) == 1 else self.node(word, terms=tuple(terms))

    def negation(self) -> Node:
        if self.at("word", "not"):
            self.take()
            self.enter()
            inner = self.negation()
            self.depth -= 1
            return self.node("not", terms=(inner,))
        return self.comparison()

    def comparison(self) -> Node:
        terms, ops = [self.arith()], []
        while True:
            if self.at("symbol", *_COMPARE):
                ops.append(self.take().text)
            elif self.at("word", "in"):
                self.take()
                ops.append("in")
            elif self.at("word", "not") and self.tokens[self.i + 1].kind == "word" and self.tokens[self.i + 1].text == "in":
                self.i += 2
                ops.append("not in")
            else:
                break
            terms.append(self.arith())
        return terms[0] if not ops else self.node("compare", terms=tuple(terms), ops=tuple(ops))

    def arith(self) -> Node:
        return self.chain(self.term, ("+", "-"), "sum")

    def term(self) -> Node:
        return self.chain(self.unary, ("*", "/"), "product")

    def chain(self, operand: Any, symbols: tuple, kind: str) -> Node:
        """``operand (symbol operand)*`` as one flat n-ary node (a long sum is not a deep tree)."""
        terms, ops = [operand()], []
        while self.at("symbol", *symbols):
            ops.append(self.take().text)
            terms.append(operand())
        return terms[0] if not ops else self.node(kind, terms=tuple(terms), ops=tuple(ops))

    def unary(self) -> Node:
        if self.at("symbol", "-", "+"):
            sign = self.take().text
            self.enter()
            inner = self.unary()
            self.depth -= 1
            return self.node("neg", terms=(inner,)) if sign == "-" else inner
        return self.atom()

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.take()
            return self.node("number", tok.text)
        if tok.kind == "string":
            self.take()
            return self.node("string", tok.text)
        if tok.kind == "word" and tok.text in ("True", "False", "true", "false"):
            self.take()
            return self.node("bool", tok.text in ("True", "true"))
        if tok.kind == "name":
            self.take()
            return self.node("name", tok.text)
        if self.at("symbol", "("):
            self.take()
            self.enter()
            inner = self.expr()
            self.depth -= 1
            self.expect("symbol", ")", "')'")
            return inner
        if self.at("symbol", "["):
            self.take()
            items = [self.constant()]
            while self.at("symbol", ","):
                self.take()
                items.append(self.constant())
            self.expect("symbol", "]", "']' closing the list")
            return self.node("list", terms=tuple(items))
        raise self.error("expected a column, a constant, a list or '('")

    def constant(self) -> Node:
        negative = self.at("symbol", "-")
        if negative:
            self.take()
        node = self.atom()
        if node.kind not in ("number", "string", "bool") or (negative and node.kind != "number"):
            raise _fail(self.source, "a list may hold constants only (numbers, 'text', True/False).")
        return Node("number", -node.value) if negative else node


def parse(source: str) -> Node:
    """The syntax tree of one rule; a :class:`DomainError` naming the rule for anything else."""
    return _Parser(source).rule()
