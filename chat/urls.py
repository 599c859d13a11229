from django.urls import path

from . import moderation_views, views

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="room_list"),
    path("new/", views.room_create, name="room_create"),
    path("direct/", views.direct_open, name="direct_open"),
    # "files" is reserved (chat.slugs): no room takes that address.
    path("files/<int:attachment_id>/", views.attachment_download, name="attachment_download"),
    path("files/<int:attachment_id>/thumb/", views.attachment_thumb, name="attachment_thumb"),
    path("search/", views.search, name="search"),
    path("<slug:slug>/", views.room_detail, name="room_detail"),
    path("<slug:slug>/join/", views.room_join, name="room_join"),
    path("<slug:slug>/attachments/", views.attachment_upload, name="attachment_upload"),
    path("<slug:slug>/leave/", views.room_leave, name="room_leave"),
    path("<slug:slug>/members/add/", views.member_add, name="member_add"),
    path("<slug:slug>/members/remove/", views.member_remove, name="member_remove"),
    path("<slug:slug>/members/ban/", moderation_views.member_ban, name="member_ban"),
    path("<slug:slug>/members/unban/", moderation_views.member_unban, name="member_unban"),
    path("<slug:slug>/slow-mode/", moderation_views.slow_mode, name="slow_mode"),
]
