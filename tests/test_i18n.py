"""English and Russian: every page, the language switcher and where the choice is
kept, sockets' error frames, each notification kind rendered for its recipient,
grouped titles with Russian plurals, an email, a push payload, the browser
client's strings, Cyrillic room addresses and the catalog check."""

import gettext
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import translation

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from chat import services as chat_services
from config.client_strings import STRINGS, client_strings
from harness.sockets import open_room, receive
from notifications import emails, services, titles, webpush
from notifications.models import Kind, Notification

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "locale" / "ru" / "LC_MESSAGES" / "django.mo"


@pytest.fixture(scope="module")
def russian() -> dict[str, str]:
    """The compiled Russian catalog (scripts/bootstrap compiles it): msgid -> text."""
    assert CATALOG.exists(), "locale/ru is not compiled: run scripts/bootstrap"
    with CATALOG.open("rb") as file:
        catalog = gettext.GNUTranslations(file)._catalog  # type: ignore[attr-defined]
    return {key: text for key, text in catalog.items() if isinstance(key, str) and key}


def set_language(user, language: str) -> None:
    accounts_services.profile_language_set(user=user, language=language)


class _Text(HTMLParser):
    """The text a person reads on a page: text nodes and the attributes read
    aloud or shown (aria-label, title, placeholder), without scripts' data."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "style"}:
            self.skipping += 1
        for name, value in attrs:
            if name in {"aria-label", "title", "placeholder", "alt"} and value:
                self.chunks.append(value.strip())

    def handle_endtag(self, tag):
        if tag in {"script", "style"}:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.chunks.append(" ".join(data.split()))


def shown(html: str) -> set[str]:
    parser = _Text()
    parser.feed(html)
    return set(parser.chunks)


def english_leftovers(english_html: str, russian_html: str, russian: dict[str, str]) -> set[str]:
    """Catalog strings the English page shows that the Russian page still shows in English."""
    english, in_russian = shown(english_html), shown(russian_html)
    return {
        msgid
        for msgid, text in russian.items()
        if msgid != text and len(msgid) > 3 and msgid in english and msgid in in_russian
    }


def get(client: Client, url: str, language: str, status: int = 200):
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


@pytest.fixture
def staff(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def busy_room(public_room, alice, bob):
    chat_services.room_join(room=public_room, user=bob)
    chat_services.message_create(room=public_room, author=bob, body="hi @alice", client_id="c1")
    return public_room


ANONYMOUS_PAGES = [
    ("/accounts/login/", "Вход в Relay"),
    ("/accounts/signup/", "Создайте учётную запись"),
    ("/accounts/password-reset/", "Сброс пароля"),
    ("/accounts/password-reset/sent/", "Проверьте почту"),
    ("/accounts/reset/done/", "Пароль изменён"),
]
LOGGED_IN_PAGES = [
    ("/chat/", "Ваши комнаты"),
    ("/chat/general/", "Загрузить более ранние сообщения"),
    ("/notifications/", "Уведомления"),
    ("/settings/notifications/", "Настройки уведомлений"),
    ("/accounts/settings/", "Конфиденциальность"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "phrase"), ANONYMOUS_PAGES)
def test_pages_for_visitors_in_both_languages(client, russian, url, phrase):
    english_html = get(client, url, "en")
    russian_html = get(client, url, "ru")
    assert '<html lang="en">' in english_html
    assert '<html lang="ru">' in russian_html
    assert phrase in russian_html and phrase not in english_html
    # The switcher offers the other language, on every page, login included.
    assert 'value="ru"' in english_html and "Русский" in english_html
    assert 'value="en"' in russian_html and "English" in russian_html
    assert not english_leftovers(english_html, russian_html, russian)


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "phrase"), LOGGED_IN_PAGES)
def test_pages_for_members_in_both_languages(client, russian, busy_room, bob, alice, url, phrase):
    services.notify(alice, title="Announcement", body="kept as written")
    client.force_login(alice)
    set_language(alice, "en")
    english_html = get(client, url, "ru")  # the stored language wins over the browser's
    set_language(alice, "ru")
    russian_html = get(client, url, "en")
    assert '<html lang="ru">' in russian_html
    assert phrase in russian_html and phrase not in english_html
    assert not english_leftovers(english_html, russian_html, russian)
    # The client's own strings come in the page's language too.
    strings = json.loads(
        re.search(r'id="client-strings"[^>]*>(.*?)</script>', russian_html).group(1)
    )
    assert strings["Reconnecting…"] == "Переподключение…"


@pytest.mark.django_db
def test_error_pages_and_the_admin_in_both_languages(client, russian, staff):
    english_html = get(client, "/chat/no-such-room/", "en", status=302)  # login first
    client.force_login(staff)
    english_html = get(client, "/chat/no-such-room/", "en", status=404)
    russian_html = get(client, "/chat/no-such-room/", "ru", status=404)
    assert "Такой страницы здесь нет" in russian_html
    assert not english_leftovers(english_html, russian_html, russian)
    admin_en = get(client, "/admin/", "en")
    admin_ru = get(client, "/admin/", "ru")
    assert "Relay administration" in admin_en
    assert "Администрирование Relay" in admin_ru
    # Django's own admin strings, from Django's Russian catalog.
    assert "Site administration" in admin_en and "Администрирование сайта" in admin_ru


def labels(html: str) -> set[str]:
    """What the admin names on a page: text and read-aloud attributes, without
    a label's colon."""
    return {chunk.rstrip(":").strip() for chunk in shown(html)}


