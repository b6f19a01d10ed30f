/*
 * Partner LMS — the card payment page (templates/payments/pay.html).
 *
 * Loaded after Stripe.js (STRIPE_JS_URL). Reads its settings from data- attributes
 * on form[data-payment-form]; no inline script (CSP).
 *
 *   1. mounts Stripe's card element;
 *   2. on submit, turns the card into a Stripe token (card data goes to Stripe only);
 *   3. sends the token to our server, which confirms the PaymentIntent;
 *   4. if the card needs authentication (3-D Secure), stripe.confirmCardPayment()
 *      completes it; a declined card shows Stripe's reason and the form stays usable;
 *   5. goes to the return page, which waits for Stripe's signed confirmation.
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-payment-form]");
  if (!form) {
    return;
  }
  var errorBox = document.getElementById("payment-error");
  var progress = document.getElementById("payment-progress");
  var button = document.getElementById("pay-button");

  function showError(message) {
    errorBox.textContent = message || "The payment did not go through. Try again.";
    errorBox.hidden = false;
    progress.textContent = "";
    button.disabled = false;
    errorBox.focus();
  }

  if (typeof window.Stripe !== "function") {
    showError("The payment form could not load. Check your connection and reload the page.");
    button.disabled = true;
    return;
  }

  var stripe = window.Stripe(form.getAttribute("data-publishable-key"));
  var card = stripe.elements().create("card");
  card.mount("#card-element");

  function goToReturnPage() {
    window.location.assign(form.getAttribute("data-return-url"));
  }

  function sendToken(tokenId) {
    return fetch(form.getAttribute("data-card-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": form.getAttribute("data-csrf-token"),
      },
      body: JSON.stringify({ token: tokenId }),
    }).then(function (response) {
      return response.json().catch(function () {
        return { error: "The server did not answer as expected. Try again." };
      });
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
    progress.textContent = "Processing your payment…";
    stripe
      .createToken(card)
      .then(function (result) {
        if (!result || result.error || !result.token) {
          throw (result && result.error) || {};
        }
        return sendToken(result.token.id);
      })
      .then(function (answer) {
        if (answer.error) {
          throw { message: answer.error };
        }
        if (answer.status === "requires_action") {
          return stripe.confirmCardPayment(answer.client_secret).then(function (result) {
            if (result && result.error) {
              throw result.error;
            }
            goToReturnPage();
          });
        }
        goToReturnPage();
      })
      .catch(function (error) {
        showError(error && error.message);
      });
  });
})();
