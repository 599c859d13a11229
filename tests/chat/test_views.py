import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chat import services
from chat.models import Membership, Message, Room

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture
def logged_in(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/chat/", "/chat/general/", "/"])
def test_pages_need_login(client, public_room, url):
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/")


@pytest.mark.django_db
def test_room_list_shows_rooms_and_unread_counts(logged_in, public_room, alice, bob):
    services.room_join(room=public_room, user=bob)
    services.message_create(room=public_room, author=alice, body="hello bob", client_id="c1")
    response = logged_in(bob).get("/chat/")
    assert response.status_code == 200
    assert response.context["rooms"][0].unread == 1
    assert "hello bob" in response.content.decode()


@pytest.mark.django_db
def test_room_page_renders_latest_50_messages(logged_in, public_room, alice):
    for n in range(55):
        services.message_create(
            room=public_room, author=alice, body=f"msg-{n}-x", client_id=f"c{n}"
        )
    response = logged_in(alice).get(public_room.get_absolute_url())
    html = response.content.decode()
    assert "msg-54-x" in html and "msg-5-x" in html and "msg-4-x" not in html
    assert response.context["has_more"] is True


@pytest.mark.django_db
def test_private_room_is_404_for_non_members(logged_in, private_room, carol):
    assert logged_in(carol).get(private_room.get_absolute_url()).status_code == 404
    assert logged_in(carol).post(f"/chat/{private_room.slug}/join/").status_code == 404


@pytest.mark.django_db
def test_user_text_is_escaped_in_rendered_pages(logged_in, make_user, alice):
    villain = make_user("villain")
    room = services.room_create(name=HOSTILE[:80], created_by=villain)
    services.message_create(room=room, author=villain, body=HOSTILE, client_id="c1")
    services.room_join(room=room, user=alice)
    client = logged_in(alice)
    for url in ["/chat/", room.get_absolute_url()]:
        html = client.get(url).content.decode()
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)" in html


@pytest.mark.django_db
def test_create_room_and_reject_bad_names(logged_in, alice):
    client = logged_in(alice)
    response = client.post("/chat/new/", {"name": "Book club", "private": "on"})
    room = Room.objects.get(slug="book-club")
    assert response["Location"] == room.get_absolute_url() and room.kind == "private"
    assert Membership.objects.get(room=room, user=alice).role == "owner"
    response = client.post("/chat/new/", {"name": ""}, follow=True)
    assert response.status_code == 200 and Room.objects.count() == 1
    assert client.get("/chat/new/").status_code == 405


@pytest.mark.django_db
@override_settings(CHAT_ROOM_CREATE_RATE_LIMIT="2/600")
def test_room_creation_is_limited_per_user(logged_in, alice, bob, carol):
    client = logged_in(alice)
    assert client.post("/chat/new/", {"name": "One"}).status_code == 302
    assert client.post("/chat/direct/", {"username": "bob"}).status_code == 302
    for refused in (
        client.post("/chat/new/", {"name": "Three"}),
        client.post("/chat/direct/", {"username": "carol"}),
    ):
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 600
        assert "creating rooms too fast" in refused.content.decode()
    assert set(Room.objects.values_list("name", flat=True)) == {"One", "alice & bob"}
    # Only valid forms count: a bad one is told what is wrong, not to wait.
    response = client.post("/chat/new/", {"name": ""}, follow=True)
    assert "A room needs a name." in response.content.decode()
    response = client.post("/chat/new/", {"name": "x" * 81}, follow=True)
    assert "A room name is at most 80 characters." in response.content.decode()
    # Another user has a limit of their own.
    assert logged_in(carol).post("/chat/new/", {"name": "Four"}).status_code == 302


@pytest.mark.django_db
def test_owner_adds_and_removes_members(logged_in, private_room, alice, carol):
    client = logged_in(alice)
    client.post(f"/chat/{private_room.slug}/members/add/", {"username": "carol"})
    assert Membership.objects.filter(room=private_room, user=carol).exists()
    client.post(f"/chat/{private_room.slug}/members/remove/", {"username": "carol"})
    assert not Membership.objects.filter(room=private_room, user=carol).exists()