@pytest.fixture
def reported(busy_room, alice, bob):
    from chat.models import Message, Report

    message = Message.objects.get(room=busy_room, author=bob)
    return Report.objects.create(message=message, reporter=alice, reason="spam")


# (url, English names, their Russian) of our models' admin pages; {room},
# {report} and {broadcast} are the primary keys.
ADMIN_PAGES = [
    (
        "/admin/",
        {"Chat", "Rooms", "Reports", "Room bans", "Notifications", "Broadcasts"},
        {"Чат", "Комнаты", "Жалобы", "Баны в комнатах", "Уведомления", "Объявления"},
    ),
    (
        "/admin/chat/room/",
        {"Name", "Slug", "Kind", "Created by", "Created at"},
        {"Название", "Адрес", "Тип", "Кто создал", "Время создания"},
    ),
    (
        "/admin/chat/room/{room}/change/",
        {"Name", "Slug", "Kind", "Slow mode seconds", "Memberships", "Role", "bob in General"},
        {
            "Название",
            "Адрес",
            "Тип",
            "Медленный режим, секунд",
            "Участники комнат",
            "Роль",
            "bob в комнате General",
        },
    ),
    (
        "/admin/chat/report/",
        {"Status", "Room", "Author", "Reporter", "Reason", "Ban the author from the room"},
        {"Статус", "Комната", "Автор", "Кто пожаловался", "Причина", "Забанить автора в комнате"},
    ),
    (
        "/admin/chat/report/{report}/change/",
        {"Message", "Reporter", "Reason", "Status", "Resolved at", "Resolved by", "Open"},
        {"Сообщение", "Кто пожаловался", "Причина", "Статус", "Время разбора", "Открыта"},
    ),
    (
        "/admin/notifications/broadcast/",
        {"Title", "Level", "Audience", "Critical", "Sent at", "Recipient count", "Read by"},
        {"Заголовок", "Уровень", "Аудитория", "Важное", "Время отправки", "Число получателей"},
    ),
    (
        "/admin/notifications/broadcast/add/",
        {"Title", "Body", "Level", "Url", "Audience", "Groups", "Users", "Add broadcast"},
        {"Заголовок", "Текст", "Уровень", "Ссылка", "Аудитория", "Группы", "Пользователи"},
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "english", "russian_names"), ADMIN_PAGES)
def test_the_admin_names_our_models_and_fields_in_russian(
    client, staff, busy_room, reported, url, english, russian_names
):
    from notifications.models import Broadcast

    broadcast = Broadcast.objects.create(title="Maintenance tonight", created_by=staff)
    url = url.format(room=busy_room.pk, report=reported.pk, broadcast=broadcast.pk)
    client.force_login(staff)
    set_language(staff, "en")
    english_page = labels(get(client, url, "ru"))
    assert english <= english_page, sorted(english - english_page)
    set_language(staff, "ru")
    russian_page = labels(get(client, url, "en"))
    assert russian_names <= russian_page, sorted(russian_names - russian_page)
    assert not english & russian_page, sorted(english & russian_page)


