// The login page: name and password to POST /api/v1/login; the session token it answers goes
// where the console reads its token (sessionStorage "jijiu.console.token", this tab only, never
// a cookie or the address bar), then the console opens. A refusal says only "wrong name or
// password" (the server tells an unknown name from a wrong password to no one), or how long to
// wait after too many tries.
"use strict";

(() => {
  const form = document.querySelector("#login-form");
  const error = document.querySelector("#login-error");

  function say(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("");
    const button = form.querySelector("button");
    button.disabled = true;
    const body = { name: form.elements.name.value.trim(), password: form.elements.password.value };
    try {
      const answer = await fetch("/api/v1/login", {
        method: "POST",
        cache: "no-store",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (answer.ok) {
        const session = await answer.json();
        form.elements.password.value = "";
        sessionStorage.setItem("jijiu.console.token", session.token);
        location.assign("/console");
        return;
      }
      if (answer.status === 429) {
        const wait = answer.headers.get("Retry-After") || "?";
        say(`尝试次数过多，请 ${wait} 秒后再试。 Too many tries: wait ${wait} s.`);
      } else if (answer.status === 401) {
        say("用户名或密码错误。 Wrong name or password.");
      } else {
        say(`登录失败（${answer.status}）。 Login failed (${answer.status}).`);
      }
    } catch (err) {
      say("无法连接服务器。 The server cannot be reached.");
    } finally {
      button.disabled = false;
      form.elements.password.value = "";
      form.elements.password.focus();
    }
  });
})();
