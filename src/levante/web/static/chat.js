// Levante Chat: send a message, read the streamed answer, stop it, regenerate or edit.
// Every answer's HTML is rendered and sanitised by the server; while it streams, the raw
// text is shown as text (textContent), so nothing a model writes can run here.

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const root = document.querySelector(".chat");
const messages = document.getElementById("messages");
const composer = document.getElementById("composer");
const input = document.getElementById("content");
const modelPicker = document.getElementById("model");
const sendButton = document.getElementById("send");
const stopButton = document.getElementById("stop");
const limit = document.getElementById("limit");
const limitText = document.getElementById("limit-text");
const allowance = document.getElementById("allowance");
let conversation = root.dataset.conversation || null;
let running = null; // the AbortController of the answer streaming now

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function addCopyButtons(scope) {
  for (const pre of scope.querySelectorAll("pre")) {
    if (pre.querySelector(".copy")) continue;
    const button = element("button", "copy link", "Copy");
    button.type = "button";
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(pre.querySelector("code")?.textContent ?? pre.textContent);
      button.textContent = "Copied";
      setTimeout(() => (button.textContent = "Copy"), 1500);
    });
    pre.prepend(button);
  }
}

function userMessage(text, position) {
  const article = element("article", "message user complete");
  article.dataset.position = position;
  const body = element("div", "body");
  body.append(element("p", "plain", text));
  const footer = element("footer");
  const edit = element("button", "link", "Edit");
  edit.type = "button";
  edit.dataset.action = "edit";
  footer.append(edit);
  article.append(body, footer);
  return article;
}

function answerMessage(position) {
  const article = element("article", "message assistant streaming");
  article.dataset.position = position;
  const body = element("div", "body");
  const rendered = element("div", "rendered");
  const pending = element("span", "pending");
  body.append(rendered, pending);
  article.append(body, element("footer"));
  return article;
}

// The allowance as the server counts it now (app.js writes its moments in local time).
function showAllowance(lines) {
  allowance.replaceChildren(
    ...lines.map((line) => {
      const span = element("span", line.exhausted ? "exhausted" : "", line.text);
      if (line.frees_at) {
        const when = element("time", "", line.frees_at_utc);
        when.setAttribute("datetime", line.frees_at);
        when.dataset.local = "";
        span.append(", next frees up ", when);
      }
      return span;
    }),
  );
}

async function refreshAllowance() {
  try {
    const response = await fetch("/chat/allowance", { headers: { Accept: "application/json" } });
    if (response.ok) showAllowance((await response.json()).allowance);
  } catch {
    // the page's allowance stays as it was; the next answer brings a fresh one
  }
}

// A stopped answer: the text that streamed after the last rendering joins it, as text, so
// the answer reads as one block (the kept message is rendered whole on the next visit).
function joinStopped(answer) {
  const pending = answer.querySelector(".pending");
  const rendered = answer.querySelector(".rendered");
  if (!pending || !rendered) return;
  const rest = pending.textContent;
  pending.remove();
  if (!rest.trim()) return;
  const last = rendered.lastElementChild;
  const inCode = last?.tagName === "PRE";
  const chunks = inCode ? [rest] : rest.split(/\n{2,}/);
  if (last && (inCode || (["P", "LI"].includes(last.tagName) && !/^\n\n/.test(rest)))) {
    (inCode ? (last.querySelector("code") ?? last) : last).append(chunks.shift());
  }
  for (const chunk of chunks) if (chunk.trim()) rendered.append(element("p", "", chunk));
}

function showLimit(message) {
  limitText.textContent = message.charAt(0).toUpperCase() + message.slice(1);
  limit.hidden = false;
}

function setRunning(controller) {
  running = controller;
  stopButton.hidden = !controller;
  sendButton.disabled = Boolean(controller);
}

function footerText(model, usage, state) {
  let text = `${model} · ${usage.completion_tokens} tokens`;
  if (usage.cached_tokens) text += ` · ${usage.cached_tokens} of ${usage.prompt_tokens} prompt tokens from cache`;
  if (usage.time_to_first_token_ms !== null) text += ` · first token ${usage.time_to_first_token_ms} ms`;
  if (state !== "complete") text += ` · ${state}`;
  return text;
}

function markLastAnswer() {
  for (const old of messages.querySelectorAll('[data-action="regenerate"]')) old.remove();
  const answers = messages.querySelectorAll("article.assistant");
  const last = answers[answers.length - 1];
  if (!last || last !== messages.lastElementChild) return;
  const button = element("button", "link", "Regenerate");
  button.type = "button";
  button.dataset.action = "regenerate";
  last.querySelector("footer").append(button);
}

async function* serverEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data === "[DONE]") return;
      if (data) yield JSON.parse(data);
    }
  }
}

function sidebarEntry(id, title) {
  const list = document.getElementById("conversation-list");
  list.querySelector(".empty")?.remove();
  let link = list.querySelector(`a[data-id="${CSS.escape(id)}"]`);
  if (!link) {
    const item = element("li");
    link = element("a", "", title);
    link.href = `/chat/c/${encodeURIComponent(id)}`;
    link.dataset.id = id;
    item.append(link);
    list.prepend(item);
  }
  for (const other of list.querySelectorAll("a[aria-current]")) other.removeAttribute("aria-current");
  link.setAttribute("aria-current", "page");
  return link;
}

