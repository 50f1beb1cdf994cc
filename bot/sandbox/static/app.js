// workbot sandbox web client. Every piece of text from the workspace goes into the page through
// textContent or attribute setters, never innerHTML, so a title like <script> stays text.
"use strict";

// The URL fragment (#USER/CONV) wins over the last choice, so two tabs can be two people.
function parseHash() {
  return decodeURIComponent(location.hash.slice(1)).split("/");
}
const fromHash = parseHash();

const S = {
  me: fromHash[0] || localStorage.getItem("sandbox.me") || "",
  conv: fromHash[1] || localStorage.getItem("sandbox.conv") || "",
  mode: "conv", // "conv" or "home"
  version: 0,
  state: null,
  replyTo: "",
  modalKey: "",
  homeOpening: "", // the person whose App Home is being opened
  appTab: localStorage.getItem("sandbox.apptab") || "messages", // the app's tab the sidebar opens
};

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function toast(msg) {
  const t = el("div", "toast", msg);
  document.body.appendChild(t);
  setTimeout(() => t.remove(), 6000);
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const r = await fetch(path, opts);
  let j = null;
  try { j = await r.json(); } catch (e) { j = null; }
  if (!r.ok) {
    const err = new Error((j && j.error) || ("HTTP " + r.status));
    err.fields = j && j.fields;
    throw err;
  }
  return j;
}

// ---- names ----

function userName(id) {
  const st = S.state;
  if (st && id === st.bot_user) return "workbot";
  const u = st && st.users.find((x) => x.id === id);
  return u ? (u.real_name || u.name) : id;
}

function userHandle(id) {
  const st = S.state;
  if (st && id === st.bot_user) return "workbot";
  const u = st && st.users.find((x) => x.id === id);
  return u ? u.name : id;
}

function convLabel(id) {
  const c = S.state && S.state.conversations.find((x) => x.id === id);
  return c ? c.label : id;
}

// ---- mrkdwn ----