@pytest.mark.django_db
def test_member_who_is_not_owner_cannot_add_members(logged_in, private_room, bob, carol):
    response = logged_in(bob).post(
        f"/chat/{private_room.slug}/members/add/", {"username": "carol"}, follow=True
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(room=private_room, user=carol).exists()


@pytest.mark.django_db
def test_message_user_opens_one_direct_room(logged_in, alice, bob):
    client = logged_in(alice)
    first = client.post("/chat/direct/", {"username": "@bob"})
    second = client.post("/chat/direct/", {"username": "bob"})
    assert first["Location"] == second["Location"]
    assert Room.objects.filter(kind="direct").count() == 1
    response = client.post("/chat/direct/", {"username": "ghost"}, follow=True)
    assert response.status_code == 200 and Room.objects.filter(kind="direct").count() == 1


@pytest.mark.django_db
def test_join_and_leave_public_room(logged_in, public_room, bob):
    client = logged_in(bob)
    client.post(f"/chat/{public_room.slug}/join/")
    assert Membership.objects.filter(room=public_room, user=bob).exists()
    client.post(f"/chat/{public_room.slug}/leave/")
    assert not Membership.objects.filter(room=public_room, user=bob).exists()


@pytest.mark.django_db
def test_admin_shows_messages_and_refuses_to_add_them(client, public_room, make_user, alice):
    staff = make_user("root", is_staff=True, is_superuser=True)
    services.message_create(room=public_room, author=alice, body="hi admin", client_id="c1")
    client.force_login(staff)
    assert client.get(reverse("admin:chat_message_changelist") + "?q=admin").status_code == 200
    assert client.get(reverse("admin:chat_message_add")).status_code == 403
    message = Message.objects.get()
    assert client.get(reverse("admin:chat_message_change", args=[message.pk])).status_code == 200
    assert client.get(reverse("admin:chat_room_change", args=[public_room.pk])).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "direct", "ban", "owner"),
    [
        ("en", "Message bob", "Ban bob from this room", "owner"),
        ("ru", "Написать bob", "Забанить bob в этой комнате", "владелец"),
    ],
)
def test_the_members_panel_names_each_member_in_the_pages_language(
    settings, public_room, alice, bob, language, direct, ban, owner
):
    services.room_join(room=public_room, user=bob)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)  # the room's owner, who may ban
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(f"/chat/{public_room.slug}/").content.decode()

    bobs = html.split(f'<li data-user-id="{bob.pk}">', 1)[1].split("</li>", 1)[0]
    assert f'aria-label="{direct}"' in bobs
    assert f'aria-label="{ban}"' in bobs
    assert f'action="{reverse("chat:member_ban", args=[public_room.slug])}"' in bobs
    alices = html.split(f'<li data-user-id="{alice.pk}">', 1)[1].split("</li>", 1)[0]
    assert f'<span class="role muted">{owner}</span>' in alices
    assert "<form" not in alices  # no button to message or ban yourself
    # The row's form posts as it reads: its CSRF field passes the check.
    token = bobs.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        reverse("chat:direct_open"), {"csrfmiddlewaretoken": token, "username": "bob"}
    )
    assert response.status_code == 302
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 1


@pytest.mark.django_db
def test_a_rooms_page_translates_and_links_once_however_many_its_members_and_messages(
    logged_in, monkeypatch, public_room, alice, make_user
):
    from django.template.defaulttags import CsrfTokenNode, URLNode
    from django.templatetags.i18n import BlockTranslateNode, TranslateNode

    rendered: list[str] = []
    for node in (TranslateNode, BlockTranslateNode, URLNode, CsrfTokenNode):
        original = node.render

        def counted(self, context, original=original, name=node.__name__):
            rendered.append(name)
            return original(self, context)

        monkeypatch.setattr(node, "render", counted)
    client = logged_in(alice)

    def tags_rendered() -> list[str]:
        rendered.clear()
        assert client.get(f"/chat/{public_room.slug}/").status_code == 200
        return sorted(rendered)

    with_one_member = tags_rendered()
    for number in range(20):
        services.room_join(room=public_room, user=make_user(f"member{number}"))
    assert tags_rendered() == with_one_member

    # A message's actions and its "(edited)" mark are translated once for the page.
    def post(number: int) -> None:
        services.message_create(
            room=public_room, author=alice, body=f"message {number}", client_id=f"c{number}"
        )

    post(0)
    with_one_message = tags_rendered()
    for number in range(1, 11):
        post(number)
    assert tags_rendered() == with_one_message


@pytest.mark.django_db
def test_a_rooms_page_reads_its_viewers_membership_once_and_no_owners_permissions(
    logged_in, private_room, alice, bob
):
    def page_queries(user) -> tuple[str, list[str]]:
        client = logged_in(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/chat/{private_room.slug}/")
        assert response.status_code == 200
        return response.content.decode(), [query["sql"] for query in queries.captured_queries]

    owners_page, owners_queries = page_queries(alice)
    members_page, members_queries = page_queries(bob)
    for queries in (owners_queries, members_queries):
        # The membership the page reads says who owns the room.
        assert not any('"chat_membership"."role" =' in sql for sql in queries)
    # The owner moderates the room whatever their permissions say.
    assert not any("auth_permission" in sql for sql in owners_queries)
    assert " data-moderator data-can-pin>" in owners_page
    assert "data-moderator" not in members_page and "data-can-pin" not in members_page
