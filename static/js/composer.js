// The message box: Enter sends, Shift+Enter breaks the line, and the error line
// under it says why something was not sent.

const ERROR_SHOWN_MS = 8000;

// Why `body` can't be sent as it is, or "" when it can. The frame limit matters
// only if the body limit is set high: the server closes a socket over it.
export function bodyProblem(body, { maxChars, maxFrameBytes }) {
  if (body.length > maxChars) {
    return `A message is at most ${maxChars} characters (this one has ${body.length}).`;
  }
  const frameBytes = new TextEncoder().encode(JSON.stringify({ type: "send", body, client_id: "" })).length;
  if (frameBytes > maxFrameBytes) return "This message is too large to send.";
  return "";
}

// The counter shows from this share of the limit on.
const COUNTER_FROM = 0.9;

// The counter near the limit: {text, over}, or null while far from it.
export function counterState(length, maxChars) {
  if (length < maxChars * COUNTER_FROM) return null;
  if (length > maxChars) {
    return { text: `${length - maxChars} over the limit of ${maxChars}`, over: true };
  }
  return { text: `${maxChars - length} left`, over: false };
}

export class Composer {
  constructor({ form, body, error, limits, onMessage, onTyping }) {
    Object.assign(this, { form, body, error, limits, onMessage, onTyping });
    this.errorTimer = null;
    this.closed = false;
    form.addEventListener("submit", (event) => this.submit(event));
    body.addEventListener("keydown", (event) => this.keydown(event));
    body.addEventListener("input", () => {
      if (this.body.value.trim()) this.onTyping();
    });
  }

  submit(event) {
    event.preventDefault();
    const text = this.body.value.trim();
    if (!text) return;
    const problem = bodyProblem(text, this.limits);
    if (problem) {
      this.showError(problem);
      return;
    }
    this.body.value = "";
    this.hideError();
    this.onMessage(text);
  }

  keydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.form.requestSubmit();
    }
  }

  // Give back the text of a message the server refused for good.
  restore(text) {
    if (!this.body.value) this.body.value = text;
  }

  showError(text, sticky = false) {
    clearTimeout(this.errorTimer);
    this.error.textContent = text;
    this.error.hidden = false;
    if (!sticky) this.errorTimer = setTimeout(() => this.hideError(), ERROR_SHOWN_MS);
  }

  hideError() {
    if (this.closed) return;
    this.error.hidden = true;
    this.error.textContent = "";
  }

  // No access any more: nothing can be sent, and the reason stays.
  close(reason) {
    this.body.disabled = true;
    this.form.querySelector("button[type=submit]").disabled = true;
    this.showError(reason, true);
    this.closed = true;
  }
}