function decodeEntities(s) {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function safeURL(u) {
  return /^(https?:|mailto:)/i.test(u) ? u : null;
}

// angle renders Slack's <…> forms: mentions, channels, specials and links.
function angle(parent, inner) {
  const bar = inner.indexOf("|");
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? inner.slice(bar + 1) : "";
  let node;
  if (target.startsWith("@")) {
    node = el("span", "mention", "@" + (label || userHandle(target.slice(1))));
  } else if (target.startsWith("#")) {
    node = el("span", "mention", "#" + (label || convLabel(target.slice(1)).replace(/^#/, "")));
  } else if (target.startsWith("!subteam^")) {
    node = el("span", "mention", decodeEntities(label || "@team"));
  } else if (target.startsWith("!date^")) {
    node = document.createTextNode(decodeEntities(label));
  } else if (target.startsWith("!")) {
    node = el("span", "mention", "@" + target.slice(1));
  } else {
    const url = safeURL(decodeEntities(target));
    if (url) {
      node = el("a", "", decodeEntities(label || target));
      node.href = url;
      node.target = "_blank";
      node.rel = "noopener noreferrer";
    } else {
      node = document.createTextNode(decodeEntities(label || target));
    }
  }
  parent.appendChild(node);
}

const INLINE = /<([^<>\n]+)>|`([^`\n]+)`|(^|[^\w*])\*([^*\n]+?)\*(?!\w)|(^|[^\w_])_([^_\n]+?)_(?!\w)|(^|[^\w~])~([^~\n]+?)~(?!\w)/g;

function inline(parent, s) {
  let last = 0;
  INLINE.lastIndex = 0;
  const re = new RegExp(INLINE.source, "g");
  let m;
  while ((m = re.exec(s)) !== null) {
    if (m.index > last) parent.appendChild(document.createTextNode(decodeEntities(s.slice(last, m.index))));
    last = re.lastIndex;
    if (m[1] !== undefined) { angle(parent, m[1]); continue; }
    if (m[2] !== undefined) { parent.appendChild(el("code", "", decodeEntities(m[2]))); continue; }
    const pairs = [[3, "b"], [5, "i"], [7, "s"]];
    for (const [i, tag] of pairs) {
      if (m[i + 1] !== undefined) {
        if (m[i]) parent.appendChild(document.createTextNode(decodeEntities(m[i])));
        const node = el(tag);
        inline(node, m[i + 1]);
        parent.appendChild(node);
        break;
      }
    }
  }
  if (last < s.length) parent.appendChild(document.createTextNode(decodeEntities(s.slice(last))));
}

function mrkdwn(parent, s) {
  const parts = String(s || "").split("```");
  parts.forEach((p, i) => {
    if (i % 2 === 1) parent.appendChild(el("pre", "", decodeEntities(p)));
    else inline(parent, p);
  });
}

function textObj(parent, t) {
  const span = el("span", "text");
  if (!t) return span;
  if (t.type === "mrkdwn") mrkdwn(span, t.text);
  else span.textContent = t.text || "";
  parent.appendChild(span);
  return span;
}

function plain(t) {
  return (t && t.text) || "";
}

// ---- Block Kit ----

// act sends a click or a choice on an element, found by its place in the surface's blocks.
async function act(surface, block, element, value, values) {
  try {
    await api("/api/act", { user: S.me, surface, block, element, value, values });
  } catch (e) {
    toast(e.message);
  }
  refresh();
}

function optionsOf(elem) {
  if (elem.options) return elem.options.map((o) => ({ value: o.value, label: plain(o.text) }));
  if (elem.option_groups) {
    return elem.option_groups.flatMap((g) => (g.options || []).map((o) => ({ value: o.value, label: plain(g.label) + " / " + plain(o.text) })));
  }
  return [];
}

function peopleOptions() {
  return (S.state ? S.state.users : []).filter((u) => !u.is_bot).map((u) => ({ value: u.id, label: u.real_name || u.name }));
}

// personLabel is how the "You are" picker and the mention list name a person.
function personLabel(u) {
  return (u.real_name || u.name) + (u.title ? " · " + u.title : "");
}

function selectWith(opts, placeholder, initial) {
  const sel = el("select", "bk");
  const ph = el("option", "", placeholder || "Choose…");
  ph.value = "";
  if (!initial) ph.selected = true;
  ph.disabled = true;
  sel.appendChild(ph);
  for (const o of opts) {
    const opt = el("option", "", o.label);
    opt.value = o.value;
    if (o.value === initial) opt.selected = true;
    sel.appendChild(opt);
  }
  return sel;
}

// element renders an interactive element that dispatches at once (outside input blocks).
function element(elem, surface, block, index) {
  switch (elem.type) {
    case "button": {
      const b = el("button", "bk" + (elem.style ? " " + elem.style : ""), plain(elem.text));
      b.type = "button";
      if (elem.url && safeURL(elem.url)) b.title = elem.url;
      b.addEventListener("click", () => { b.disabled = true; act(surface, block, index); });
      return b;
    }
    case "static_select":
    case "external_select": {
      const init = elem.initial_option ? elem.initial_option.value : "";
      const sel = selectWith(optionsOf(elem), plain(elem.placeholder), init);
      sel.addEventListener("change", () => act(surface, block, index, { option: sel.value }));
      return sel;
    }
    case "users_select": {
      const sel = selectWith(peopleOptions(), plain(elem.placeholder) || "Pick a person", elem.initial_user || "");
      sel.addEventListener("change", () => act(surface, block, index, { user: sel.value }));
      return sel;
    }
    case "datepicker": {
      const inp = el("input", "bk");
      inp.type = "date";
      if (elem.initial_date) inp.value = elem.initial_date;
      inp.addEventListener("change", () => { if (inp.value) act(surface, block, index, { date: inp.value }); });
      return inp;
    }
    case "image":
      return el("span", "note", "[image: " + (elem.alt_text || "") + "]");
    default:
      return el("span", "note", "[" + elem.type + " is not shown in the sandbox]");
  }
}

// renderBlocks draws blocks. inputs, when given, collects the input blocks of a modal.
function renderBlocks(parent, blocks, surface, inputs, errors) {
  (blocks || []).forEach((b, i) => {
    const div = el("div", "block " + b.type);
    switch (b.type) {
      case "section": {
        const row = el("div", "section-row");
        const left = el("div");
        if (b.text) textObj(left, b.text);
        if (b.fields) left.appendChild(fieldsGrid(b.fields));
        row.appendChild(left);
        if (b.accessory) row.appendChild(element(b.accessory, surface, i, 0));
        div.appendChild(row);
        break;
      }
      case "header":
        div.textContent = plain(b.text);
        break;
      case "divider":
        div.appendChild(el("hr", "divider"));
        break;
      case "context":
        (b.elements || []).forEach((e) => {
          if (e.type === "image") div.appendChild(el("span", "note", "[image: " + (e.alt_text || "") + "] "));
          else { textObj(div, e); div.appendChild(document.createTextNode("  ")); }
        });
        break;
      case "actions": {
        const row = el("div", "actions");
        (b.elements || []).forEach((e, j) => row.appendChild(element(e, surface, i, j)));
        div.appendChild(row);
        break;
      }
      case "image":
        div.appendChild(el("div", "note", "🖼 image" + (b.title ? ": " + plain(b.title) : "") + (b.alt_text ? " — " + b.alt_text : "")));
        break;
      case "file":
        div.appendChild(el("div", "note", "📎 a shared file"));
        break;
      case "input":
        if (inputs) inputs.push(inputBlock(div, b, errors, surface, i));
        else div.appendChild(el("div", "note", "[input: " + plain(b.label) + "]"));
        break;
      default:
        div.appendChild(el("div", "note", "[" + b.type + " block]"));
    }
    parent.appendChild(div);
  });
}

function fieldsGrid(fields) {
  const grid = el("div", "fields");
  fields.forEach((f) => { const d = el("div"); textObj(d, f); grid.appendChild(d); });
  return grid;
}

// inputBlock draws one modal input and returns how to read it. Every input is sent on submit, empty
// ones too, because slackfake keeps a value typed at an earlier submit unless it is replaced.
function inputBlock(div, b, errors, surface, index) {
  div.className = "block input-block";
  const e = b.element || {};
  const id = "in-" + (b.block_id || "") + "-" + (e.action_id || "");
  const label = el("label", "", plain(b.label));
  label.htmlFor = id;
  if (b.optional) label.appendChild(el("span", "optional", " (optional)"));
  div.appendChild(label);
  let control;
  let read;
  let filled = () => true; // an element the sandbox cannot edit keeps its initial value
  switch (e.type) {
    case "plain_text_input":
    case "email_text_input":
    case "url_text_input":
    case "number_input": {
      control = el(e.multiline ? "textarea" : "input");
      if (!e.multiline) control.type = e.type === "number_input" ? "number" : e.type === "email_text_input" ? "email" : "text";
      if (e.initial_value) control.value = e.initial_value;
      if (e.max_length) control.maxLength = e.max_length;
      if (e.placeholder) control.placeholder = plain(e.placeholder);
      read = () => ({ text: control.value });
      filled = () => control.value.trim() !== "";
      if (b.dispatch_action && !e.multiline && surface) {
        // Slack sends an input with dispatch_action to the app when Enter is pressed in it, with what
        // the view holds so far; the modal is not submitted.
        control.addEventListener("keydown", (ev) => {
          if (ev.key !== "Enter" || ev.isComposing) return;
          ev.preventDefault();
          act(surface, index, 0, { text: control.value }, modalValues());
        });
      }
      break;
    }
    case "static_select":
    case "external_select":
    case "radio_buttons": {
      control = selectWith(optionsOf(e), plain(e.placeholder), e.initial_option ? e.initial_option.value : "");
      read = () => ({ option: control.value || "" });
      filled = () => !!control.value;
      break;
    }
    case "users_select": {
      control = selectWith(peopleOptions(), plain(e.placeholder) || "Pick a person", e.initial_user || "");
      read = () => ({ user: control.value || "" });
      filled = () => !!control.value;
      break;
    }
    case "datepicker": {
      control = el("input");
      control.type = "date";
      if (e.initial_date) control.value = e.initial_date;
      read = () => ({ date: control.value || "" });
      filled = () => !!control.value;
      break;
    }
    default:
      control = el("div", "note", "[" + e.type + " is not supported by the sandbox; its initial value is kept]");
      read = () => null;
  }
  control.id = id;
  div.appendChild(control);
  if (b.hint) div.appendChild(el("div", "hint", plain(b.hint)));
  const err = el("div", "field-error");
  err.dataset.block = b.block_id || "";
  err.textContent = (errors && errors[b.block_id]) || "";
  div.appendChild(err);
  const input = { block: b.block_id, action: e.action_id, read, required: !b.optional, filled, control, err };
  const recheck = () => { if (err.dataset.required && filled()) setRequired(input, false); };
  control.addEventListener("input", recheck);
  control.addEventListener("change", recheck);
  return input;
}

// Slack's client checks required inputs itself: it sends nothing and notes each empty one.
const REQUIRED = "Please complete this required field.";

function setRequired(input, on) {
  if (on) input.err.dataset.required = "1";
  else delete input.err.dataset.required;
  input.err.textContent = on ? REQUIRED : "";
  input.control.classList.toggle("invalid", on);
}

// ---- messages ----

function timeOf(ts) {
  const d = new Date(parseFloat(ts) * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(m, replies) {
  const div = el("div", "msg" + (m.ephemeral ? " ephemeral" : ""));
  div.dataset.ts = m.ts;
  const main = el("div", "msg-main");
  div.appendChild(main);
  const who = el("div", "who-line", userName(m.user));
  if (m.bot) who.appendChild(el("span", "app-tag", "APP"));
  who.appendChild(el("span", "time", timeOf(m.ts)));
  if (m.ephemeral) who.appendChild(el("span", "only-you", " · Only visible to you"));
  main.appendChild(who);
  if (m.blocks && m.blocks.length) renderBlocks(main, m.blocks, m.surface);
  else { const t = el("div"); mrkdwn(t, m.text); main.appendChild(t); }
  (m.files || []).forEach((f) => {
    if (f.url) {
      const fig = el("figure", "file-image");
      const img = el("img");
      img.src = f.url;
      img.alt = f.alt || f.title || f.name;
      fig.appendChild(img);
      fig.appendChild(el("figcaption", "note", "📎 file: " + (f.title || f.name) + " (" + f.name + ")"));
      main.appendChild(fig);
    } else {
      main.appendChild(el("div", "note", "📎 file: " + (f.title || f.name) + " (" + f.name + ", " + f.size + " bytes; not shown in the sandbox)"));
    }
  });
  if (m.edited) main.appendChild(el("span", "edited", "(edited)"));
  if (!m.ephemeral) {
    if (m.reactions && m.reactions.length) main.appendChild(reactionRow(m));
    main.appendChild(messageActions(m));
  }
  if (!m.ephemeral && !m.thread_ts) {
    const r = el("button", "reply-link", replies && replies.length ? replies.length + " " + (replies.length === 1 ? "reply" : "replies") + " · reply in thread" : "Reply in thread");
    r.type = "button";
    r.dataset.fk = "reply:" + m.ts;
    r.addEventListener("click", () => setReplyTo(m));
    main.appendChild(r);
  }
  if (replies && replies.length) {
    const th = el("div", "thread");
    replies.forEach((x) => th.appendChild(renderMessage(x)));
    div.appendChild(th);
  }
  return div;
}

// ---- reactions and message actions ----

// Emoji the page can draw; others show as :name:. The picker offers the first ones, and the intake
// emoji when it is another.
const EMOJI = {
  ticket: "🎫", "+1": "👍", eyes: "👀", white_check_mark: "✅", raised_hands: "🙌", tada: "🎉", heart: "❤️",
  thinking_face: "🤔", "-1": "👎", pray: "🙏", fire: "🔥", rocket: "🚀", memo: "📝", bug: "🐛", warning: "⚠️",
};
const PICKER = ["ticket", "+1", "eyes", "white_check_mark", "raised_hands", "tada", "heart", "thinking_face"];

function emojiGlyph(name) {
  const base = name.split("::")[0];
  return EMOJI[base] || ":" + base + ":";
}

function pickerEmoji() {
  const r = S.state && S.state.intake_reaction;
  return r && !PICKER.includes(r) ? [r].concat(PICKER.slice(0, PICKER.length - 1)) : PICKER;
}

function names(ids) {
  const n = ids.map(userName);
  return n.length <= 1 ? n.join("") : n.slice(0, -1).join(", ") + " and " + n[n.length - 1];
}

function reactionRow(m) {
  const row = el("div", "reactions");
  for (const r of m.reactions) {
    const b = el("button", "reaction" + (r.mine ? " mine" : ""));
    b.type = "button";
    b.dataset.fk = "pill:" + m.ts + ":" + r.name;
    b.dataset.emoji = r.name;
    b.setAttribute("aria-pressed", r.mine ? "true" : "false");
    b.title = names(r.users) + " reacted with :" + r.name + ":";
    b.setAttribute("aria-label", ":" + r.name + ": " + r.users.length + ", " + b.title);
    b.appendChild(el("span", "emoji", emojiGlyph(r.name)));
    b.appendChild(el("span", "count", String(r.users.length)));
    b.addEventListener("click", () => react(m, r.name, r.mine));
    row.appendChild(b);
  }
  return row;
}

async function react(m, name, remove) {
  try {
    await api("/api/react", { user: S.me, channel: m.surface.channel, ts: m.ts, emoji: name, remove: !!remove });
  } catch (e) {
    toast(e.message);
  }
  refresh();
}

// messageActions is the bar that shows on a message when it is hovered or focused: add a reaction, and
// the ⋯ menu with the app's message shortcuts, as in Slack.
function messageActions(m) {
  const bar = el("div", "msg-actions");
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", "Message actions");
  const add = el("button", "msg-action", "☺+");
  add.type = "button";
  add.dataset.fk = "react:" + m.ts;
  add.title = "Add reaction";
  add.setAttribute("aria-label", "Add reaction");
  add.setAttribute("aria-haspopup", "menu");
  add.addEventListener("click", () => openPicker(add, m));
  const more = el("button", "msg-action more", "⋯");
  more.type = "button";
  more.dataset.fk = "more:" + m.ts;
  more.title = "More actions";
  more.setAttribute("aria-label", "More actions");
  more.setAttribute("aria-haspopup", "menu");
  more.addEventListener("click", () => openMoreMenu(more, m));
  bar.appendChild(add);
  bar.appendChild(more);
  return bar;
}

// A popup menu: one at a time, kept across the page's redraws (it acts on what it was opened for),
// closed by Escape, a click elsewhere or a choice. Arrow keys move between its items.
const P = { menu: null, opener: "" };

function closeMenu(refocus) {
  if (!P.menu) return;
  P.menu.remove();
  P.menu = null;
  if (refocus && P.opener) {
    const b = document.querySelector('[data-fk="' + CSS.escape(P.opener) + '"]');
    if (b) b.focus();
  }
  P.opener = "";
}

function openMenu(anchor, cls, label, items, up, alignLeft) {
  closeMenu(false);
  const menu = el("div", "menu " + cls);
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-label", label);
  items.forEach((it) => {
    const b = el("button", "menu-item");
    b.type = "button";
    b.setAttribute("role", "menuitem");
    b.tabIndex = -1;
    if (it.emoji) b.dataset.emoji = it.emoji;
    b.appendChild(el("span", "menu-label", it.label));
    if (it.hint) b.appendChild(el("span", "menu-hint", it.hint));
    if (it.title) b.title = it.title;
    b.addEventListener("click", () => { closeMenu(false); it.run(); });
    menu.appendChild(b);
  });
  menu.addEventListener("keydown", (e) => {
    const all = [...menu.querySelectorAll(".menu-item")];
    const i = all.indexOf(document.activeElement);
    let next = -1;
    switch (e.key) {
      case "ArrowDown": case "ArrowRight": next = (i + 1) % all.length; break;
      case "ArrowUp": case "ArrowLeft": next = (i + all.length - 1) % all.length; break;
      case "Home": next = 0; break;
      case "End": next = all.length - 1; break;
      case "Escape": e.preventDefault(); closeMenu(true); return;
      case "Tab": closeMenu(false); return;
      default: return;
    }
    e.preventDefault();
    all[next].focus();
  });
  document.body.appendChild(menu);
  const r = anchor.getBoundingClientRect();
  const w = menu.offsetWidth;
  menu.style.left = Math.max(8, Math.min(alignLeft ? r.left : r.right - w, window.innerWidth - w - 8)) + "px";
  if (up) menu.style.bottom = (window.innerHeight - r.top + 4) + "px";
  else menu.style.top = Math.min(r.bottom + 4, window.innerHeight - menu.offsetHeight - 8) + "px";
  P.menu = menu;
  P.opener = anchor.dataset.fk || anchor.id;
  const first = menu.querySelector(".menu-item");
  if (first) first.focus();
}

function openMoreMenu(anchor, m) {
  const items = ((S.state && S.state.shortcuts) || []).filter((x) => x.type === "message").map((x) => ({
    label: x.name, hint: "workbot", title: x.description,
    run: () => shortcut(x.callback_id, m.surface.channel, m.ts),
  }));
  if (!m.thread_ts) items.push({ label: "Reply in thread", run: () => setReplyTo(m) });
  openMenu(anchor, "more-menu", "More actions", items, false);
}

function openPicker(anchor, m) {
  const mine = new Set((m.reactions || []).filter((r) => r.mine).map((r) => r.name));
  const items = pickerEmoji().map((name) => ({
    label: emojiGlyph(name), emoji: name, title: ":" + name + ":" + (name === (S.state && S.state.intake_reaction) && S.state.reaction_here ? " (files the message with workbot)" : ""),
    run: () => react(m, name, mine.has(name)),
  }));
  openMenu(anchor, "picker", "Add reaction", items, false);
}

// shortcut runs an app shortcut: on a message (channel and ts), or a global one.
async function shortcut(callbackID, channel, ts) {
  try {
    await api("/api/shortcut", { user: S.me, callback_id: callbackID, channel: channel || "", ts: ts || "" });
  } catch (e) {
    toast(e.message);
  }
  refresh();
}

function openShortcuts() {
  const items = ((S.state && S.state.shortcuts) || []).filter((x) => x.type === "global").map((x) => ({
    label: x.name, hint: "workbot", title: x.description, run: () => shortcut(x.callback_id),
  }));
  openMenu($("shortcuts"), "shortcuts-menu", "Shortcuts", items, true, true);
}

function setReplyTo(m) {
  S.replyTo = m ? m.ts : "";
  $("reply-to").hidden = !m;
  $("reply-to-text").textContent = m ? "Replying in thread to " + userName(m.user) + " (" + timeOf(m.ts) + ")" : "";
  if (m) $("input").focus();
}

function renderMessages(st) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  // A redraw replaces every element: focus moves to the successor of the one that had it, so that a
  // keyboard user is not thrown out of the conversation by someone else's message.
  const focused = box.contains(document.activeElement) ? document.activeElement.dataset.fk : "";
  const scroll = box.scrollTop;
  box.replaceChildren();
  const replies = new Map();
  const tops = [];
  const byTS = new Set(st.messages.filter((m) => !m.thread_ts).map((m) => m.ts));
  for (const m of st.messages) {
    if (m.thread_ts && byTS.has(m.thread_ts)) {
      if (!replies.has(m.thread_ts)) replies.set(m.thread_ts, []);
      replies.get(m.thread_ts).push(m);
    } else tops.push(m);
  }
  if (!tops.length) box.appendChild(el("div", "note", "No messages yet. Try /work help, or /work request Fix the printer."));
  for (const m of tops) box.appendChild(renderMessage(m, replies.get(m.ts)));
  if (atBottom || S.scrollToEnd) box.scrollTop = box.scrollHeight;
  else box.scrollTop = scroll;
  S.scrollToEnd = false;
  if (focused) {
    const again = box.querySelector('[data-fk="' + CSS.escape(focused) + '"]');
    if (again) again.focus({ preventScroll: true });
  }
}

// ---- modal ----

let modalInputs = [];

function renderModal(st) {
  const m = st.modal;
  const back = $("modal-backdrop");
  if (!m) { back.hidden = true; S.modalKey = ""; return; }
  back.hidden = false;
  const key = m.id + "/" + m.hash;
  if (key !== S.modalKey) {
    // The app updated the open modal (views.update): Slack keeps what was typed in the inputs it
    // still has.
    const kept = S.modalKey.startsWith(m.id + "/") ? typedValues() : {};
    S.modalKey = key;
    $("modal-title").textContent = m.title + (m.depth > 1 ? "  (" + m.depth + " deep)" : "");
    $("modal-close").textContent = m.close || "Cancel";
    $("modal-submit").textContent = m.submit || "Submit";
    $("modal-submit").hidden = !m.submit;
    $("modal-error").hidden = true;
    const body = $("modal-body");
    body.replaceChildren();
    modalInputs = [];
    renderBlocks(body, m.blocks, { kind: "view", view_id: m.id }, modalInputs, m.errors);
    for (const inp of modalInputs) {
      const v = kept[inp.block + "/" + inp.action];
      if (v !== undefined && "value" in inp.control) inp.control.value = v;
    }
  }
  for (const e of document.querySelectorAll("#modal-body .field-error")) {
    e.textContent = (m.errors && m.errors[e.dataset.block]) || (e.dataset.required ? REQUIRED : "");
  }
}

// typedValues is what the open modal's inputs hold, by block/action.
function typedValues() {
  const out = {};
  for (const inp of modalInputs) {
    if (inp.block && inp.action && "value" in inp.control) out[inp.block + "/" + inp.action] = inp.control.value;
  }
  return out;
}

// modalValues is the modal's inputs as the API takes them (what Slack sends as the view's state).
function modalValues() {
  const values = {};
  for (const inp of modalInputs) {
    const v = inp.read();
    if (!v || !inp.block || !inp.action) continue;
    values[inp.block] = values[inp.block] || {};
    values[inp.block][inp.action] = v;
  }
  return values;
}

async function submitModal(ev) {
  ev.preventDefault();
  const m = S.state && S.state.modal;
  if (!m || !m.submit) return;
  const empty = modalInputs.filter((inp) => inp.required && !inp.filled());
  for (const inp of modalInputs) setRequired(inp, empty.includes(inp));
  if (empty.length) {
    empty[0].control.focus();
    return;
  }
  const values = modalValues();
  $("modal-submit").disabled = true;
  try {
    await api("/api/submit", { user: S.me, view_id: m.id, values });
    $("modal-error").hidden = true;
  } catch (e) {
    const notes = e.fields || {};
    for (const inp of modalInputs) if (notes[inp.block]) setRequired(inp, true);
    if (!Object.keys(notes).length) {
      $("modal-error").textContent = e.message;
      $("modal-error").hidden = false;
    }
  }
  $("modal-submit").disabled = false;
  refresh();
}

async function closeModal() {
  const m = S.state && S.state.modal;
  if (!m) return;
  try { await api("/api/close", { user: S.me, view_id: m.id }); } catch (e) { toast(e.message); }
  refresh();
}

// ---- page ----

function dmOf(st) {
  const c = st.conversations.find((x) => x.is_im);
  return c ? c.id : "";
}

function inApp(st) {
  return S.mode === "home" || (st.conv && st.conv === dmOf(st));
}

function seenKey(me) {
  return "sandbox.seen." + me;
}

function renderSidebar(st) {
  const me = $("me");
  if (me.options.length !== st.users.filter((u) => !u.is_bot).length) {
    me.replaceChildren();
    st.users.filter((u) => !u.is_bot).forEach((u) => {
      const o = el("option", "", personLabel(u));
      o.value = u.id;
      me.appendChild(o);
    });
  }
  me.value = st.me;
  const chans = $("channels");
  chans.replaceChildren();
  for (const c of st.conversations) {
    if (c.is_im) continue;
    const li = el("li");
    const b = el("button", "conv" + (S.mode === "conv" && c.id === st.conv ? " active" : ""), c.label);
    b.type = "button";
    b.addEventListener("click", () => openConv(c.id));
    li.appendChild(b);
    chans.appendChild(li);
  }
  // The app's DM is read when its Messages tab shows; newer messages from workbot mark the app unread.
  const dm = dmOf(st);
  if (S.mode === "conv" && st.conv === dm && st.app_dm_latest) localStorage.setItem(seenKey(st.me), st.app_dm_latest);
  const seen = localStorage.getItem(seenKey(st.me)) || "";
  const unread = !!st.app_dm_latest && (!seen || parseFloat(st.app_dm_latest) > parseFloat(seen));
  const app = $("app-tab");
  app.classList.toggle("active", inApp(st));
  app.classList.toggle("unread", unread);
  app.setAttribute("aria-label", "workbot" + (unread ? ", new messages" : ""));
  $("status").textContent = st.connected ? "● workbot connected" : "○ workbot not connected";
}

function openConv(id) {
  S.mode = "conv";
  S.conv = id;
  localStorage.setItem("sandbox.conv", id);
  setReplyTo(null);
  S.scrollToEnd = true;
  refresh();
}

// openApp opens workbot from the sidebar, on the tab last used.
function openApp() {
  if (S.appTab === "home") openHome();
  else openAppMessages();
}

function openAppMessages() {
  S.appTab = "messages";
  localStorage.setItem("sandbox.apptab", "messages");
  const dm = S.state ? dmOf(S.state) : "";
  if (dm) openConv(dm);
}

function render(st) {
  S.state = st;
  S.me = st.me;
  S.conv = st.conv;
  history.replaceState(null, "", "#" + encodeURIComponent(st.me) + "/" + encodeURIComponent(st.conv));
  renderSidebar(st);
  const banner = $("banner");
  banner.hidden = st.connected;
  banner.className = "banner bad";
  banner.textContent = st.connected ? "" : "workbot is not connected to this workspace; commands and buttons will fail until it is.";
  const home = S.mode === "home";
  const app = inApp(st);
  $("messages").hidden = home;
  $("composer").hidden = home;
  $("homeview").hidden = !home;
  $("app-tabs").hidden = !app;
  $("tab-home").classList.toggle("active", home);
  $("tab-home").setAttribute("aria-selected", home ? "true" : "false");
  $("tab-messages").classList.toggle("active", app && !home);
  $("tab-messages").setAttribute("aria-selected", app && !home ? "true" : "false");
  if (home) {
    $("conv-title").textContent = "workbot · Home";
    $("conv-hint").textContent = "what workbot published for " + userName(st.me);
    const hv = $("homeview");
    hv.replaceChildren();
    if (S.homeOpening === st.me) hv.appendChild(el("div", "note", "Opening App Home for " + userName(st.me) + "…"));
    else if (st.home) renderBlocks(hv, st.home.blocks, { kind: "view", view_id: st.home.id });
    else hv.appendChild(el("div", "note", "workbot has not published a Home tab for you yet."));
  } else {
    $("conv-title").textContent = app ? "workbot · Messages" : convLabel(st.conv);
    let hint = app ? "write to workbot and it offers to file it as a request; you are " + userName(st.me)
      : "type /work help to start; you are " + userName(st.me);
    if (st.reaction_here) hint += " · a :" + st.intake_reaction + ": reaction " + emojiGlyph(st.intake_reaction) + " files a message with workbot";
    $("conv-hint").textContent = hint;
    $("input").placeholder = app ? "Message workbot, or /work help" : "Message " + convLabel(st.conv) + ", or /work help; @ to mention someone";
    renderMessages(st);
  }
  renderModal(st);
}

let refreshing = null;
let again = false;

// refresh fetches the state once; calls made meanwhile fold into one more fetch.
function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      try {
        const asked = S.me;
        const askedConv = S.conv;
        const q = new URLSearchParams({ user: asked, conv: askedConv });
        const st = await api("/api/state?" + q.toString());
        // "You are" or the conversation changed while this was on its way: it shows what the person
        // just left, and rendering it would undo their click. Fetch again.
        if (S.me !== asked || S.conv !== askedConv) { again = true; continue; }
        render(st);
        S.version = S.state.version;
      } catch (e) {
        $("status").textContent = "sandbox unreachable: " + e.message;
      }
    } while (again);
    refreshing = null;
  })();
  return refreshing;
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

