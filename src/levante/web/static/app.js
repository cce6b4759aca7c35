// What every page shares, bound here rather than in attributes: the pages'
// Content-Security-Policy runs no inline script and no event handler attribute.

// A <select data-autosubmit> sends its form as soon as it changes; the form keeps a button in
// <noscript> for browsers without scripts.
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form?.requestSubmit());
}
