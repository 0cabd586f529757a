// Small DOM helpers. Text goes in as text, never as HTML.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function formatBytes(count) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

// A poll that runs every `seconds` until `stop` is called, never two at once.
export function every(seconds, work) {
  let timer = null;
  let stopped = false;
  async function run() {
    const status = document.getElementById("status");
    try {
      await work();
      status.textContent = "";
    } catch (error) {
      status.textContent = `Update failed: ${error.message}`;
    } finally {
      if (!stopped) timer = setTimeout(run, seconds * 1000);
    }
  }
  run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
