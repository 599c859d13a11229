// Files attached to a message: picked with the button, dropped on the room, or
// pasted (a screenshot). Each is uploaded at once (POST /chat/<slug>/attachments/,
// with the page's CSRF token) and becomes a pending attachment of ours on the
// server; the next message sent carries their ids (`attachment_ids`). How a
// message shows its attachments (thumbnail or file card) is here too, cloned
// from the server's <template>s. Texts come from the page (#upload-texts), so
// they can be translated.

import { cloneTemplate, setText } from "./dom.js";

// "{name} is over {size}" with `values` filled in.
export function fillIn(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, key) => (Object.hasOwn(values, key) ? String(values[key]) : whole));
}

// A byte count as people read it, in the browser's language ("2.4 MB"); steps of
// 1024, as the server's pages count (Django's filesizeformat).
export function formatSize(bytes, locale = undefined) {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"];
  let value = Math.max(0, Number(bytes) || 0);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const format = new Intl.NumberFormat(locale, {
    style: "unit",
    unit: units[unit],
    unitDisplay: unit ? "short" : "long",
    maximumFractionDigits: unit ? 1 : 0,
  });
  return format.format(value);
}

// Why `file` can't be added to the `count` files already waiting, or "".
export function uploadProblem(file, count, { maxBytes, maxCount }, texts) {
  if (count >= maxCount) return fillIn(texts.tooMany, { count: maxCount });
  if (file.size > maxBytes) return fillIn(texts.tooLarge, { name: file.name, size: formatSize(maxBytes) });
  return "";
}

// The files of a paste or a drop (a DataTransfer), in order.
export function filesOf(transfer) {
  if (!transfer) return [];
  if (transfer.files && transfer.files.length) return Array.from(transfer.files);
  return Array.from(transfer.items || [])
    .filter((item) => item.kind === "file")
    .map((item) => item.getAsFile())
    .filter(Boolean);
}

