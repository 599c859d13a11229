import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { csrfToken, filesOf, fillIn, formatSize, uploadError, UploadList, uploadProblem } from "../../static/js/uploads.js";

const texts = {
  tooLarge: "{name} is over the limit of {size} per file.",
  tooMany: "A message has at most {count} files.",
  failed: "Could not upload this file.",
};

describe("fillIn", () => {
  it("fills known names and leaves others as they are", () => {
    assert.equal(fillIn("{a} and {b} but {c}", { a: 1, b: "two" }), "1 and two but {c}");
  });

  it("does not read inherited properties", () => {
    assert.equal(fillIn("{constructor}", {}), "{constructor}");
  });
});

describe("formatSize", () => {
  it("says bytes, kB and MB in the given language", () => {
    assert.equal(formatSize(1, "en"), "1 byte");
    assert.equal(formatSize(1023, "en"), "1,023 bytes");
    assert.equal(formatSize(1536, "en"), "1.5 kB");
    assert.equal(formatSize(10 * 1024 * 1024, "en"), "10 MB");
    assert.equal(formatSize(-5, "en"), "0 bytes");
  });
});

describe("uploadProblem", () => {
  const limits = { maxBytes: 1000, maxCount: 2 };

  it("accepts a file within the limits", () => {
    assert.equal(uploadProblem({ name: "a.png", size: 1000 }, 0, limits, texts), "");
  });

  it("names the file and the limit when it is too large", () => {
    assert.equal(
      uploadProblem({ name: "big.mov", size: 1001 }, 0, limits, texts),
      `big.mov is over the limit of ${formatSize(1000)} per file.`,
    );
  });

  it("refuses a file past the count of a message", () => {
    assert.equal(uploadProblem({ name: "c.png", size: 1 }, 2, limits, texts), "A message has at most 2 files.");
  });
});

describe("filesOf", () => {
  it("takes the files of a drop", () => {
    const a = { name: "a" };
    assert.deepEqual(filesOf({ files: [a], items: [] }), [a]);
  });

  it("takes file items of a paste (a screenshot) and skips text", () => {
    const shot = { name: "image.png" };
    const items = [
      { kind: "string", getAsFile: () => null },
      { kind: "file", getAsFile: () => shot },
    ];
    assert.deepEqual(filesOf({ files: [], items }), [shot]);
  });

  it("finds nothing in an empty or missing transfer", () => {
    assert.deepEqual(filesOf(null), []);
    assert.deepEqual(filesOf({ files: [], items: [] }), []);
  });
});

describe("csrfToken", () => {
  it("reads Django's cookie among others", () => {
    assert.equal(csrfToken("sessionid=x; csrftoken=abc%3D; theme=dark"), "abc=");
    assert.equal(csrfToken("sessionid=x"), "");
    assert.equal(csrfToken(""), "");
  });
});

describe("uploadError", () => {
  it("shows the server's reason, else a general one", () => {
    assert.equal(uploadError({ code: "too_large", detail: "A file is at most 10 MB." }, texts), "A file is at most 10 MB.");
    assert.equal(uploadError(null, texts), "Could not upload this file.");
    assert.equal(uploadError({ detail: 42 }, texts), "Could not upload this file.");
  });
});

describe("UploadList", () => {
  it("hands the ready attachments to a message in the order added, then empties", () => {
    const list = new UploadList();
    const first = list.add({ name: "a.png", size: 1 });
    const second = list.add({ name: "b.txt", size: 2 });
    assert.equal(list.busy, true);
    list.done(second, { id: 8 });
    list.done(first, { id: 7 });
    assert.equal(list.busy, false);
    assert.deepEqual(list.take().map((a) => a.id), [7, 8]);
    assert.equal(list.count, 0);
  });

  it("leaves failed uploads out of the message and the count", () => {
    const list = new UploadList();
    const bad = list.add({ name: "x", size: 1 });
    const good = list.add({ name: "y", size: 1 });
    list.failed(bad, "nope");
    list.done(good, { id: 3 });
    assert.equal(list.count, 1);
    assert.deepEqual(list.ready, [{ id: 3 }]);
  });

  it("ignores an upload that finishes after it was removed", () => {
    const list = new UploadList();
    const item = list.add({ name: "x", size: 1 });
    list.remove(item);
    assert.equal(list.done(item, { id: 1 }), false);
    assert.deepEqual(list.ready, []);
  });

  it("takes back the attachments of a refused send", () => {
    const list = new UploadList();
    list.adopt({ id: 5, name: "a.png" });
    assert.deepEqual(list.ready, [{ id: 5, name: "a.png" }]);
    assert.equal(list.busy, false);
  });
});