// poll waits for the workspace to change; the server holds each request until then (or ~25 s), and
// one round per second at most keeps a busy bot from spinning the page.
async function poll() {
  for (;;) {
    const t0 = Date.now();
    try {
      const j = await api("/api/wait?since=" + S.version);
      if (j.version !== S.version) await refresh();
    } catch (e) {
      $("status").textContent = "sandbox unreachable; retrying";
      await delay(2000);
    }
    const spent = Date.now() - t0;
    if (spent < 1000) await delay(1000 - spent);
  }
}

// openHome opens App Home as the current person: the app_home_opened the bot answers with their view.
// Until it has, the page says so rather than show what it last had, which may be someone else's.
async function openHome() {
  const me = S.me;
  S.mode = "home";
  S.appTab = "home";
  localStorage.setItem("sandbox.apptab", "home");
  S.homeOpening = me;
  if (S.state && S.state.me === me) render(S.state);
  else {
    $("messages").hidden = true;
    $("composer").hidden = true;
    $("homeview").hidden = false;
    $("homeview").replaceChildren(el("div", "note", "Opening App Home…"));
  }
  try { await api("/api/home", { user: me }); } catch (e) { toast(e.message); }
  if (S.homeOpening === me) S.homeOpening = "";
  await refresh();
}

async function send(ev) {
  ev.preventDefault();
  const input = $("input");
  const text = input.value;
  if (!text.trim()) return;
  $("send").disabled = true;
  try {
    await api("/api/send", { user: S.me, conv: S.conv, text, thread_ts: S.replyTo });
    input.value = "";
    S.scrollToEnd = true;
  } catch (e) {
    toast(e.message);
  }
  $("send").disabled = false;
  refresh();
}