// The CSRF token Django set as a cookie (the header it wants on a POST).
export function csrfToken(cookies) {
  for (const part of (cookies || "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(value.join("="));
  }
  return "";
}

// What to say about a refused upload: the server's own reason when it gave one.
export function uploadError(body, texts) {
  return body && typeof body.detail === "string" && body.detail ? body.detail : texts.failed;
}

// The files of the message being written: uploading, ready (with the server's
// attachment), or failed; in the order they were added.
export class UploadList {
  constructor() {
    this.items = [];
    this.nextKey = 1;
  }

  add(file) {
    const item = { key: this.nextKey++, name: file.name, file, state: "uploading", attachment: null, error: "" };
    this.items.push(item);
    return item;
  }

  // An attachment the server holds for us already (given back after a refused send).
  adopt(attachment) {
    const item = { key: this.nextKey++, name: attachment.name, file: null, state: "ready", attachment, error: "" };
    this.items.push(item);
    return item;
  }

  done(item, attachment) {
    if (!this.items.includes(item)) return false; // removed while uploading
    item.state = "ready";
    item.attachment = attachment;
    return true;
  }

  failed(item, error) {
    item.state = "failed";
    item.error = error;
  }

  remove(item) {
    const index = this.items.indexOf(item);
    if (index >= 0) this.items.splice(index, 1);
  }

  get count() {
    return this.items.filter((item) => item.state !== "failed").length;
  }

  get busy() {
    return this.items.some((item) => item.state === "uploading");
  }

  get ready() {
    return this.items.filter((item) => item.state === "ready").map((item) => item.attachment);
  }

  // Hand the ready attachments to a message being sent, and forget them all.
  take() {
    const ready = this.ready;
    this.items = [];
    return ready;
  }
}

// Draw a message's attachments into `box` (its .attachments element).
export function fillAttachments(box, attachments) {
  if (!box) return;
  const list = Array.isArray(attachments) ? attachments : [];
  box.replaceChildren(...list.map(attachmentNode));
  box.hidden = !list.length;
}

function attachmentNode(attachment) {
  if (attachment.thumb_url) {
    const link = cloneTemplate("attachment-image-template");
    link.href = attachment.url;
    const image = link.querySelector("img");
    image.src = attachment.thumb_url;
    image.alt = attachment.name;
    return link;
  }
  const card = cloneTemplate("attachment-file-template");
  card.href = attachment.url;
  setText(card, ".attachment-name", attachment.name);
  setText(card, ".attachment-size", formatSize(attachment.size));
  return card;
}

// The page's side: the button, drop and paste, the list under the composer.
export class Uploader {
  constructor({ url, input, button, list, dropZone, pasteTarget, limits, texts, showError, onChange = () => {}, fetch = globalThis.fetch.bind(globalThis) }) {
    Object.assign(this, { url, input, button, list, dropZone, limits, texts, showError, onChange, fetch });
    this.uploads = new UploadList();
    this.nodes = new Map(); // item key -> <li>
    this.dragDepth = 0;
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      this.addFiles(Array.from(input.files || []));
      input.value = "";
    });
    pasteTarget.addEventListener("paste", (event) => {
      const files = filesOf(event.clipboardData);
      if (!files.length) return;
      event.preventDefault();
      this.addFiles(files);
    });
    dropZone.addEventListener("dragenter", (event) => this.dragEnter(event));
    dropZone.addEventListener("dragover", (event) => {
      if (this.carriesFiles(event)) event.preventDefault();
    });
    dropZone.addEventListener("dragleave", () => this.dragLeave());
    dropZone.addEventListener("drop", (event) => {
      if (!this.carriesFiles(event)) return;
      event.preventDefault();
      this.dragDepth = 1;
      this.dragLeave();
      this.addFiles(filesOf(event.dataTransfer));
    });
  }

  carriesFiles(event) {
    return Boolean(event.dataTransfer) && Array.from(event.dataTransfer.types || []).includes("Files");
  }

  dragEnter(event) {
    if (!this.carriesFiles(event)) return;
    event.preventDefault();
    this.dragDepth += 1;
    this.dropZone.classList.add("dropping");
  }

  dragLeave() {
    this.dragDepth = Math.max(0, this.dragDepth - 1);
    if (!this.dragDepth) this.dropZone.classList.remove("dropping");
  }

  get busy() {
    return this.uploads.busy;
  }

  get hasFiles() {
    return this.uploads.count > 0;
  }

  addFiles(files) {
    for (const file of files) {
      const problem = uploadProblem(file, this.uploads.count, this.limits, this.texts);
      if (problem) {
        this.showError(problem);
        continue;
      }
      this.upload(this.uploads.add(file));
    }
    this.render();
  }

  async upload(item) {
    const form = new FormData();
    form.append("file", item.file, item.file.name || "file");
    let response;
    let body = null;
    try {
      response = await this.fetch(this.url, {
        method: "POST",
        body: form,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(document.cookie) },
      });
      body = await response.json().catch(() => null);
    } catch {
      this.fail(item, this.texts.offline);
      return;
    }
    if (response.status === 201 && body && body.attachment) {
      if (this.uploads.done(item, body.attachment)) this.render();
      return;
    }
    this.fail(item, uploadError(body, this.texts));
  }

  fail(item, error) {
    this.uploads.failed(item, error);
    this.showError(`${item.name}: ${error}`);
    this.render();
  }

  // The ready attachments for the message being sent; the list empties.
  take() {
    const attachments = this.uploads.take();
    this.render();
    return attachments;
  }

  // Attachments of a send the server refused: they wait for the next one.
  restore(attachments) {
    attachments.forEach((attachment) => this.uploads.adopt(attachment));
    this.render();
  }

  render() {
    const keys = new Set(this.uploads.items.map((item) => item.key));
    for (const [key, node] of this.nodes) {
      if (!keys.has(key)) {
        node.remove();
        this.nodes.delete(key);
      }
    }
    for (const item of this.uploads.items) {
      let node = this.nodes.get(item.key);
      if (!node) {
        node = cloneTemplate("upload-template");
        setText(node, ".upload-name", item.name);
        node.querySelector(".upload-remove").addEventListener("click", () => {
          this.uploads.remove(item);
          this.render();
        });
        this.nodes.set(item.key, node);
      }
      this.list.appendChild(node);
      node.dataset.state = item.state;
      const size = item.attachment ? item.attachment.size : item.file ? item.file.size : 0;
      const state = { uploading: this.texts.uploading, ready: `${formatSize(size)} · ${this.texts.ready}`, failed: item.error }[item.state];
      setText(node, ".upload-state", state);
    }
    this.list.hidden = !this.uploads.items.length;
    this.onChange();
  }
}

// The texts of #upload-texts, by their data attribute names.
export function readUploadTexts(element) {
  const data = element ? element.dataset : {};
  return {
    uploading: data.uploading || "",
    ready: data.ready || "",
    failed: data.failed || "",
    tooLarge: data.tooLarge || "",
    tooMany: data.tooMany || "",
    wait: data.wait || "",
    offline: data.offline || "",
  };
}
