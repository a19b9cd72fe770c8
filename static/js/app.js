// Behaviour every page shares. No inline handlers anywhere: the pages run under a
// Content-Security-Policy without 'unsafe-inline'.
(function () {
  "use strict";

  // Selects marked data-autosubmit (the language menu) submit their form on change.
  document.addEventListener("change", function (event) {
    var select = event.target.closest && event.target.closest("select[data-autosubmit]");
    if (select && select.form) {
      select.form.submit();
    }
  });

  if (window.htmx) {
    // Settling copies listed attributes from the old element to the new one; a copied
    // style attribute is an inline style, which the Content-Security-Policy refuses.
    window.htmx.config.attributesToSettle = ["class", "width", "height"];
    // Fragments that say why something was refused (400, 409) still replace their target:
    // a conflict or a stale decision is something to show, not a failed request.
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "(400|409)", swap: true, error: false },
      { code: "[45]..", swap: false, error: true },
    ];
  }
})();