// ---- @-mentions in the composer ----

// The list offers people (and @here, @channel, @everyone) whose username or any part of their name
// starts with what follows the @ before the caret. Picking one writes @username; the server turns that
// into <@U…|username>, as Slack's client does.
const M = { open: false, items: [], index: 0, start: 0, end: 0 };
const SPECIALS = [
  { handle: "here", label: "@here", hint: "notify everyone online in this channel" },
  { handle: "channel", label: "@channel", hint: "notify everyone in this channel" },
  { handle: "everyone", label: "@everyone", hint: "notify everyone in the workspace" },
];

function mentionQuery(input) {
  const upto = input.value.slice(0, input.selectionStart);
  const m = /(^|[^\w.\-])@([\w.\-]*)$/.exec(upto);
  if (!m || input.selectionStart !== input.selectionEnd) return null;
  return { q: m[2].toLowerCase(), start: upto.length - m[2].length - 1, end: input.selectionStart };
}

function mentionMatches(q) {
  const people = (S.state ? S.state.users : []).filter((u) => !u.is_bot || u.id === S.state.bot_user).filter((u) => {
    const words = [u.name, ...(u.real_name || "").split(/\s+/), u.real_name || ""].map((w) => w.toLowerCase());
    return words.some((w) => w.startsWith(q));
  }).map((u) => ({ handle: u.name, label: u.real_name || u.name, hint: "@" + u.name + (u.title ? " · " + u.title : "") }));
  const specials = SPECIALS.filter((x) => q && x.handle.startsWith(q));
  return people.concat(specials).slice(0, 8);
}

