// What every page shares, bound here rather than in attributes: the pages'
// Content-Security-Policy runs no inline script and no event handler attribute.

// A <select data-autosubmit> sends its form as soon as it changes; the form keeps a button in
// <noscript> for browsers without scripts.
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form?.requestSubmit());
}

// A <time datetime data-local> holds an instant the server wrote in UTC: it is rewritten in
// the visitor's own time zone, with the day when it is not today ("at 14:27", "tomorrow at
// 09:05", "on Mon 14 Dec at 14:27"). Elements added later (the chat's allowance after an
// answer) are rewritten as they arrive.
function localTime(element) {
  const at = new Date(element.getAttribute("datetime"));
  if (Number.isNaN(at.getTime())) return;
  const now = new Date();
  const clock = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const days = Math.round((startOfDay(at) - startOfDay(now)) / 86_400_000);
  let text = `at ${clock}`;
  if (days === 1) text = `tomorrow at ${clock}`;
  else if (days !== 0) {
    const day = at.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" });
    text = `on ${day} at ${clock}`;
  }
  element.textContent = text;
  element.title = at.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  element.removeAttribute("data-local");
}

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

function localTimes(root) {
  for (const element of root.querySelectorAll("time[data-local]")) localTime(element);
}

localTimes(document);
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node.nodeType === Node.ELEMENT_NODE) {
        if (node.matches("time[data-local]")) localTime(node);
        else localTimes(node);
      }
    }
  }
}).observe(document.body, { childList: true, subtree: true });