async function waitForTitle(id, link) {
  for (let attempt = 0; attempt < 20; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 500 + attempt * 250));
    const response = await fetch(`/chat/c/${encodeURIComponent(id)}/title`);
    if (!response.ok) return;
    const { title, source } = await response.json();
    if (source !== "pending") {
      link.textContent = title;
      const field = document.getElementById("title");
      if (field) field.value = title;
      document.title = `${title} · Levante`;
      return;
    }
  }
}

async function ask({ content = "", mode = "send", position = null, replaceFrom = null }) {
  if (running) return;
  limit.hidden = true;
  const controller = new AbortController();
  setRunning(controller);
  let answer = null;
  try {
    const response = await fetch("/chat/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ conversation_id: conversation, content, model: modelPicker.value, mode, position }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const error = await response.json().catch(() => ({ message: "the server could not answer" }));
      if (error.code === "message_limit_reached") showLimit(error.message);
      else showLimit(error.message || "the message was refused");
      return false;
    }
    if (replaceFrom !== null) {
      for (const node of [...messages.querySelectorAll("article")]) {
        if (Number(node.dataset.position) >= replaceFrom) node.remove();
      }
    }
    messages.querySelector(".welcome")?.remove();
    let model = modelPicker.value;
    for await (const event of serverEvents(response)) {
      if (event.object === "error") {
        if (answer) answer.classList.replace("streaming", "failed");
        showLimit(event.message);
        continue;
      }
      if (event.type === "start") {
        const isNew = !conversation;
        conversation = event.conversation_id;
        model = event.model;
        if (mode !== "regenerate") messages.append(userMessage(content, event.user_position));
        answer = answerMessage(event.answer_position);
        messages.append(answer);
        const link = sidebarEntry(conversation, event.title);
        if (isNew) {
          history.replaceState(null, "", `/chat/c/${encodeURIComponent(conversation)}`);
          root.dataset.conversation = conversation;
          answer.dataset.titleLink = "pending";
          answer._link = link;
        }
      } else if (event.type === "delta") {
        answer.querySelector(".pending").textContent += event.text;
        answer.scrollIntoView({ block: "end" });
      } else if (event.type === "html") {
        answer.querySelector(".rendered").innerHTML = event.html; // sanitised by the server
        answer.querySelector(".pending").textContent = "";
      } else if (event.type === "done") {
        answer.querySelector(".body").innerHTML = event.html; // sanitised by the server
        answer.className = `message assistant ${event.state}`;
        answer.querySelector("footer").replaceChildren(element("span", "meta", footerText(model, event.usage, event.state)));
        addCopyButtons(answer);
        showAllowance(event.allowance);
        if (answer._link) waitForTitle(conversation, answer._link);
      }
    }
    return true;
  } catch (error) {
    if (error.name !== "AbortError") showLimit("the connection was lost; the answer so far is kept");
    if (answer) {
      answer.classList.replace("streaming", "stopped");
      const meta = element("span", "meta", "stopped");
      answer.querySelector("footer").replaceChildren(meta);
      joinStopped(answer);
    }
    refreshAllowance(); // a stopped answer counts too
    return true;
  } finally {
    setRunning(null);
    markLastAnswer();
  }
}

composer.addEventListener("submit", async (event) => {
  event.preventDefault();
  const content = input.value;
  if (!content.trim() || running) return;
  input.value = "";
  resize();
  const sent = await ask({ content });
  if (sent === false) input.value = content; // refused: nothing was kept, keep the text
});

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

function resize() {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
}
input.addEventListener("input", resize);

stopButton.addEventListener("click", () => running?.abort());

messages.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || running) return;
  const article = button.closest("article");
  const position = Number(article.dataset.position);
  if (button.dataset.action === "regenerate") {
    ask({ mode: "regenerate", replaceFrom: position });
  } else if (button.dataset.action === "edit") {
    const original = article.querySelector(".plain").textContent;
    const editor = element("textarea", "edit");
    editor.value = original;
    const save = element("button", "primary", "Send");
    save.type = "button";
    const cancel = element("button", "link", "Cancel");
    cancel.type = "button";
    const body = article.querySelector(".body");
    const kept = body.innerHTML;
    body.replaceChildren(editor, save, cancel);
    editor.focus();
    cancel.addEventListener("click", () => (body.innerHTML = kept));
    save.addEventListener("click", () => ask({ content: editor.value, mode: "edit", position, replaceFrom: position }));
  }
});

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!confirm(form.dataset.confirm)) event.preventDefault();
  });
}

const search = document.getElementById("search");
let searchTimer = null;
search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const response = await fetch(`/chat/search?q=${encodeURIComponent(search.value)}`);
    if (!response.ok) return;
    const holder = document.createElement("div");
    holder.innerHTML = await response.text(); // our own template, escaped by Jinja
    document.getElementById("conversation-list").replaceWith(holder.firstElementChild);
  }, 200);
});

const toggle = document.querySelector(".sidebar-toggle");
toggle.addEventListener("click", () => {
  const open = document.body.classList.toggle("sidebar-open");
  toggle.setAttribute("aria-expanded", String(open));
});

addCopyButtons(messages);
messages.lastElementChild?.scrollIntoView({ block: "end" });
input.focus();