function updateMentions() {
  const input = $("input");
  const mq = mentionQuery(input);
  const items = mq ? mentionMatches(mq.q) : [];
  if (!items.length) { closeMentions(); return; }
  const same = M.open && M.items.length === items.length && M.items.every((x, i) => x.handle === items[i].handle);
  Object.assign(M, { open: true, items, start: mq.start, end: mq.end, index: same ? M.index : 0 });
  renderMentions();
}

function renderMentions() {
  const list = $("mentions");
  list.replaceChildren();
  M.items.forEach((x, i) => {
    const li = el("li", "mention-option" + (i === M.index ? " selected" : ""));
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", i === M.index ? "true" : "false");
    li.dataset.handle = x.handle;
    li.appendChild(el("span", "mention-name", x.label));
    li.appendChild(el("span", "mention-hint", " " + x.hint));
    // mousedown, not click: the textarea must keep the focus and the caret.
    li.addEventListener("mousedown", (ev) => { ev.preventDefault(); pickMention(i); });
    li.addEventListener("mousemove", () => { if (M.index !== i) { M.index = i; renderMentions(); } });
    list.appendChild(li);
  });
  list.hidden = false;
  $("input").setAttribute("aria-expanded", "true");
}

function closeMentions() {
  M.open = false;
  $("mentions").hidden = true;
  $("mentions").replaceChildren();
  $("input").setAttribute("aria-expanded", "false");
}

