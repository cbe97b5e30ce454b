// The pages' languages: message catalogues (/static/i18n/<lang>.json), `t(key, params)` and the
// `data-i18n*` attributes, and a language switch remembered in localStorage.
//
// The language is, first found: `lang=` in the URL fragment, the switch's choice (localStorage
// "jijiu.lang"), else the city's (GET /api/v1/city `locale`): zh-CN when it is Chinese, en
// otherwise. A page waits for `jijiuI18n.ready` before it draws anything, so it never shows one
// language and then another; a catalogue that fails to load leaves the keys' English fallback.
// Attributes: data-i18n (text), data-i18n-title, data-i18n-placeholder, data-i18n-aria-label.
// An element with `data-i18n-switch` becomes the switch; choosing reloads the page.
"use strict";

window.jijiuI18n = (() => {
  const LANGS = ["zh-CN", "en"];
  const STORE = "jijiu.lang";
  const NAMES = { "zh-CN": "中文", en: "English" };
  const ATTRS = [
    ["data-i18n-title", "title"],
    ["data-i18n-placeholder", "placeholder"],
    ["data-i18n-aria-label", "aria-label"],
    ["data-i18n-alt", "alt"],
  ];
  let lang = "en";
  let messages = {};

  // The language from the fragment, a stored choice and the city's locale (pure).
  function pick(fragmentLang, stored, cityLocale) {
    if (LANGS.includes(fragmentLang)) return fragmentLang;
    if (LANGS.includes(stored)) return stored;
    return /^zh\b/i.test(cityLocale || "") ? "zh-CN" : "en";
  }

  function stored() {
    try {
      return localStorage.getItem(STORE);
    } catch (err) {
      return null; // storage off (a private window's policy): the city decides
    }
  }

  function remember(value) {
    try {
      localStorage.setItem(STORE, value);
    } catch (err) {
      // not remembered: this load still switches
    }
  }

  async function cityLocale() {
    try {
      const r = await fetch("/api/v1/city", { cache: "no-store" });
      return r.ok ? (await r.json()).locale : null;
    } catch (err) {
      return null;
    }
  }

  // The message for `key` with `{name}` placeholders filled from `params`; the key if unknown.
  function t(key, params = {}) {
    const text = Object.prototype.hasOwnProperty.call(messages, key) ? messages[key] : key;
    return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
  }

  function has(key) {
    return Object.prototype.hasOwnProperty.call(messages, key);
  }

  function apply(root = document) {
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const [attr, name] of ATTRS) {
      for (const node of root.querySelectorAll(`[${attr}]`)) node.setAttribute(name, t(node.getAttribute(attr)));
    }
    for (const tpl of root.querySelectorAll("template")) apply(tpl.content);
  }

  function buildSwitch() {
    for (const box of document.querySelectorAll("[data-i18n-switch]")) {
      const select = document.createElement("select");
      select.setAttribute("aria-label", t("lang.switch"));
      select.className = "lang-switch";
      for (const code of LANGS) select.append(new Option(NAMES[code], code, false, code === lang));
      select.addEventListener("change", () => {
        remember(select.value);
        const fragment = new URLSearchParams(location.hash.slice(1));
        if (fragment.has("lang")) {
          fragment.set("lang", select.value);
          location.hash = fragment.toString();
        }
        location.reload();
      });
      box.replaceChildren(select);
    }
  }

  async function load() {
    const fragment = new URLSearchParams(location.hash.slice(1)).get("lang");
    const own = stored();
    lang = pick(fragment, own, LANGS.includes(fragment) || LANGS.includes(own) ? null : await cityLocale());
    try {
      const r = await fetch(`/static/i18n/${lang}.json`);
      if (r.ok) messages = await r.json();
    } catch (err) {
      messages = {};
    }
    document.documentElement.lang = lang;
    apply();
    buildSwitch();
    return lang;
  }

  const ready = new Promise((resolve) => {
    const go = () => load().then(resolve, () => resolve(lang));
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go);
    else go();
  });

  return Object.freeze({ t, has, apply, pick, ready, lang: () => lang, LANGS });
})();
