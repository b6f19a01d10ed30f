/*
 * Partner LMS — page behaviour. Vanilla JS, no dependencies, loaded with `defer`.
 * The CSP allows scripts from 'self' only: no inline handlers anywhere.
 *
 *   (a) [data-nav-toggle]           opens/closes the small-screen menu
 *   (b) select[data-detect-timezone] preselects the browser's time zone on a fresh form
 *   (c) form[data-confirm]          asks for confirmation before submitting
 *   (d) [data-autofocus]            focuses the form error summary on load
 *   (e) [data-session-warning]      warns before the idle log-out; "Stay logged in" pings
 *   (f) form[data-fold-on-phone]    on a phone, folds a long filter form's fields (all but
 *                                   its search box) behind "More filters" while none is set
 *
 * Works alongside htmx: click/submit handling is delegated from the document, and
 * content swapped in by htmx is initialised on its `htmx:load` event.
 */
(function () {
  "use strict";

  var DEFAULT_ZONE = "America/New_York";

  /* (a) Navigation toggle. The header's .nav-open class and the button's
     aria-expanded always change together; the CSS keys on .nav-open. */
  function setNavOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    var header = button.closest(".site-header");
    if (header) {
      header.classList.toggle("nav-open", open);
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    var button = target.closest("[data-nav-toggle]");
    if (!button) {
      return;
    }
    setNavOpen(button, button.getAttribute("aria-expanded") !== "true");
  });

  /* (c) Confirmation before submit. Listening in the capture phase on the document
     runs before any handler on the form itself (htmx included), so a declined
     confirmation stops the submission everywhere. */
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) {
        return;
      }
      var question = form.getAttribute("data-confirm") || "Are you sure?";
      if (!window.confirm(question)) {
        event.preventDefault();
        event.stopPropagation();
      }
    },
    true
  );

  /* (b) Time zone detection, only on a form that has not been submitted yet. */
  function browserZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  /* Elements matching selector in root, root itself included. */
  function within(root, selector) {
    var found = Array.prototype.slice.call(root.querySelectorAll(selector));
    if (root instanceof Element && root.matches(selector)) {
      found.unshift(root);
    }
    return found;
  }

  /* A form the server rendered with values already in it (e.g. the profile form,
     whose New York zone is the user's saved choice) is not a fresh form: leave it. */
  function isPrefilled(form) {
    if (!form) {
      return false;
    }
    return Array.prototype.some.call(form.elements, function (el) {
      var type = (el.getAttribute("type") || "text").toLowerCase();
      return (
        el.tagName === "INPUT" &&
        (type === "text" || type === "email" || type === "tel" || type === "url" || type === "search") &&
        el.defaultValue.trim() !== ""
      );
    });
  }

  function detectTimezones(root) {
    var selects = within(root, "select[data-detect-timezone]");
    if (!selects.length || document.querySelector(".alert-error")) {
      return;
    }
    var zone = browserZone();
    if (!zone || zone === DEFAULT_ZONE) {
      return;
    }
    selects.forEach(function (select) {
      var flag = select.getAttribute("data-detect-timezone");
      if (flag === "0" || flag === "false" || select.value !== DEFAULT_ZONE || isPrefilled(select.form)) {
        return;
      }
      var match = Array.prototype.some.call(select.options, function (option) {
        return option.value === zone;
      });
      if (match) {
        select.value = zone;
      }
    });
  }

  /* (d) Focus the error summary so screen readers announce it. */
  function focusSummary(root) {
    var summary = within(root, "[data-autofocus]")[0];
    if (summary && typeof summary.focus === "function") {
      summary.focus();
    }
  }

  /* (f) A long filter form on a phone. The list is what the person came for: below 560 px
     the form shows its search box and buttons, and folds its other fields behind a "More
     filters" button (a disclosure: aria-expanded) while none of them is set in the page's
     address or shows an error. The CSS folds only on a narrow screen, so turning the phone
     or widening the window shows every field; without JavaScript nothing folds. */
  function isSet(field, query) {
    return Array.prototype.some.call(field.querySelectorAll("input, select, textarea"), function (input) {
      return input.name && (query.get(input.name) || "").trim() !== "";
    });
  }

  function foldFilters(root) {
    var query = new URLSearchParams(window.location.search);
    within(root, "form[data-fold-on-phone]").forEach(function (form) {
      var actions = form.querySelector(":scope > .actions");
      if (!actions || form.querySelector(".filters-more")) {
        return;
      }
      var folded = Array.prototype.filter.call(form.children, function (child) {
        return child.classList.contains("field") && !child.classList.contains("grow");
      });
      if (!folded.length) {
        return;
      }
      var open = folded.some(function (field) {
        return field.classList.contains("field-invalid") || isSet(field, query);
      });
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button button-secondary filters-more";
      button.textContent = "More filters";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      actions.insertBefore(button, actions.firstChild);
      form.classList.toggle("filters-folded", !open);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest(".filters-more") : null;
    if (!button || !button.form) {
      return;
    }
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.form.classList.toggle("filters-folded", !open);
  });

  function init(root) {
    detectTimezones(root);
    focusSummary(root);
    foldFilters(root);
  }

  var initialised = false;

  function initPage() {
    if (initialised) {
      return;
    }
    initialised = true;
    init(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initPage);
  } else {
    initPage();
  }

  /* Content swapped in by htmx (htmx also fires htmx:load for <body> at start-up,
     which initPage has already handled). */
  document.addEventListener("htmx:load", function (event) {
    var root = event.target;
    if (!(root instanceof Element) || root === document.body || root === document.documentElement) {
      return;
    }
    init(root);
  });

  /* (e) Idle warning. The server ends a session after SESSION_IDLE_MINUTES without a
     request; this counts the same time from the page load (and from each htmx request the
     person made), shows the warning near the end, and keeps the session open on request. */
  function initSessionWarning() {
    var box = document.querySelector("[data-session-warning]");
    if (!box || !window.fetch) {
      return;
    }
    var idle = parseInt(box.getAttribute("data-idle-seconds"), 10) || 1800;
    var warn = parseInt(box.getAttribute("data-warn-seconds"), 10) || 120;
    var countdown = box.querySelector("[data-session-countdown]");
    var deadline = Date.now() + idle * 1000;

    function restart() {
      deadline = Date.now() + idle * 1000;
      box.hidden = true;
    }

    function tick() {
      var left = Math.round((deadline - Date.now()) / 1000);
      if (left <= 0) {
        window.location.assign(
          box.getAttribute("data-login-url") + "?next=" + encodeURIComponent(window.location.pathname)
        );
        return;
      }
      if (left <= warn) {
        if (box.hidden) {
          box.hidden = false;
          var stay = box.querySelector("[data-session-stay]");
          if (stay) {
            stay.focus();
          }
        }
        var minutes = Math.floor(left / 60);
        var seconds = left % 60;
        countdown.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
      }
      window.setTimeout(tick, 1000);
    }

    box.addEventListener("click", function (event) {
      if (!(event.target instanceof Element) || !event.target.closest("[data-session-stay]")) {
        return;
      }
      window
        .fetch(box.getAttribute("data-keepalive-url"), {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRFToken": box.getAttribute("data-csrf-token"), Accept: "application/json" },
        })
        .then(function (response) {
          if (response.ok) {
            restart();
          } else {
            window.location.assign(box.getAttribute("data-login-url"));
          }
        });
    });

    document.addEventListener("htmx:afterRequest", function (event) {
      var headers = (event.detail && event.detail.requestConfig && event.detail.requestConfig.headers) || {};
      if (!headers["X-LMS-Background"]) {
        restart();
      }
    });
    window.setTimeout(tick, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initSessionWarning);
  } else {
    initSessionWarning();
  }
})();
