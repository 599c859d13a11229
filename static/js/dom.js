// Markup lives in the server's <template> elements; scripts clone it and fill
// in user text with textContent only, so no user string is ever parsed as HTML.

export function cloneTemplate(id) {
  const template = document.getElementById(id);
  return template.content.firstElementChild.cloneNode(true);
}

export function setText(root, selector, text) {
  const element = root.querySelector(selector);
  element.textContent = text;
  return element;
}
