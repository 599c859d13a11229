"""chat.rendering: a body becomes sanitised HTML; nothing hostile survives."""

import random
import string
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from chat import services
from chat.rendering import (
    Mentioned,
    is_plain,
    mention_names,
    mentioned_user_ids,
    render,
    render_markdown,
)

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
BOB = {"bob": Mentioned(7, "bob")}

SAFE_TAGS = {"p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li"}
SAFE_TAGS |= {"a", "span"}


class Unsafe(HTMLParser):
    """Collect every tag, attribute or link a browser would act on beyond the allow-list."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.found.append(tag)
        for name, value in attrs:
            if (tag, name) == ("a", "href"):
                if urlsplit(value or "").scheme not in {"http", "https", "mailto"}:
                    self.found.append(f"href={value}")
            elif (tag, name) not in {
                ("a", "rel"),
                ("ol", "start"),
                ("span", "class"),
                ("span", "data-user-id"),
            }:
                self.found.append(f"{tag} {name}")


def unsafe(html: str) -> list[str]:
    parser = Unsafe()
    parser.feed(html)
    parser.close()
    return parser.found


@pytest.mark.parametrize(
    "body",
    [
        HOSTILE,
        "<a href='javascript:alert(1)'>x</a>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](java\nscript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox(1))",
        '<https://x.org/" onmouseover="alert(1)>',
        '[a](http://x "t" onclick="alert(1)")',
        "![x](http://x/a.png)",
        "![x](javascript:alert(1))",
        "**<script>alert(1)</script>**",
        "> <img src=x onerror=alert(1)>",
        "`<script>` and ```\n<script>alert(1)</script>\n```",
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&#60;script&#62;alert(1)&#60;/script&#62;",
        "<svg/onload=alert(1)>",
        "<style>body{}</style><iframe src=//x>",
        "[*[x](javascript:alert(1))*](http://ok)",
        "@bob<script>alert(1)</script>",
        "[@bob](javascript:alert(1))",
    ],
)
def test_hostile_bodies_render_to_nothing_that_runs(body):
    html = render(body, BOB)
    assert unsafe(html) == [], html
    for link in html.split("<a ")[1:]:
        assert link.startswith('href="http') and 'rel="noopener nofollow ugc"' in link


def test_markdown_subset_and_links():
    html = render("**b** _i_ ~~s~~ `c`\n\n> q\n\n- one\n\nhttps://example.com/a?b=1")
    assert "<strong>b</strong>" in html and "<em>i</em>" in html and "<s>s</s>" in html
    assert "<code>c</code>" in html and "<blockquote>" in html and "<li>one</li>" in html
    assert (
        '<a href="https://example.com/a?b=1" rel="noopener nofollow ugc">'
        "https://example.com/a?b=1</a>" in html
    )


def test_no_headings_no_images_no_raw_html():
    html = render("# big\n\n![x](https://x/a.png)\n\n<b>raw</b>")
    assert "<h1" not in html and "# big" in html
    assert "<img" not in html
    assert "&lt;b&gt;raw&lt;/b&gt;" in html


def test_mentions_of_known_users_become_spans():
    html = render("hi @Bob. and @nobody, a@bob `@bob`", BOB)
    assert html.count('<span class="mention" data-user-id="7">@bob</span>') == 1
    assert "@nobody" in html and "a@bob" in html and "<code>@bob</code>" in html


def test_mention_names_are_lowercased_with_and_without_trailing_punctuation():
    assert mention_names("hi @Bob. @carol-, a@dave @@eve") == {"bob.", "bob", "carol-", "carol"}


def test_the_users_shown_as_mentioned_are_read_back_from_the_html():
    mentionable = {"bob": Mentioned(7, "bob"), "carol": Mentioned(9, "carol")}
    html = render("@carol hi @bob, `@bob` [@bob](https://x.example/) @nobody @carol", mentionable)
    assert mentioned_user_ids(html) == [9, 7]  # in order, once each; code and links are not
    forged = render('<span class="mention" data-user-id="1">@admin</span>', mentionable)
    assert mentioned_user_ids(forged) == []


def test_an_author_cannot_forge_a_mention_span():
    html = render('<span class="mention" data-user-id="1">@admin</span>', BOB)
    assert "<span" not in html


@pytest.mark.django_db
def test_html_is_stored_with_the_message_and_on_edit(public_room, alice, bob):
    stored = services.message_create(
        room=public_room, author=alice, body=f"hey @bob {HOSTILE}", client_id="c1"
    )
    message = stored.message
    assert f'data-user-id="{bob.pk}">@bob</span>' in message.html
    assert unsafe(message.html) == [] and "&lt;script&gt;" in message.html
    services.message_edit(room=public_room, actor=alice, message_id=message.pk, body="**now**")
    message.refresh_from_db()
    assert message.html == "<p><strong>now</strong></p>"


# Words, and every character that means something to Markdown, HTML, the
# linkifier or the sanitiser, with spaces, breaks and a few Unicode oddities.
PLAIN_CORPUS_CHARACTERS = (
    string.ascii_letters * 3
    + string.digits
    + " " * 12
    + string.punctuation
    + "\t\n\r\x00\x0b\x0c\x85\xa0\u2028\u2029\u200b\u3000\ufeff\ufffd\ufffe\ufdd0\ud800"
    + "éüßØ日本語😀👍🏽"
)
REAL_PLAIN_BODIES = [
    "ok",
    "see you at 5pm?",
    "I'll be there in ~10 min",
    'she said "no" (twice)',
    "snake_case is fine",
    "a/b testing, 50% off; $3 + tax = cheap!",
    "Привет, как дела?",
    "日本語のメッセージ 😀",
    "~B17.42_1764670000000~",
]


# Sentences: words with markup-like pieces between and inside them.
PLAIN_CORPUS_PIECES = [
    *("hi", "ok", "word", "x", "5pm", "it's", "日本", "😀", "a_b", "snake_case_name"),
    *(" ", " ", " ", "_", "~", "*", "-", "+", "1.", "2)", "#", ">", "=", "!", "?", "'", '"'),
    *("(", ")", "/", "//", ":", "&", "@", "[", "]", "`", "\\", "\n", "  ", "~~", "__"),
]


def _plain_corpus() -> list[str]:
    rng = random.Random(15)
    bodies = list(REAL_PLAIN_BODIES)
    for _ in range(20_000):
        bodies.append(
            "".join(rng.choice(PLAIN_CORPUS_CHARACTERS) for _ in range(rng.randint(1, 30)))
        )
        bodies.append("".join(rng.choice(PLAIN_CORPUS_PIECES) for _ in range(rng.randint(1, 12))))
    return bodies


def test_a_plain_body_skips_markdown_with_the_same_html():
    corpus = _plain_corpus()
    plain = [body for body in corpus if is_plain(body)]
    assert all(is_plain(body) for body in REAL_PLAIN_BODIES)
    # Enough of the corpus takes the short way for the comparison to mean something.
    assert len(plain) > 3_000
    different = [body for body in plain if render(body) != render_markdown(body)]
    assert different == []


@pytest.mark.parametrize(
    "body",
    [
        "_a_",
        "a_b_ c_",
        "1. one",
        "- item",
        "> quote",
        "# title",
        "~~gone~~",
        "**b**",
        "`c`",
        "see https://example.com",
        "//example.com",
        "hi @bob",
        "a &amp; b",
        "a\\*b",
        "two\nlines",
        " padded ",
        "no\xa0break",
    ],
)
def test_a_body_that_may_hold_markup_is_not_plain(body):
    assert not is_plain(body)
    assert render(body, BOB) == render_markdown(body, BOB)