@pytest.mark.django_db
def test_the_models_verbose_names_need_no_migration():
    """The verbose names are in the migrations' state: makemigrations finds nothing to do."""
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_the_uploads_and_moderation_texts_of_a_russian_room_page(client, busy_room, alice):
    """The strings uploads.js and moderation.js read from the page are Russian."""
    client.force_login(alice)  # the room's owner: the moderation texts are there
    set_language(alice, "ru")
    html = get(client, f"/chat/{busy_room.slug}/", "en")
    uploads = re.search(r'<div id="upload-texts" hidden(.*?)></div>', html, re.S).group(1)
    texts = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', uploads))
    assert set(texts) == {
        "uploading",
        "ready",
        "failed",
        "too-large",
        "too-many",
        "wait",
        "offline",
    }
    moderation = json.loads(
        re.search(r'id="moderation-text"[^>]*>(.*?)</script>', html, re.S).group(1)
    )
    assert moderation["pin"] == "Закрепить"
    for text in [*texts.values(), *moderation.values()]:
        assert re.search(r"[А-Яа-яЁё]", text), text
    # The placeholders the scripts fill in are kept.
    assert "{name}" in texts["too-large"] and "{size}" in texts["too-large"]
    assert "{count}" in texts["too-many"]
    assert "%(seconds)s" in moderation["slowMode"] and "%(seconds)s" in moderation["slowModeOn"]


