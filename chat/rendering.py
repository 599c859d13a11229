"""A message body as HTML, rendered once when the message is stored or edited.

Why here and once: every client shows the same markup, no client has to carry a
Markdown parser or a sanitiser of its own, and the cost is paid per write, not
per socket or page view. Two steps, each with a job:

1. markdown-it-py turns the body into HTML with raw HTML off (a `<script>` in a
   body is text, escaped), a chat-sized subset of Markdown (bold, italic,
   strikethrough, inline code, code blocks, quotes, lists, links; no images, no
   headings or rules: a line starting with "#" stays a line) and URLs with a
   scheme made links.
   `@name` of an existing user becomes a mention span.
2. nh3 (the Ammonia sanitiser) keeps only an allow-list of tags and
   attributes, links only to http, https and mailto with
   `rel="noopener nofollow ugc"`: whatever step 1 let through by mistake, the
   stored HTML holds nothing that runs.

Most chat messages are one line of plain words. Both steps together cost about
1 ms of CPU per message, the largest single cost of storing one, and for such a
line they give back the line in a paragraph. `render` skips them for a body
that cannot hold markup (`is_plain`: a conservative test, checked against the
renderer on a generated corpus in tests/chat/test_rendering.py), with output
identical byte for byte.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html import escape

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

# "@name" not preceded by a word character or "@" (so e-mail addresses don't count).
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")
# A name may end a sentence: "@bob." mentions bob.
MENTION_TRAILING = ".-+"

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}, "span": {"data-user-id"}}
ALLOWED_CLASSES = {"span": {"mention"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener nofollow ugc"


@dataclass(frozen=True)
class Mentioned:
    user_id: int
    username: str


# Lowercased name -> the user it names.
Mentionable = Mapping[str, Mentioned]


def mention_names(body: str) -> set[str]:
    """Return the lowercased names after "@", with and without trailing punctuation."""
    names = set()
    for match in MENTION.finditer(body):
        name = match.group(1).lower()
        names.add(name)
        names.add(name.rstrip(MENTION_TRAILING))
    names.discard("")
    return names


def _mention_tokens(text: str, mentionable: Mentionable) -> list[Token] | None:
    """Split a text token's content into text and mention tokens; None if it has none."""
    pieces: list[Token] = []
    at = 0
    for match in MENTION.finditer(text):
        name = match.group(1)
        user = mentionable.get(name.lower())
        end = match.end()
        if user is None:
            stripped = name.rstrip(MENTION_TRAILING)
            user = mentionable.get(stripped.lower()) if stripped else None
            end = match.start(1) + len(stripped)
        if user is None:
            continue
        if match.start() > at:
            pieces.append(_text_token(text[at : match.start()]))
        mention = Token("mention", "", 0)
        mention.meta = {"user_id": user.user_id, "username": user.username}
        pieces.append(mention)
        at = end
    if not pieces:
        return None
    if at < len(text):
        pieces.append(_text_token(text[at:]))
    return pieces


def _text_token(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _mentions_rule(state: StateCore) -> None:
    mentionable: Mentionable = state.env.get("mentionable") or {}
    if not mentionable:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
            elif token.type == "link_close":
                in_link -= 1
            split = (
                _mention_tokens(token.content, mentionable)
                if token.type == "text" and not in_link
                else None
            )
            children.extend(split if split is not None else [token])
        block.children = children


def _render_mention(self, tokens: list[Token], idx: int, options, env) -> str:
    meta = tokens[idx].meta
    return (
        f'<span class="mention" data-user-id="{int(meta["user_id"])}">'
        f"@{escape(meta['username'])}</span>"
    )


# A mention as _render_mention writes it. Nothing else in the HTML can look like
# one: the body's own HTML is never passed through (the parser's "html": False).
_MENTION_SPAN = re.compile(r'<span class="mention" data-user-id="(\d+)">')


def mentioned_user_ids(html: str) -> list[int]:
    """The ids of the users rendered HTML shows as mentioned, each once, in the
    order they first appear: what a reader sees as a mention (not an @name in
    code or in a link, nor one of nobody)."""
    return list(dict.fromkeys(int(user_id) for user_id in _MENTION_SPAN.findall(html)))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    md.enable(["strikethrough", "linkify"])
    md.disable(["image", "heading", "lheading", "hr"])
    # Only URLs with a scheme: "settings.py" in a sentence stays text.
    if md.linkify is None:
        raise ImportError("linkify-it-py is required (requirements.txt)")
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})
    md.core.ruler.push("mentions", _mentions_rule)
    md.add_render_rule("mention", _render_mention)
    return md


_markdown = _parser()

# What can start markup, an entity, an escape, a mention or a link anywhere in
# a line, or that either step rewrites: control characters and line breaks
# (markdown-it normalises them; a break is `<br>`), `&`, `<`, `>`, a
# no-break space (escaped), lone surrogates, "@" (a mention), ":" and "//"
# (links), "[" and "]", "`", "*", a backslash, two "~" (strikethrough, a fence).
_MARKUP = re.compile(r"[\x00-\x1f\x7f-\xa0\u2028\u2029\ud800-\udfff&<>@:\[\]`*\\]|//|~~")
# What can open a block at the start of a line: a list item ("-", "+", "1."),
# a quote, a heading or rule, a setext underline.
_BLOCK_START = frozenset("-+#>=0123456789")


def is_plain(body: str) -> bool:
    """Whether `body` renders to itself in one paragraph: one line without
    surrounding space, nothing above and at most one "_" (emphasis needs two)."""
    return (
        body != ""
        and body[0] not in _BLOCK_START
        and body == body.strip()
        and body.count("_") <= 1
        and _MARKUP.search(body) is None
    )


def sanitize(html: str) -> str:
    """Return `html` with everything outside the allow-list removed."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
    )


def render(body: str, mentionable: Mentionable | None = None) -> str:
    """Return the body as sanitised HTML; `mentionable` names the users its
    `@names` may mention (see `mention_names`)."""
    if not body:
        return ""
    if is_plain(body):
        return f"<p>{body}</p>"
    return render_markdown(body, mentionable)


def render_markdown(body: str, mentionable: Mentionable | None = None) -> str:
    """Return the body as sanitised HTML through both steps, whatever it holds."""
    return sanitize(_markdown.render(body, {"mentionable": mentionable or {}})).strip()


def render_with_lookup(
    body: str, find_users: Callable[[set[str]], Iterable[tuple[int, str]]]
) -> str:
    """Render `body`, asking `find_users` for the (id, username) of the names it mentions."""
    names = mention_names(body)
    found = find_users(names) if names else ()
    return render(body, {name.lower(): Mentioned(pk, name) for pk, name in found})
