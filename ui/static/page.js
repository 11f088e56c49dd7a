/* hoidap chat page: Gradio's own English strings in Vietnamese, and date pickers.
   Loaded in <head> by ui/i18n.py (head_html), which defines window.HOIDAP_VI first. */
(() => {
  const VI = window.HOIDAP_VI || {exact: {}, prefixes: [], pickers: {}};
  const ATTRS = ["aria-label", "title", "placeholder"];
  const CONTENT = ".hd-reply, .hd-question";  // our own (document) text: never rewritten
  document.documentElement.lang = "vi";

  const plain = (html) => {  // a message's text without its tags (template: inert parse)
    const t = document.createElement("template");
    t.innerHTML = html;
    const walker = document.createTreeWalker(t.content, NodeFilter.SHOW_TEXT);
    const parts = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) parts.push(n.nodeValue);
    const text = parts.join(" ").replace(/\s+/g, " ").trim();
    return text.length > 300 ? text.slice(0, 300) + "…" : text;
  };

  const translate = (value, isAttr) => {
    const key = value.trim();
    if (!key) return value;
    if (Object.prototype.hasOwnProperty.call(VI.exact, key)) {
      return value.replace(key, VI.exact[key]);
    }
    for (const [en, vi] of VI.prefixes) {
      if (key.startsWith(en)) {
        const rest = key.slice(en.length);
        return vi + (isAttr && rest.includes("<") ? plain(rest) : rest);
      }
    }
    return value;
  };

  const inContent = (node) => {
    const el = node.nodeType === 1 ? node : node.parentElement;
    return !!(el && el.closest(CONTENT));
  };

  const setText = (node) => {
    const next = translate(node.nodeValue, false);
    if (next !== node.nodeValue) node.nodeValue = next;
  };
  const fixText = (node) => { if (!inContent(node)) setText(node); };

  const fixAttrs = (el) => {
    for (const a of ATTRS) {
      const v = el.getAttribute(a);
      if (v === null) continue;
      const next = translate(v, true);
      if (next !== v) el.setAttribute(a, next);
    }
  };

  const fixTree = (root) => {
    if (root.nodeType === 3) return fixText(root);
    if (root.nodeType !== 1 || root.closest(CONTENT)) return;
    fixAttrs(root);
    const skip = {acceptNode: (n) => (n.nodeType === 1 && n.matches(CONTENT)
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT)};  // whole subtree left alone
    const walker = document.createTreeWalker(
      root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT, skip);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.nodeType === 3) setText(n); else fixAttrs(n);
    }
  };

  // -- date pickers: a calendar button beside a dd/mm/yyyy textbox ---------------------
  const iso = (dmy) => {
    const m = /^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$/.exec(dmy || "");
    if (m) return `${m[3]}-${m[2].padStart(2, "0")}-${m[1].padStart(2, "0")}`;
    return /^\d{4}-\d{2}-\d{2}$/.test((dmy || "").trim()) ? dmy.trim() : "";
  };
  const dmy = (isoDate) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate || "");
    return m ? `${m[3]}/${m[2]}/${m[1]}` : "";
  };

  const CALENDAR = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" ' +
    'fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round">' +
    '<rect x="3" y="5" width="18" height="16" rx="2"/><path d="M3 10h18M8 3v4M16 3v4"/></svg>';

  const addPicker = (id, label) => {
    const block = document.getElementById(id);
    const field = block && block.querySelector("textarea, input[type=text], input:not([type])");
    if (!field || block.querySelector(".hd-cal")) return;
    const wrap = document.createElement("span");
    wrap.className = "hd-datepick";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "hd-cal";
    button.id = `${id}_pick`;
    button.setAttribute("aria-label", label);
    button.title = label;
    button.innerHTML = CALENDAR;
    const native = document.createElement("input");
    native.type = "date";
    native.className = "hd-date-native";
    native.id = `${id}_native`;
    native.tabIndex = -1;
    native.setAttribute("aria-hidden", "true");
    native.addEventListener("change", () => {
      const shown = dmy(native.value);
      if (!shown) return;
      field.value = shown;
      field.dispatchEvent(new Event("input", {bubbles: true}));
      field.dispatchEvent(new Event("change", {bubbles: true}));
    });
    button.addEventListener("click", () => {
      native.value = iso(field.value);
      try { native.showPicker(); } catch (e) { native.focus(); }
    });
    wrap.append(button, native);
    block.append(wrap);
  };

  const addPickers = () => {
    for (const [id, label] of Object.entries(VI.pickers || {})) addPicker(id, label);
  };

  const start = () => {  // from <head> on: the page is rewritten as it is parsed
    fixTree(document.documentElement);
    addPickers();
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === "attributes") { if (!inContent(r.target)) fixAttrs(r.target); }
        else if (r.type === "characterData") fixText(r.target);
        else r.addedNodes.forEach(fixTree);
      }
      addPickers();
    }).observe(document.documentElement, {subtree: true, childList: true, characterData: true,
                               attributes: true, attributeFilter: ATTRS});
  };
  start();
})();
