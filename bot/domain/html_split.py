"""Telegram HTML, cut into messages that Telegram accepts, and read back as plain text.

`split_html` cuts a long text into parts of at most `limit` UTF-16 units (tags counted, so the
bound holds whatever Telegram makes of them). It never cuts inside a tag, an entity (`&amp;`),
a code point (a surrogate pair) or, where it can help it, a grapheme (emoji with a joiner or a
modifier); it prefers a line break, then a space. Tags open at a cut are closed at the end of
the part and reopened at the start of the next, so every part is balanced. No part is empty.
`plain_of` is the text without markup: the outbox's second try after "can't parse entities".
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

_TOKEN = re.compile(
    r"(?P<tag></?[A-Za-z][A-Za-z0-9-]*(?:\s(?:[^<>\"']|\"[^\"]*\"|'[^']*')*)?>)"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});)",
    re.DOTALL,
)
_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")
_GLUE = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}  # joiner, variation selectors, keycap


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class _Tok:
    text: str
    kind: str  # "open" | "close" | "entity" | "char"
    name: str = ""

    @property
    def size(self) -> int:
        return units(self.text)


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        out.extend(_Tok(ch, "char") for ch in text[pos : match.start()])
        if match.group("tag"):
            tag = match.group("tag")
            name_match = _NAME.match(tag)
            name = name_match.group(1).lower() if name_match else ""
            out.append(_Tok(tag, "close" if tag.startswith("</") else "open", name))
        else:
            out.append(_Tok(match.group("entity"), "entity"))
        pos = match.end()
    out.extend(_Tok(ch, "char") for ch in text[pos:])
    return out


def _push(stack: tuple[_Tok, ...], tok: _Tok) -> tuple[_Tok, ...]:
    """The open tags after `tok`."""
    if tok.kind == "open":
        return (*stack, tok)
    if tok.kind == "close":
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].name == tok.name:
                return stack[:i]
    return stack


def _closers(stack: tuple[_Tok, ...]) -> str:
    return "".join(f"</{t.name}>" for t in reversed(stack))


def _visible(tok: _Tok) -> bool:
    return tok.kind == "entity" or (tok.kind == "char" and not tok.text.isspace())


def _glued(prev: _Tok, tok: _Tok) -> bool:
    """Cutting between `prev` and `tok` would split one grapheme."""
    if prev.kind != "char" or tok.kind != "char":
        return False
    if prev.text == "\u200d" or tok.text in _GLUE or unicodedata.combining(tok.text):
        return True
    return 0x1F3FB <= ord(tok.text) <= 0x1F3FF  # skin-tone modifier


def split_html(text: str, limit: int = 4096) -> list[str]:
    """Parts of at most `limit` units, each balanced on its own (see the module docstring)."""
    if units(text) <= limit:
        return [text]
    toks = _tokens(text)
    # a tag too long to share a part with anything is dropped (with its end tag)
    toks = _drop_oversized(toks, limit // 4)
    parts: list[str] = []
    carry: tuple[_Tok, ...] = ()  # tags open at the last cut: reopened first
    i = 0
    while i < len(toks):
        part, i, carry = _one_part(toks, i, carry, limit)
        if part is not None:
            parts.append(part)
    return parts or [html.escape(plain_of(text))[:limit]]


def _one_part(
    toks: list[_Tok], i: int, carry: tuple[_Tok, ...], limit: int
) -> tuple[str | None, int, tuple[_Tok, ...]]:
    """The next part from token `i` on: (its text or None if nothing visible, next i, open)."""
    if sum(t.size for t in carry) + units(_closers(carry)) + 2 > limit // 2:
        carry = ()  # pathological nesting: this part goes without the formatting
    stack = carry
    body: list[_Tok] = list(carry)
    size = sum(t.size for t in carry)
    line_cut = space_cut = None  # (index into toks, len(body), stack) of a good cut
    seen_visible = False
    j = i
    while j < len(toks):
        tok = toks[j]
        if tok.kind == "close" and all(t.name != tok.name for t in stack):
            j += 1  # its start tag was dropped (or never there): the end tag goes too
            continue
        after = _push(stack, tok)
        if size + tok.size + units(_closers(after)) > limit:
            break
        body.append(tok)
        size += tok.size
        stack = after
        seen_visible = seen_visible or _visible(tok)
        j += 1
        if tok.kind == "char" and seen_visible and size >= limit // 4:
            if tok.text == "\n":
                line_cut = (j, len(body) - 1, stack)  # the line break itself is dropped
            elif tok.text == " ":
                space_cut = (j, len(body), stack)
    if j == i:  # not even one token fits (the guards above rule it out): skip it
        return None, i + 1, carry
    if j == len(toks):
        cut = (j, len(body), stack)
    elif line_cut is not None:
        cut = line_cut
    elif space_cut is not None:
        cut = space_cut
    else:
        k = j
        while k - 1 > i and _glued(toks[k - 1], toks[k]) and (j - k) < 16:
            k -= 1
        keep = len(body) - (j - k)
        stack = carry
        for tok in body[len(carry) : keep]:
            stack = _push(stack, tok)
        cut = (k, keep, stack)
    nxt, keep, open_at_cut = cut
    kept = body[:keep]
    text = "".join(t.text for t in kept) + _closers(open_at_cut)
    if not any(_visible(t) for t in kept):
        return None, nxt, open_at_cut
    return text, nxt, open_at_cut


def _drop_oversized(toks: list[_Tok], max_tag: int) -> list[_Tok]:
    """Drop start tags too long to share a part, each with its own end tag (matched by nesting,
    so a dropped `<code class=...>` takes its `</code>`, not that of a `<code>` inside it)."""
    out: list[_Tok] = []
    opened: list[tuple[str, bool]] = []  # (name, dropped) of every start tag still open
    for tok in toks:
        if tok.kind == "open":
            dropped = tok.size > max_tag
            opened.append((tok.name, dropped))
            if dropped:
                continue
        elif tok.kind == "close":
            at = next((k for k in range(len(opened) - 1, -1, -1) if opened[k][0] == tok.name), None)
            if at is not None:
                _, dropped = opened.pop(at)
                if dropped:
                    continue
        out.append(tok)
    return out


def plain_of(text: str) -> str:
    """The text without tags, entities unescaped: what is left to send without parse mode."""
    return html.unescape("".join(t.text for t in _tokens(text) if t.kind not in ("open", "close")))
