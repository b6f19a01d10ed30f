/*
 * Support queue: keeps the live (htmx-polled) parts of the queue and the therapist's
 * conversation honest.
 *
 *   (a) a poll that lands on the log-in page (session ended) reloads the whole page
 *       instead of swapping the log-in form into the table;
 *   (b) a failed poll says so in the region's [data-live-status], so nobody trusts a
 *       stale queue; the next successful poll replaces the warning;
 *   (c) keyboard focus inside the region survives a swap (same form or link refocused);
 *   (d) a poll answered 204 (nothing it shows has changed, so the server sent nothing and
 *       htmx swaps nothing) still proves the page is live: the region's "Updated" time
 *       moves to now, in the user's time zone, and a warning left by a failed poll goes.
 */
(function () {
  "use strict";

  function liveRegion(event) {
    var target = event.detail && event.detail.elt;
    return target instanceof Element && target.hasAttribute("data-live") ? target : null;
  }

  function focusKey(element) {
    if (!(element instanceof Element)) {
      return null;
    }
    var form = element.closest("form");
    if (form) {
      return { selector: "form", attr: "action", value: form.getAttribute("action") };
    }
    if (element.hasAttribute("href")) {
      return { selector: "a", attr: "href", value: element.getAttribute("href") };
    }
    return null;
  }

  var pendingFocus = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var region = liveRegion(event);
    if (!region) {
      return;
    }
    var xhr = event.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/login") !== -1) {
      event.detail.shouldSwap = false;
      window.location.reload();
      return;
    }
    var active = document.activeElement;
    pendingFocus = active && region.contains(active) ? focusKey(active) : null;
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!pendingFocus) {
      return;
    }
    var key = pendingFocus;
    pendingFocus = null;
    var candidates = document.querySelectorAll("[data-live] " + key.selector);
    for (var i = 0; i < candidates.length; i += 1) {
      if (candidates[i].getAttribute(key.attr) === key.value) {
        var focusable = key.selector === "form" ? candidates[i].querySelector("button") : candidates[i];
        if (focusable) {
          focusable.focus();
        }
        return;
      }
    }
  });

  function markStale(event) {
    var region = liveRegion(event);
    if (!region) {
      return;
    }
    var status = region.querySelector("[data-live-status]");
    if (status) {
      status.textContent = "Not updating: the connection to the server was lost. Reload the page.";
      status.classList.add("support-stale");
      status.setAttribute("role", "alert");
    }
  }

  function clockNow(zone) {
    var options = { hour: "numeric", minute: "2-digit", second: "2-digit", timeZoneName: "short" };
    try {
      return new Date().toLocaleTimeString("en-US", Object.assign({ timeZone: zone }, options));
    } catch (error) {
      return new Date().toLocaleTimeString("en-US", options); // an unknown zone: the browser's
    }
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    var region = liveRegion(event);
    var xhr = event.detail.xhr;
    if (!region || !xhr || xhr.status !== 204) {
      return;
    }
    var status = region.querySelector("[data-live-status]");
    if (status) {
      status.textContent = "Updated " + clockNow(status.getAttribute("data-zone") || "UTC");
      status.classList.remove("support-stale");
      status.removeAttribute("role");
    }
  });

  document.addEventListener("htmx:responseError", markStale);
  document.addEventListener("htmx:sendError", markStale);
  document.addEventListener("htmx:timeout", markStale);
})();
