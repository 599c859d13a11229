from django.urls import path

from . import views

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="room_list"),
    path("new/", views.room_create, name="room_create"),
    path("direct/", views.direct_open, name="direct_open"),
    path("search/", views.search, name="search"),
    path("<slug:slug>/", views.room_detail, name="room_detail"),
    path("<slug:slug>/join/", views.room_join, name="room_join"),
    path("<slug:slug>/leave/", views.room_leave, name="room_leave"),
    path("<slug:slug>/members/add/", views.member_add, name="member_add"),
    path("<slug:slug>/members/remove/", views.member_remove, name="member_remove"),
]
