"""Attachments in a real browser: a screenshot pasted into the composer is
uploaded, sent and shown as a thumbnail to the other member on another worker;
a file picked with the button arrives as a card with a download link."""

import json

import pytest

from harness.accessibility import axe_violations
from harness.browser import assert_nothing_went_wrong, frames_of_type

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e

# Paint a 300x200 picture on a canvas and paste it into the composer, as the
# browser does with a screenshot from the clipboard.
PASTE_SCREENSHOT = """async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 300;
  canvas.height = 200;
  const context = canvas.getContext("2d");
  context.fillStyle = "#3355ff";
  context.fillRect(0, 0, 300, 200);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], "image.png", { type: "image/png" }));
  const box = document.getElementById("composer-body");
  box.focus();
  const pasted = new ClipboardEvent(
    "paste", { clipboardData: transfer, bubbles: true, cancelable: true });
  return box.dispatchEvent(pasted);
}"""

THUMBNAIL = "#messages li.message:not(.pending) .attachments .attachment-image img"


def test_pasted_screenshot_is_uploaded_sent_and_shown(stack, room, open_room, screenshot):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)

    not_cancelled = alice.page.evaluate(PASTE_SCREENSHOT)
    assert not_cancelled is False  # the page took the paste for the upload
    ready = alice.page.locator('#uploads li.upload[data-state="ready"]')
    expect(ready).to_have_count(1)
    expect(ready.locator(".upload-name")).to_have_text("image.png")

    alice.page.locator("#composer-body").press("Enter")
    expect(alice.page.locator("#uploads")).to_be_hidden()

    for user in (alice, bob):
        image = user.page.locator(THUMBNAIL)
        expect(image).to_have_count(1)
        # The thumbnail came through the download view, decoded, at its bounded size.
        user.page.wait_for_function(
            "selector => { const img = document.querySelector(selector);"
            " return img && img.complete && img.naturalWidth === 300; }",
            arg=THUMBNAIL,
        )
    sends = [
        frame
        for path, text in alice.sent
        if (frame := json.loads(text)).get("type") == "send" and path.startswith("/ws/chat/")
    ]
    assert len({frame["client_id"] for frame in sends}) == 1
    assert sends[0]["body"] == "" and len(sends[0]["attachment_ids"]) == 1
    [message] = [f["message"] for f in frames_of_type(bob.received, "message")]
    [attachment] = message["attachments"]
    assert attachment["content_type"] == "image/png" and attachment["name"] == "image.png"
    assert (attachment["width"], attachment["height"]) == (300, 200)

    # The original, as bob's browser downloads it: inline, its sniffed type, no sniffing.
    response = bob.page.request.get(f"{b.url}{attachment['url']}")
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"

    screenshot(bob, "bob")
    assert axe_violations(bob.page) == []
    assert_nothing_went_wrong(alice, bob)


def test_file_picked_with_the_button_arrives_as_a_card(stack, room, open_room, tmp_path):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)
    notes = tmp_path / "notes <b>.html"
    notes.write_text("<script>alert(1)</script>")

    alice.page.locator("#attach-input").set_input_files(str(notes))
    expect(alice.page.locator('#uploads li.upload[data-state="ready"]')).to_have_count(1)
    alice.page.locator("#composer-body").fill("the notes")
    alice.page.locator("#composer-body").press("Enter")

    card = bob.page.locator("#messages li.message:not(.pending) .attachment-file")
    expect(card).to_have_count(1)
    expect(card.locator(".attachment-name")).to_have_text("notes <b>.html")
    href = card.get_attribute("href")
    response = bob.page.request.get(f"{b.url}{href}")
    assert response.status == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert axe_violations(bob.page) == []
    assert_nothing_went_wrong(alice, bob)