function pickMention(i) {
  const input = $("input");
  const x = M.items[i];
  if (!x) return;
  const before = input.value.slice(0, M.start) + "@" + x.handle + " ";
  input.value = before + input.value.slice(M.end).replace(/^ /, "");
  input.focus();
  input.setSelectionRange(before.length, before.length);
  closeMentions();
}

// mentionKey handles the list's keys; it reports whether it used the key.
function mentionKey(e) {
  if (!M.open) return false;
  switch (e.key) {
    case "ArrowDown": M.index = (M.index + 1) % M.items.length; break;
    case "ArrowUp": M.index = (M.index + M.items.length - 1) % M.items.length; break;
    case "Enter":
    case "Tab": pickMention(M.index); break;
    case "Escape": closeMentions(); break;
    default: return false;
  }
  e.preventDefault();
  if (M.open) renderMentions();
  return true;
}

function init() {
  $("me").addEventListener("change", () => {
    const inDM = S.state && S.mode === "conv" && S.conv === dmOf(S.state);
    S.me = $("me").value;
    closeMenu(false);
    // The DM shown is the previous person's; the new person sees their own DM with workbot.
    if (inDM) S.conv = "dm";
    S.appTab = inDM ? "messages" : S.appTab;
    localStorage.setItem("sandbox.me", S.me);
    setReplyTo(null);
    S.modalKey = "";
    if (S.mode === "home") openHome(); else refresh();
  });
  window.addEventListener("hashchange", () => {
    const [me, conv] = parseHash();
    if (me === S.me && conv === S.conv) return;
    S.me = me || S.me;
    S.conv = conv || S.conv;
    S.mode = "conv";
    S.modalKey = "";
    setReplyTo(null);
    refresh();
  });
  $("app-tab").addEventListener("click", openApp);
  $("tab-home").addEventListener("click", openHome);
  $("tab-messages").addEventListener("click", openAppMessages);
  $("shortcuts").addEventListener("click", () => (P.menu && P.opener === "shortcuts" ? closeMenu(false) : openShortcuts()));
  document.addEventListener("mousedown", (e) => {
    if (P.menu && !P.menu.contains(e.target) && !e.target.closest("[aria-haspopup]")) closeMenu(false);
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && P.menu) closeMenu(true); });
  $("composer").addEventListener("submit", send);
  $("input").addEventListener("keydown", (e) => {
    if (mentionKey(e)) return;
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  $("input").addEventListener("input", updateMentions);
  $("input").addEventListener("click", updateMentions);
  $("input").addEventListener("blur", closeMentions);
  $("reply-cancel").addEventListener("click", () => setReplyTo(null));
  $("modal").addEventListener("submit", submitModal);
  $("modal-close").addEventListener("click", closeModal);
  $("modal-x").addEventListener("click", closeModal);
  refresh().then(poll);
}

init();