@pytest.mark.django_db
def test_the_switcher_sets_the_cookie_and_stores_the_choice_of_a_logged_in_user(client, alice):
    response = client.post("/language/", {"language": "ru", "next": "/accounts/login/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert "Вход в Relay" in client.get("/accounts/login/").content.decode()
    # Logging in keeps the language the visitor chose, on the profile.
    client.force_login(alice)
    assert accounts_selectors.language(user=alice) == ""
    client.post("/language/", {"language": "en", "next": "/chat/"})
    assert accounts_selectors.language(user=alice) == "en"
    client.post("/language/", {"language": "ru", "next": "/chat/"})
    assert accounts_selectors.language(user=alice) == "ru"
    # Another browser (no cookie, an English Accept-Language) gets the stored one,
    # and its cookie is set so its sockets agree.
    other = Client()
    other.force_login(alice)
    response = other.get("/chat/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="ru">' in response.content.decode()
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"


@pytest.mark.django_db
def test_the_switcher_refuses_an_unknown_language_and_changes_nothing(client, alice):
    client.force_login(alice)
    set_language(alice, "ru")
    response = client.post("/language/", {"language": "xx", "next": "/chat/"})
    assert response.status_code == 302
    assert accounts_selectors.language(user=alice) == "ru"
    assert client.get("/language/").status_code == 405


@pytest.mark.django_db
def test_login_stores_the_language_the_user_logged_in_with(client, make_user):
    user = make_user("dasha")
    user.set_password("a long password 1")
    user.save()
    response = client.post(
        "/accounts/login/",
        {"username": "dasha", "password": "a long password 1"},
        HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9,en;q=0.5",
    )
    assert response.status_code == 302
    assert accounts_selectors.language(user=user) == "ru"


@pytest.mark.django_db
def test_a_failed_login_and_a_form_error_come_from_django_in_russian(client):
    html = client.post(
        "/accounts/signup/",
        {"username": "x", "password1": "1", "password2": "2"},
        HTTP_ACCEPT_LANGUAGE="ru",
    ).content.decode()
    assert "Введенные пароли не совпадают" in html or "пароли не совпадают" in html.lower()


@pytest.mark.django_db
def test_a_cyrillic_room_name_gets_a_readable_address(alice):
    room = chat_services.room_create(name="Привет", created_by=alice)
    assert room.slug == "privet"
    assert room.get_absolute_url() == "/chat/privet/"
    again = chat_services.room_create(name="Объявления и Щи", created_by=alice)
    assert again.slug == "obyavleniya-i-shchi"


@pytest.mark.django_db
def test_a_password_reset_email_goes_in_the_language_it_was_asked_in(
    client, alice, run_tasks, django_capture_on_commit_callbacks
):
    alice.email = "alice@example.com"
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/accounts/password-reset/", {"email": "alice@example.com"}, HTTP_ACCEPT_LANGUAGE="ru"
        )
    assert run_tasks() == 1
    [email] = mail.outbox
    assert email.subject == "Сброс пароля Relay"
    assert "Здравствуйте, alice!" in email.body
    assert '<html lang="ru">' in email.alternatives[0][0]


# ---- Sockets ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("how", "detail"),
    [
        ({"language": "ru"}, "Неизвестный тип кадра."),
        ({"extra_headers": [(b"accept-language", b"ru-RU,ru;q=0.9")]}, "Неизвестный тип кадра."),
        ({"language": "en", "extra_headers": [(b"accept-language", b"ru")]}, "Unknown frame type."),
        ({}, "Unknown frame type."),
    ],
)
async def test_error_frames_speak_the_sockets_language_with_the_same_code(
    connect_ws, alice, public_room, how, detail
):
    communicator, connected, _ = await connect_ws(f"/ws/chat/{public_room.slug}/", alice, **how)
    assert connected
    await receive(communicator, "hello")
    await communicator.send_json_to({"type": "nonsense"})
    error = await receive(communicator, "error")
    assert error["code"] == "invalid"
    assert error["detail"] == detail
    # A refusal from deeper down (a service, in a database thread) too.
    await communicator.send_json_to({"type": "send", "body": "", "client_id": "c1"})
    error = await receive(communicator, "error")
    assert error["code"] == "invalid"
    russian = "Сообщение не может быть пустым."
    assert (error["detail"] == russian) == (detail != "Unknown frame type.")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_notification_socket_answers_in_russian(connect_ws, alice):
    communicator, connected, _ = await connect_ws("/ws/notifications/", alice, language="ru")
    assert connected
    await receive(communicator, "hello")
    await communicator.send_json_to({"type": "read", "id": "x"})
    error = await receive(communicator, "error")
    assert error["code"] == "invalid"
    assert error["detail"] == "id должен быть положительным целым числом."


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_rate_limit_details_are_translated(connect_ws, settings, alice, public_room):
    settings.CHAT_SEND_RATE_LIMIT = "1/60"
    communicator, _ = await open_room(connect_ws, public_room, alice)
    await communicator.disconnect()
    communicator, connected, _ = await connect_ws(
        f"/ws/chat/{public_room.slug}/", alice, language="ru"
    )
    assert connected
    await receive(communicator, "hello")
    await communicator.send_json_to({"type": "send", "body": "one", "client_id": "a"})
    await receive(communicator, "message")
    await communicator.send_json_to({"type": "send", "body": "two", "client_id": "b"})
    error = await receive(communicator, "error")
    assert error["code"] == "rate_limited"
    assert error["detail"].startswith("Слишком много сообщений; попробуйте снова через ")


# ---- Notifications, rendered per recipient ------------------------------------------


@pytest.fixture
def readers(make_user, public_room):
    """A Russian and an English reader, members of the room."""
    olga, emma = make_user("olga"), make_user("emma")
    set_language(olga, "ru")
    set_language(emma, "en")
    for user in (olga, emma):
        chat_services.room_join(room=public_room, user=user)
    return olga, emma


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a service sends after commit (chat's signals), as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def titles_of(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("title", flat=True))


def post(committed, room, author, body: str, **extra):
    with committed():
        return chat_services.message_create(
            room=room, author=author, body=body, client_id=f"c{body}", **extra
        ).message


def react(committed, room, user, message, emoji: str = "👍"):
    with committed():
        chat_services.message_react(
            room=room, actor=user, message_id=message.pk, emoji=emoji, on=True
        )


@pytest.mark.django_db
def test_a_mention_is_titled_in_each_recipients_language(committed, public_room, alice, readers):
    olga, emma = readers
    set_language(alice, "ru")  # the sender's language never decides
    post(committed, public_room, alice, "@olga @emma look")
    assert titles_of(olga) == ["alice упоминает вас в General"]
    assert titles_of(emma) == ["alice mentioned you in General"]


@pytest.mark.django_db
def test_a_reply_a_reaction_and_a_direct_message_in_each_language(
    committed, public_room, alice, readers
):
    olga, emma = readers
    for reader in (olga, emma):
        message = post(committed, public_room, reader, f"hi from {reader.username}")
        post(committed, public_room, alice, f"re {reader.username}", reply_to=message.pk)
        react(committed, public_room, alice, message)
    assert set(titles_of(olga)) == {
        "alice отвечает на ваше сообщение",
        "alice реагирует на ваше сообщение",
    }
    assert set(titles_of(emma)) == {
        "alice replied to your message",
        "alice reacted to your message",
    }
    with committed():
        direct = chat_services.direct_room_open(user=alice, username="olga")
    post(committed, direct, alice, "psst")
    assert Notification.objects.get(recipient=olga, kind=Kind.DIRECT).title == "alice пишет вам"


@pytest.mark.parametrize(
    ("others", "title"),
    [
        (1, "alice и ещё 1 человек реагируют на ваше сообщение"),
        (2, "alice и ещё 2 человека реагируют на ваше сообщение"),
        (5, "alice и ещё 5 человек реагируют на ваше сообщение"),
        (21, "alice и ещё 21 человек реагируют на ваше сообщение"),
    ],
)
def test_grouped_titles_use_russian_plurals(others, title):
    with translation.override("ru"):
        assert titles.ReactionTitle()(["alice"], others) == title
        mention = titles.MentionTitle(room="общая")(["alice"], others)
        assert mention == title.replace("реагируют на ваше сообщение", "упоминают вас в общая")
    with translation.override("en"):
        english = titles.ReactionTitle()(["alice"], others)
        plural = "s" if others != 1 else ""
        assert english == f"alice and {others} other{plural} reacted to your message"
    with translation.override("ru"):
        assert (
            titles.ReactionTitle()(["alice", "bob"], 1) == "alice и bob реагируют на ваше сообщение"
        )


@pytest.mark.django_db
def test_a_grouped_notification_grows_in_its_recipients_language(
    committed, public_room, make_user, readers
):
    olga, emma = readers
    messages = {
        reader: post(committed, public_room, reader, f"vote {reader}") for reader in readers
    }
    fans = [make_user(f"fan{n}") for n in range(4)]
    for fan in fans:
        chat_services.room_join(room=public_room, user=fan)
        for message in messages.values():
            react(committed, public_room, fan, message, "🎉")
    [russian] = Notification.objects.filter(recipient=olga, kind=Kind.REACTION)
    [english] = Notification.objects.filter(recipient=emma, kind=Kind.REACTION)
    assert russian.count == english.count == 4
    assert russian.title == "fan3 и ещё 3 человека реагируют на ваше сообщение"
    assert english.title == "fan3 and 3 others reacted to your message"


@pytest.mark.django_db
def test_a_staff_broadcast_is_sent_as_written(alice, readers):
    olga, emma = readers
    with translation.override("ru"):
        services.broadcast(title="Maintenance at 22:00", body="Back soon.")
    assert titles_of(olga) == titles_of(emma) == ["Maintenance at 22:00"]


@pytest.mark.django_db
def test_an_email_goes_in_the_recipients_language_and_time_zone(
    committed, public_room, alice, readers
):
    from zoneinfo import ZoneInfo

    from notifications.models import NotificationSettings

    olga, _ = readers
    olga.email = "olga@example.com"
    olga.save()
    NotificationSettings.objects.update_or_create(user=olga, defaults={"time_zone": "Asia/Tokyo"})
    post(committed, public_room, alice, "@olga hi")
    with committed():
        direct = chat_services.direct_room_open(user=alice, username="olga")
    post(committed, direct, alice, "psst")
    wanted = list(Notification.objects.filter(recipient=olga).order_by("-id"))
    assert len(wanted) == 2
    emails.message_for(olga, wanted, digest=False).send()
    [sent] = mail.outbox
    assert sent.subject == "2 непрочитанных уведомления"
    assert sent.extra_headers["Content-Language"] == "ru"
    assert "У вас 2 непрочитанных уведомления в Relay:" in sent.body
    assert "alice упоминает вас в General" in sent.body and "alice пишет вам" in sent.body
    assert "Здравствуйте, olga!" in sent.body
    local = wanted[0].created_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%-H:%M")
    assert local in sent.body
    html = sent.alternatives[0][0]
    assert '<html lang="ru">' in html and "Изменить настройки уведомлений" in html
    # The unsubscribe page, opened from the email without logging in, is Russian too.
    link = re.search(r"https://[^/]+(/notifications/unsubscribe/[^\s\"]+)", sent.body).group(1)
    page = Client().get(link, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Больше не присылать эти письма?" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("count", "subject"),
    [
        (1, "Ежедневная сводка: 1 непрочитанное уведомление"),
        (2, "Ежедневная сводка: 2 непрочитанных уведомления"),
        (5, "Ежедневная сводка: 5 непрочитанных уведомлений"),
        (21, "Ежедневная сводка: 21 непрочитанное уведомление"),
    ],
)
def test_a_digest_subject_counts_in_russian(readers, count, subject):
    olga, _ = readers
    for n in range(count):
        services.notify(olga, title=f"note {n}", kind=Kind.MENTION, collapse_key="")
    wanted = list(Notification.objects.filter(recipient=olga).order_by("-id"))
    assert emails.message_for(olga, wanted, digest=True).subject == subject


@pytest.mark.django_db
def test_a_push_payload_carries_the_recipients_language(committed, public_room, alice, readers):
    olga, emma = readers
    post(committed, public_room, alice, "@olga @emma")
    payloads = {
        row.recipient_id: json.loads(webpush.payload_for(row))
        for row in Notification.objects.filter(kind=Kind.MENTION)
    }
    assert payloads[olga.pk]["title"] == "alice упоминает вас в General"
    assert payloads[emma.pk]["title"] == "alice mentioned you in General"


# ---- The browser client's strings and the catalogs -----------------------------------


def test_every_string_the_client_uses_is_served_translated():
    used: set[str] = set()
    for script in (ROOT / "static" / "js").glob("*.js"):
        text = script.read_text()
        used |= set(re.findall(r'(?<![\w.])gettext\(\s*"((?:[^"\\]|\\.)*)"', text))
        used |= set(re.findall(r'(?<![\w.])ngettext\(\s*"((?:[^"\\]|\\.)*)"', text))
    with translation.override("ru"):
        served = client_strings()
    missing = used - set(served)
    assert not missing, f"add these to config/client_strings.py: {sorted(missing)}"
    assert set(STRINGS) <= set(served)
    assert served["%(count)s new notification"] == {
        "one": "%(count)s новое уведомление",
        "few": "%(count)s новых уведомления",
        "many": "%(count)s новых уведомлений",
        "other": "%(count)s новых уведомлений",
    }
    untranslated = [
        msgid for msgid, text in served.items() if text == msgid and msgid[:1].isalpha()
    ]
    assert untranslated == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs gettext's tools")
def test_the_catalog_check_names_a_new_untranslated_string(tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "staticfiles", "__pycache__", "*.mo", "db.sqlite3*"
        ),
    )
    check = [sys.executable, str(copy / "scripts" / "check_translations")]
    assert subprocess.run(check, capture_output=True, text=True).returncode == 0
    page = copy / "templates" / "404.html"
    page.write_text(
        page.read_text().replace(
            "</section>", '<p>{% translate "A brand new sentence" %}</p></section>'
        )
    )
    result = subprocess.run(check, capture_output=True, text=True)
    assert result.returncode == 1
    assert "new, not in the catalog yet: 'A brand new sentence'" in result.stderr


@pytest.mark.django_db
def test_russian_pages_show_no_english_but_names_and_what_people_wrote(client, busy_room, alice):
    """Everything a Russian reader sees in Latin letters is a name (the product's,
    a person's, a room's, a time zone's), the other language's own name in the
    switcher, or what someone wrote."""
    from zoneinfo import available_timezones

    services.notify(alice, title="Announcement", body="kept as written")
    allowed = {"Relay", "English", "(Escape)", "Push", "General", "General · Relay"}
    allowed |= {"alice", "bob", "@alice", "@bob", "bob:", "/general", "hi @alice"}
    allowed |= {"Announcement", "kept as written"}
    allowed |= {zone.replace("_", " ") for zone in available_timezones()}
    pages = {url: get(client, url, "ru") for url, _ in ANONYMOUS_PAGES}
    client.force_login(alice)
    set_language(alice, "ru")
    pages |= {url: get(client, url, "en") for url, _ in LOGGED_IN_PAGES}
    pages["/chat/nope/"] = get(client, "/chat/nope/", "en", status=404)
    for url, html in pages.items():
        latin = {
            chunk
            for chunk in shown(html)
            if re.search(r"[A-Za-z]{3,}", chunk) and not re.search(r"[А-Яа-яЁё]", chunk)
        }
        assert latin <= allowed, (url, sorted(latin - allowed))
