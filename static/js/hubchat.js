// HubChat and the task pages: send a message through the JSON API, follow every task that is
// moving, and redraw it as it changes, without reloading the page.
//
// The pages work without this script: the message box and the Confirm / Cancel buttons are forms
// that post to the page views, which redirect back, and a page with a moving task refreshes itself.
// With it:
// - the message box calls POST /api/hubchat/message (session cookie + CSRF token);
// - a moving task is followed through its event stream, GET /api/tasks/{id}/events, and, when the
//   browser cannot keep one open, by polling GET /api/tasks/{id} and /steps every 2 s;
// - whenever the task changes, the fragment the server draws for it (a conversation turn, the task
//   panel) is fetched again and swapped in, so what is shown always comes from the same template,
//   escaped by Django;
// - Confirm and Cancel call POST /api/tasks/{id}/confirm and DELETE /api/tasks/{id}.
(function () {
  "use strict";

  var API = "/api/";
  var TERMINAL = ["completed", "failed", "cancelled"];
  var POLL_MS = 2000;
  var MAX_POLL_MS = 30000;
  var ANSWER_POLLS = 6;  // after the end, polls to wait for the answer another worker writes
  // Browsers open at most six connections to a host over HTTP/1.1; every open stream holds one.
  var MAX_STREAMS = 3;
  var ZERO_ID = "00000000-0000-0000-0000-000000000000";
  var openStreams = 0;

  function isTerminal(status) { return TERMINAL.indexOf(status) >= 0; }
  function withId(template, id) { return template.replace(ZERO_ID, id); }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // JSON API call; rejects with an Error carrying the API's {error: {code, message, fields}}.
  function api(method, path, body) {
    var headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path.charAt(0) === "/" ? path : API + path, {
      method: method, credentials: "same-origin", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        var problem = data.error || {};
        var error = new Error(problem.message || "The server answered " + response.status + ".");
        error.status = response.status;
        error.fields = problem.fields || {};
        throw error;
      });
    });
  }

  function page(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (response) {
      // A redirect here is to the login page (the session ended): never draw that in the page.
      if (!response.ok || response.redirected) throw new Error("HTTP " + response.status);
      return response.text();
    });
  }

  function fragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // Put `fresh` in the place of `old`, keeping the <details> the reader opened or closed as they were.
  function swap(old, fresh) {
    var open = {};
    old.querySelectorAll("details[data-key]").forEach(function (details) { open[details.dataset.key] = details.open; });
    fresh.querySelectorAll("details[data-key]").forEach(function (details) {
      if (details.dataset.key in open) details.open = open[details.dataset.key];
    });
    old.replaceWith(fresh);
    return fresh;
  }

  // `work` (returning a promise) run one at a time; calls while it runs make one more run after it.
  function coalesced(work) {
    var running = false;
    var again = false;
    function run() {
      if (running) { again = true; return; }
      running = true;
      work().catch(function () { /* the next change or poll draws it again */ }).then(function () {
        running = false;
        if (again) { again = false; run(); }
      });
    }
    return run;
  }

  // "4.95" → "4.95 BB", 0.0025 → "0.0025 BB": two decimals unless the amount needs more (as the pages do).
  function bb(amount) {
    var value = Number(amount);
    if (amount === null || amount === undefined || !isFinite(value)) return "—";
    var cents = value.toFixed(2);
    return (Number(cents) === value ? cents : String(amount)) + " BB";
  }

  // --- Following a task -----------------------------------------------------------------------

  // Follow task `id` until it is settled (over, and its answer written): onChange({task, steps,
  // answer}) for every new state, onSettled() at the end. Returns a function that stops following.
  function follow(id, onChange, onSettled) {
    var stopped = false;
    var source = null;
    var timer = null;
    var last = "";
    var failures = 0;
    var answerPolls = 0;

    function deliver(snapshot) {
      var key = JSON.stringify(snapshot);
      if (key === last) return;
      last = key;
      onChange(snapshot);
    }

    function closeStream() {
      if (!source) return;
      source.close();
      source = null;
      openStreams -= 1;
    }

    function stop() {
      stopped = true;
      closeStream();
      window.clearTimeout(timer);
    }

    function settle() {
      if (stopped) return;
      stop();
      if (onSettled) onSettled();
    }

    function stream() {
      openStreams += 1;
      source = new EventSource(API + "tasks/" + id + "/events");
      source.addEventListener("task", function (event) {
        failures = 0;
        deliver(JSON.parse(event.data));
      });
      source.addEventListener("end", function (event) {
        // Not settled: the stream reached its time limit, and EventSource reconnects by itself.
        if (JSON.parse(event.data).settled) settle();
      });
      source.onerror = function () {
        if (stopped || !source) return;
        failures += 1;
        // CLOSED: the server refused the stream (an error status, a proxy that buffers); it will
        // not reconnect. Repeated errors without an event in between: the stream does not get through.
        if (source.readyState === EventSource.CLOSED || failures >= 3) {
          closeStream();
          failures = 0;
          poll();
        }
      };
    }

    function poll() {
      if (stopped) return;
      var base = "tasks/" + id;
      Promise.all([api("GET", base), api("GET", base + "/steps")]).then(function (parts) {
        var task = parts[0];
        var ended = isTerminal(task.status);
        var answer = ended && task.source === "hubchat"
          ? api("GET", "messages?task=" + id).then(function (messages) {
            return messages.filter(function (message) { return message.role === "assistant"; })[0] || null;
          })
          : Promise.resolve(null);
        return answer.then(function (message) {
          if (stopped) return;
          failures = 0;
          deliver({ task: task, steps: parts[1], answer: message });
          if (ended && (task.source !== "hubchat" || message || (answerPolls += 1) > ANSWER_POLLS)) {
            settle();
            return;
          }
          timer = window.setTimeout(poll, document.hidden ? POLL_MS * 3 : POLL_MS);
        });
      }).catch(function () {
        if (stopped) return;
        failures += 1;
        timer = window.setTimeout(poll, Math.min(POLL_MS * Math.pow(2, failures), MAX_POLL_MS));
      });
    }

    if (window.EventSource && openStreams < MAX_STREAMS) stream();
    else poll();
    return stop;
  }

  // --- Confirm and cancel ------------------------------------------------------------------------

  // The forms of a quote card or task panel, through the API; `after(taskId)` redraws and follows.
  function bindTaskActions(root, after) {
    root.addEventListener("submit", function (event) {
      var form = event.target.closest("form[data-task-action]");
      if (!form) return;
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      var id = form.dataset.taskId;
      var confirming = form.dataset.taskAction === "confirm";
      var button = form.querySelector("button");
      var errorBox = form.parentNode.querySelector("[data-task-error]");
      button.disabled = true;
      button.dataset.label = button.dataset.label || button.textContent;
      button.textContent = confirming ? "Starting…" : "Cancelling…";
      if (errorBox) errorBox.hidden = true;
      var request = confirming ? api("POST", "tasks/" + id + "/confirm", {}) : api("DELETE", "tasks/" + id);
      request.then(function () { after(id); }, function (error) {
        button.disabled = false;
        button.textContent = button.dataset.label;
        if (errorBox) {
          errorBox.textContent = error.message;
          errorBox.hidden = false;
        }
      });
    });
  }

  // --- The wallet panel ------------------------------------------------------------------------

  // Every [data-wallet="available"] or [data-wallet="caps.autoApproveThreshold"] on the page, from GET /api/wallet.
  function refreshWallet() {
    var panel = document.querySelector("[data-testid=hubchat-wallet]");
    if (!panel) return;
    api("GET", panel.dataset.apiUrl).then(function (wallet) {
      document.querySelectorAll("[data-wallet]").forEach(function (figure) {
        var value = figure.dataset.wallet.split(".").reduce(function (found, key) {
          return found && typeof found === "object" ? found[key] : undefined;
        }, wallet);
        if (value !== undefined) figure.textContent = bb(value);
      });
    }).catch(function () { /* the figures stay as they were; a reload shows them */ });
  }

  // --- HubChat ------------------------------------------------------------------------------------

  function nearBottom() { return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160; }
  function toBottom() { window.scrollTo(0, document.documentElement.scrollHeight); }

  function setupChat(chat, form) {
    var followers = {};
    var textarea = form.querySelector("textarea[name=content]");
    var budget = form.querySelector("input[name=max_budget]");
    var button = form.querySelector("[data-send]");
    var formError = form.querySelector("[data-form-error]");

    function turnOf(id) { return document.getElementById("task-" + id); }

    function redraw(id) {
      var current = turnOf(id);
      if (!current) return Promise.resolve(null);
      return page(current.dataset.turnUrl).then(function (html) {
        var stick = nearBottom();
        var fresh = swap(turnOf(id) || current, fragment(html));
        if (stick) toBottom();
        return fresh;
      });
    }

    function watch(id) {
      if (followers[id]) followers[id]();
      var refresh = coalesced(function () { return redraw(id); });
      var ended = false;
      followers[id] = follow(id, function (snapshot) {
        refresh();
        if (!ended && isTerminal(snapshot.task.status)) {
          ended = true;
          refreshWallet();
        }
      }, function () {
        delete followers[id];
        refresh();
        refreshWallet();
      });
    }

    chat.querySelectorAll("[data-turn][data-moving=true]").forEach(function (turn) { watch(turn.dataset.taskId); });

    bindTaskActions(chat, function (id) {
      redraw(id).then(function (fresh) {
        if (fresh && fresh.dataset.moving === "true") watch(id);
        refreshWallet();
      }).catch(function () { watch(id); });
    });

    // --- Sending ---

    function showErrors(message, fields) {
      form.querySelectorAll("[data-error-for]").forEach(function (box) {
        var name = box.dataset.errorFor;
        var camel = name.replace(/_([a-z])/g, function (_, letter) { return letter.toUpperCase(); });
        var problems = fields[name] || fields[camel] || [];
        box.textContent = [].concat(problems).join(" ");
        box.hidden = !problems.length;
        box.closest(".field").classList.toggle("field--error", !!problems.length);
      });
      var placed = Object.keys(fields).some(function (name) {
        return /^(content|max_?[bB]udget)$/.test(name);
      });
      formError.textContent = placed ? "" : message || "";
      formError.hidden = placed || !message;
    }

    function pendingTurn(content) {
      var turn = document.createElement("div");
      turn.className = "chat-turn chat-turn--pending";
      turn.innerHTML = '<div class="chat-msg chat-msg--user"><div class="chat-msg__bubble"><div class="chat-msg__text"></div>' +
        '</div></div><article class="card task-card"><header class="task-card__head"><span class="task-card__who">' +
        '<span class="avatar avatar--sm" aria-hidden="true">H</span> HubChat</span></header><p class="task-card__note">' +
        '<span class="spinner" aria-hidden="true"></span> Planning…</p></article>';
      turn.querySelector(".chat-msg__text").textContent = content;  // the user's words, as text
      return turn;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var content = textarea.value.trim();
      if (!content) {
        showErrors("", { content: ["Say what you need."] });
        textarea.focus();
        return;
      }
      var body = { content: content };
      // Sent as a string: the API reads it as an exact decimal.
      if (budget && budget.value.trim()) body.maxBudget = budget.value.trim();
      showErrors("", {});
      button.disabled = true;
      button.textContent = "Sending…";
      var empty = chat.querySelector("[data-chat-empty]");
      if (empty) empty.hidden = true;
      var pending = pendingTurn(content);
      chat.appendChild(pending);
      toBottom();
      api("POST", form.dataset.apiUrl, body).then(function (sent) {
        textarea.value = "";
        return page(withId(form.dataset.turnUrl, sent.taskId)).then(function (html) {
          var fresh = fragment(html);
          pending.replaceWith(fresh);
          toBottom();
          if (fresh.dataset.moving === "true") watch(sent.taskId);
          refreshWallet();
        }, function () {
          // Sent, but its card could not be drawn here: the page draws it.
          window.location.assign(window.location.pathname + "#task-" + sent.taskId);
          window.location.reload();
        });
      }, function (error) {
        pending.remove();
        if (empty) empty.hidden = false;
        showErrors(error.status ? error.message : "HubChat could not be reached. Check your connection and try again.",
          error.fields || {});
      }).finally(function () {
        button.disabled = false;
        button.textContent = "Send";
      });
    });

    // Enter sends; Shift+Enter (or an input method composing a word) adds to the text.
    textarea.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit();
      else form.dispatchEvent(new Event("submit", { cancelable: true }));
    });

    document.querySelectorAll("[data-example]").forEach(function (example) {
      example.addEventListener("click", function () {
        textarea.value = example.dataset.example;
        textarea.focus();
      });
    });

    if (!window.location.hash) toBottom();
  }

  // --- A task's page --------------------------------------------------------------------------------

  function setupTaskPage(panel) {
    var id = panel.dataset.taskId;
    var stop = null;
    var refresh = coalesced(function () {
      return page(panel.dataset.panelUrl).then(function (html) { swap(panel.firstElementChild, fragment(html)); });
    });

    function watch() {
      if (stop) stop();
      stop = follow(id, refresh, function () { stop = null; refresh(); });
    }

    if (panel.dataset.moving === "true") watch();
    bindTaskActions(panel, function () { refresh(); watch(); });
  }

  // --- Start ----------------------------------------------------------------------------------------

  var chat = document.getElementById("conversation");
  var form = document.getElementById("hubchat-form");
  if (chat && form) setupChat(chat, form);
  var panel = document.querySelector("[data-task-panel]");
  if (panel) setupTaskPage(panel);
})();
