// Runs: start a run through the JSON API and follow it until it ends, without reloading the page.
//
// The pages work without this script (the run form posts to the page, which redirects to the
// run's page; that page refreshes itself while the run is live). With it:
// - the run form calls POST /api/agents/{id}/execute (session cookie + CSRF token) and shows the
//   run below the form;
// - a live run is followed by polling GET /api/executions/{id} with backoff; when its status (or
//   its number of attempts) changes, the server-rendered panel is fetched again and swapped in,
//   so what is shown is always drawn by the same template, escaped by Django.
(function () {
  "use strict";

  var TERMINAL = ["completed", "failed", "timeout", "cancelled"];
  var FIRST_DELAY = 400;
  var MAX_DELAY = 5000;
  var HIDDEN_DELAY = 10000;
  var MAX_FAILURES = 6;

  function isTerminal(status) { return TERMINAL.indexOf(status) >= 0; }

  function csrfToken(form) {
    var input = (form || document).querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) return "web-" + window.crypto.randomUUID().replace(/-/g, "");
    return "web-" + Date.now().toString(16) + Math.random().toString(16).slice(2);
  }

  function withId(template, id) { return template.replace("00000000-0000-0000-0000-000000000000", id); }

  // --- Following a run ---------------------------------------------------------------------

  function loadPanel(container, url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        // A redirect here is to the login page (the session ended): never draw that in the panel.
        if (!response.ok || response.redirected) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        container.innerHTML = html;  // the server's own template, escaped by Django
        bindConfirms(container);
      });
  }

  // Follow the run the container shows now; a later call (another run) ends this one's loop.
  function follow(container) {
    var apiUrl = container.dataset.apiUrl;
    var panelUrl = container.dataset.panelUrl;
    var status = container.dataset.status;
    var attempts = container.dataset.attempts;
    var generation = String(Date.now()) + Math.random();
    var delay = FIRST_DELAY;
    var failures = 0;
    container.dataset.generation = generation;

    function current() { return container.dataset.generation === generation; }

    function schedule() { window.setTimeout(tick, document.hidden ? Math.max(delay, HIDDEN_DELAY) : delay); }

    function tick() {
      if (!current()) return;
      fetch(apiUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (run) {
          if (!current()) return;
          failures = 0;
          if (run.status === status && String(run.attemptCount) === String(attempts)) {
            delay = Math.min(delay * 1.5, MAX_DELAY);
            return schedule();
          }
          status = run.status;
          attempts = run.attemptCount;
          container.dataset.status = status;
          delay = FIRST_DELAY;
          return loadPanel(container, panelUrl).then(function () {
            if (!isTerminal(status)) schedule();
          });
        })
        .catch(function () {
          failures += 1;
          if (failures >= MAX_FAILURES) return showPaused(container);
          delay = Math.min(delay * 2, HIDDEN_DELAY);
          schedule();
        });
    }

    if (!isTerminal(status)) schedule();
  }

  function showPaused(container) {
    var note = document.createElement("p");
    note.className = "alert alert--warning small";
    note.textContent = "Live updates stopped: the server did not answer. Reload the page to see the latest state.";
    container.insertBefore(note, container.firstChild);
  }

  // --- Confirmations on destructive buttons -----------------------------------------------------

  function bindConfirms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.confirmBound) return;
      form.dataset.confirmBound = "true";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // --- The run form ----------------------------------------------------------------------------

  // The input the form stands for, built the way the server builds it (orchestration/schema_form.py).
  // Returns undefined when a value cannot be read: the form is then posted as it is and the page
  // answers with the problem next to the field.
  function fieldsInput(panel) {
    var result = {};
    var ok = true;
    var done = {};
    panel.querySelectorAll("[data-path]").forEach(function (input) {
      if (!ok) return;
      var path = JSON.parse(input.dataset.path);
      var key = input.dataset.path;
      var kind = input.dataset.kind;
      var value;
      if (kind === "choices") {
        if (done[key]) return;
        done[key] = true;
        value = [];
        panel.querySelectorAll("[data-path]").forEach(function (box) {
          if (box.dataset.path === key && box.checked) value.push(box.value);
        });
        if (!value.length && input.getAttribute("aria-required") !== "true") return;
      } else if (kind === "boolean") {
        if (input.checked) value = true;
        else if (input.dataset.keepFalse) value = false;
        else return;
      } else {
        var text = input.value;
        if (text === "") return;
        if (kind === "integer" || kind === "number") {
          value = Number(text);
          if (!isFinite(value) || (kind === "integer" && !Number.isInteger(value))) { ok = false; return; }
        } else if (kind === "lines") {
          value = text.split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
          if (input.dataset.items !== "string") {
            value = value.map(Number);
            if (value.some(function (n) { return !isFinite(n); })) { ok = false; return; }
          }
          if (!value.length && input.getAttribute("aria-required") !== "true") return;
        } else if (kind === "json" || (kind === "choice" && input.dataset.jsonOptions)) {
          try { value = JSON.parse(text); } catch (error) { ok = false; return; }
        } else {
          value = text;
        }
      }
      var target = result;
      for (var i = 0; i < path.length - 1; i += 1) {
        if (typeof target[path[i]] !== "object" || target[path[i]] === null) target[path[i]] = {};
        target = target[path[i]];
      }
      target[path[path.length - 1]] = value;
    });
    return ok ? result : undefined;
  }

  function setupRunForm(form) {
    var errorBox = form.querySelector("[data-run-error]");
    var inputError = form.querySelector("[data-error-for=input]");
    var textarea = form.querySelector("textarea[name=input]");
    var button = form.querySelector("[data-run-submit]");
    var result = document.getElementById("run-result");
    var container = document.getElementById("run-panel");
    var link = result.querySelector("[data-run-link]");
    var modes = form.querySelectorAll("input[name=mode]");

    function mode() {
      var checked = form.querySelector("input[name=mode]:checked");
      return checked ? checked.value : "json";
    }

    function showMode() {
      if (!modes.length) return;
      form.querySelectorAll("[data-mode-panel]").forEach(function (panel) {
        panel.hidden = panel.dataset.modePanel !== mode();
      });
    }
    modes.forEach(function (radio) { radio.addEventListener("change", showMode); });
    showMode();

    function showError(message, inputMessage) {
      errorBox.textContent = message || "";
      errorBox.hidden = !message;
      if (inputError) {
        inputError.textContent = inputMessage || "";
        inputError.hidden = !inputMessage;
      }
    }

    // {input} to send, {error} to show, or undefined to let the page itself say what is wrong.
    function readInput() {
      if (mode() === "form") {
        var fields = fieldsInput(form.querySelector("[data-mode-panel=form]"));
        return fields === undefined ? undefined : { input: fields };
      }
      var value;
      try {
        value = JSON.parse(textarea.value);
      } catch (error) {
        return { error: "Enter valid JSON (" + error.message + ")." };
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return { error: "The input must be a JSON object, such as {\"text\": \"…\"}." };
      }
      return { input: value };
    }

    form.addEventListener("submit", function (event) {
      var read = readInput();
      if (read === undefined) return;  // let the page check it and say what is wrong
      event.preventDefault();
      if (read.error) {
        showError("", read.error);
        textarea.focus();
        return;
      }
      var body = { input: read.input };
      var hiring = form.querySelector("[name=hiring]");
      if (hiring && hiring.value) body.hiringId = hiring.value;
      var keyInput = form.querySelector("input[name=idempotency_key]");
      showError("");
      button.disabled = true;
      button.dataset.label = button.dataset.label || button.textContent;
      button.textContent = "Starting…";
      fetch(form.dataset.apiUrl + "?wait=1", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(form),
          "Idempotency-Key": keyInput.value,
        },
        body: JSON.stringify(body),
      })
        .then(function (response) {
          return response.json().catch(function () { return {}; }).then(function (data) {
            return { ok: response.ok, data: data };
          });
        }, function () {
          // No answer from the API: post the form instead (same key, so it is still one run).
          form.submit();
          return null;
        })
        .then(function (answer) {
          if (answer === null) return;
          if (!answer.ok) {
            var error = answer.data.error || {};
            var fields = error.fields || {};
            showError(error.message || "The run could not start.", (fields.input || []).join(" "));
            return;
          }
          keyInput.value = newKey();  // the next press is another run
          show(answer.data);
        })
        .finally(function () {
          button.disabled = false;
          button.textContent = button.dataset.label;
        });
    });

    function show(run) {
      container.dataset.apiUrl = withId(form.dataset.executionApiUrl, run.id);
      container.dataset.panelUrl = withId(form.dataset.panelUrl, run.id);
      container.dataset.status = run.status;
      container.dataset.attempts = run.attemptCount;
      link.href = withId(form.dataset.executionUrl, run.id);
      result.hidden = false;
      follow(container);
      loadPanel(container, container.dataset.panelUrl).then(function () {
        result.scrollIntoView({ behavior: "smooth", block: "start" });
      }).catch(function () {
        container.textContent = "The run started; open its page to follow it.";
      });
    }
  }

  // --- Start ------------------------------------------------------------------------------------

  bindConfirms(document);
  var runForm = document.getElementById("run-form");
  if (runForm) setupRunForm(runForm);
  var panel = document.getElementById("execution-panel");
  if (panel) follow(panel);
})();
