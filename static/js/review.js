// The review workspace: keyboard shortcuts (SPEC §7) and one request at a time.
//
// Every action goes through one queue. An action is bound to the item shown when its key
// was pressed, and runs only after the previous action's answer has been swapped in; it then
// reads the version from the panel that answer left. So "1" then "a" pressed at once
// classifies, then accepts with the version the classification returned. An action whose
// item is no longer shown (the reviewer pressed "a" twice) is dropped, never applied to an
// item the reviewer has not seen.
(function () {
  "use strict";

  var PANEL = "#item-panel";
  var CLASSES = { "1": "person", "2": "social", "3": "nation" };
  var UNSAFE_KEY = "vad-review-show-unsafe";
  var queue = Promise.resolve();
  var awaitingClass = null; // item id while "a" waits for a class
  // Counts refused requests (409, 400). Actions queued before a refusal came back are
  // dropped: the reviewer has to see why (a stale item, someone else's claim) first.
  var refusals = 0;

  function panel() {
    return document.querySelector(PANEL);
  }

  function shown() {
    return document.querySelector(PANEL + " > [data-mode]");
  }

  function request(verb, url, values) {
    return window.htmx.ajax(verb, url, { target: PANEL, swap: "innerHTML", values: values || {} });
  }

  // Queue `action(root)` for the item shown now (itemId null: whatever is shown then).
  function enqueue(itemId, action) {
    var seen = refusals;
    queue = queue
      .then(function () {
        if (refusals !== seen) return undefined;
        var root = shown();
        if (itemId !== null && (!root || root.dataset.itemId !== itemId)) {
          return undefined;
        }
        return action(root);
      })
      .catch(function (error) {
        window.console.error(error);
      });
    return queue;
  }

  function itemUrl(root, action) {
    return root.dataset.itemUrl + action;
  }

  function decide(root, action, values) {
    var body = Object.assign({ version: root.dataset.version }, values || {});
    return request("POST", itemUrl(root, action), body);
  }

  function classify(root, value) {
    return decide(root, "classify/", { categorization: value });
  }

  function accept(root) {
    if (!root.dataset.categorization) {
      awaitingClass = root.dataset.itemId;
      toggle("#class-prompt", true);
      return undefined;
    }
    return decide(root, "accept/");
  }

  function toggle(selector, visible) {
    var element = document.querySelector(PANEL + " " + selector);
    if (element) {
      element.hidden = !visible;
    }
    return element;
  }

  function openReject() {
    var box = toggle("#reject-panel", true);
    if (box) {
      box.querySelector("[data-reject-list]").focus();
    }
  }

  function rejectOpen() {
    var box = document.querySelector(PANEL + " #reject-panel");
    return box && !box.hidden;
  }

  function closeOverlays() {
    awaitingClass = null;
    toggle("#class-prompt", false);
    toggle("#reject-panel", false);
  }

  function currentId() {
    var root = shown();
    return root && root.dataset.itemId ? root.dataset.itemId : null;
  }

  // Actions by name, for keys and buttons alike.
  var actions = {
    classify: function (value) {
      var id = currentId();
      if (!id) return;
      if (awaitingClass === id) {
        closeOverlays();
        enqueue(id, function (root) {
          return decide(root, "accept/", { categorization: value });
        });
        return;
      }
      enqueue(id, function (root) {
        return classify(root, value);
      });
    },
    accept: function () {
      var id = currentId();
      if (id) enqueue(id, accept);
    },
    reject: function (reason) {
      var id = currentId();
      if (!id) return;
      if (reason === undefined) {
        enqueue(id, openReject);
        return;
      }
      closeOverlays();
      enqueue(id, function (root) {
        return decide(root, "reject/", { reason: reason });
      });
    },
    skip: function () {
      var id = currentId();
      if (id) {
        enqueue(id, function (root) {
          return decide(root, "skip/");
        });
      }
    },
    edit: function () {
      var id = currentId();
      if (!id) return;
      enqueue(id, function (root) {
        if (root.dataset.mode !== "item") return undefined;
        return request("GET", itemUrl(root, "edit/")).then(function () {
          var first = document.querySelector(PANEL + " textarea");
          if (first) first.focus();
        });
      });
    },
    undo: function () {
      closeOverlays();
      enqueue(null, function () {
        return request("POST", panel().dataset.undoUrl);
      });
    },
    help: function () {
      var dialog = document.getElementById("help-dialog");
      if (dialog && !dialog.open) dialog.showModal();
    },
    // In the editor: show the differences first, save once they are shown and unchanged.
    saveEdit: function () {
      var form = document.querySelector(PANEL + " form[data-edit-form]");
      if (!form) return;
      var id = currentId();
      var step = form.dataset.previewed === "1" ? "save" : "preview";
      enqueue(id, function () {
        var values = formValues(form);
        var url = step === "save" ? form.dataset.saveUrl : form.dataset.previewUrl;
        return request("POST", url, values).then(focusEditor);
      });
    },
    cancelEdit: function () {
      var root = shown();
      if (!root || !root.dataset.itemUrl) return;
      enqueue(root.dataset.itemId, function (current) {
        return request("GET", current.dataset.itemUrl);
      });
    },
  };

  function formValues(form) {
    var values = {};
    new window.FormData(form).forEach(function (value, key) {
      values[key] = value;
    });
    return values;
  }

  function focusEditor() {
    var save = document.querySelector(PANEL + " [data-action=saveEdit][data-step=save]");
    if (save && !save.hidden) save.focus();
  }

  function typing(target) {
    return Boolean(
      target.closest && target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]")
    );
  }

  document.addEventListener("keydown", function (event) {
    if (event.isComposing || event.keyCode === 229) return; // an IME is composing
    var inEditor = event.target.closest && event.target.closest("form[data-edit-form]");
    var editing = document.querySelector(PANEL + " form[data-edit-form]");
    if (editing && (event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      actions.saveEdit();
      return;
    }
    if (editing && event.key === "Escape") {
      event.preventDefault();
      actions.cancelEdit();
      return;
    }
    if (inEditor || editing) return;
    if (event.key === "Escape") {
      closeOverlays();
      return;
    }
    if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (document.querySelector("dialog[open]")) return;

    if (rejectOpen()) {
      var picked = document.querySelector(
        PANEL + ' #reject-panel [data-reason-key="' + event.key + '"]'
      );
      if (picked) {
        event.preventDefault();
        actions.reject(picked.dataset.reason);
      }
      return;
    }
    var handled = true;
    if (CLASSES[event.key]) actions.classify(CLASSES[event.key]);
    else if (event.key === "a") actions.accept();
    else if (event.key === "r") actions.reject();
    else if (event.key === "s") actions.skip();
    else if (event.key === "e") actions.edit();
    else if (event.key === "u") actions.undo();
    else if (event.key === "?") actions.help();
    else handled = false;
    if (handled) event.preventDefault();
  });

  // Buttons say what they do with data-action (and data-value); the same queue runs them.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-action]");
    if (!button || !panel()) return;
    event.preventDefault();
    var name = button.dataset.action;
    if (name === "close") {
      closeOverlays();
      var dialog = button.closest("dialog");
      if (dialog) dialog.close();
      return;
    }
    if (name === "rejectTyped") {
      var input = document.querySelector(PANEL + " #reject-reason");
      if (input && input.value.trim()) actions.reject(input.value.trim());
      return;
    }
    if (name === "keepTheirs") {
      actions.cancelEdit();
      return;
    }
    if (actions[name]) actions[name](button.dataset.value);
  });

  // The typed reject reason: Enter sends it, Escape closes the list.
  document.addEventListener("keydown", function (event) {
    if (event.target.id !== "reject-reason" || event.isComposing || event.keyCode === 229) return;
    if (event.key === "Enter" && event.target.value.trim()) {
      event.preventDefault();
      actions.reject(event.target.value.trim());
    } else if (event.key === "Escape") {
      closeOverlays();
    }
  });

  // A text changed after its diff was shown: show the diff again before saving.
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form[data-edit-form]");
    if (form && form.dataset.previewed === "1") {
      form.dataset.previewed = "0";
      var diff = document.querySelector(PANEL + " #edit-diff");
      if (diff) diff.hidden = true;
      toggle("[data-action=saveEdit][data-step=save]", false);
      toggle("[data-action=saveEdit][data-step=preview]", true);
    }
  });

  // The harmful English originals stay collapsed until opened; once opened (or closed
  // again) that choice holds for the rest of the browser session.
  document.addEventListener(
    "toggle",
    function (event) {
      if (event.target.matches && event.target.matches("details[data-unsafe]") && event.isTrusted) {
        window.sessionStorage.setItem(UNSAFE_KEY, event.target.open ? "1" : "0");
      }
    },
    true
  );

  function applyUnsafePreference(root) {
    if (window.sessionStorage.getItem(UNSAFE_KEY) !== "1") return;
    root.querySelectorAll("details[data-unsafe]").forEach(function (details) {
      details.open = true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    applyUnsafePreference(document);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 400) refusals += 1;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    awaitingClass = null;
    applyUnsafePreference(event.detail.target || document);
  });
})();
