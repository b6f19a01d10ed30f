/*
 * Partner LMS — page behaviour. Vanilla JS, no dependencies, loaded with `defer`.
 * The CSP allows scripts from 'self' only: no inline handlers anywhere.
 *
 *   (a) [data-nav-toggle]           opens/closes the small-screen menu
 *   (b) select[data-detect-timezone] preselects the browser's time zone on a fresh form
 *   (c) form[data-confirm]          asks for confirmation before submitting
 *   (d) [data-autofocus]            focuses the form error summary on load
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

  function init(root) {
    detectTimezones(root);
    focusSummary(root);
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
})();
