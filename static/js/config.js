// The limits the server defines once in its settings, handed to every page as
// #client-config (config/context_processors.py): scripts read them here instead
// of repeating numbers the server might change.

function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

export const clientConfig = Object.freeze(readJson("client-config") || {});

export { readJson };
