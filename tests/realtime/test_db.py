"""realtime.db.Rows: model instances read by plain SQL are the ORM's own."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.utils import timezone

from realtime.db import Rows

pytestmark = pytest.mark.django_db


def field_values(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def test_a_row_reads_as_the_orms_instance(alice):
    alice.last_login = timezone.now()
    alice.is_staff = True
    alice.save()
    orm = get_user_model().objects.get(pk=alice.pk)

    read = Rows(get_user_model(), ("id", "=")).first(alice.pk)

    assert type(read) is type(orm)
    assert field_values(read) == field_values(orm)
    # Booleans and aware datetimes, as the ORM converts them (SQLite stores ints and text).
    assert read.is_staff is True and read.is_active is True
    assert read.date_joined.tzinfo is not None and read.last_login == orm.last_login
    assert not read._state.adding and read._state.db == orm._state.db


def test_no_row_is_none(alice):
    assert Rows(get_user_model(), ("id", "=")).first(alice.pk + 1000) is None


def test_conditions_compare_converted_values():
    now = timezone.now()
    Session.objects.create(session_key="k" * 32, session_data="x", expire_date=now)
    sessions = Rows(Session, ("session_key", "="), ("expire_date", ">"))

    assert sessions.first("k" * 32, now - datetime.timedelta(seconds=1)).session_data == "x"
    assert sessions.first("k" * 32, now) is None  # not after its expiry


def test_only_comparisons_are_accepted():
    with pytest.raises(ValueError):
        Rows(Session, ("session_key", "= 1 OR 1 ="))
