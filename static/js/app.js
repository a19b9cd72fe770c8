// Behaviour of every page, loaded as a file: the Content-Security-Policy allows no inline
// script, so nothing is written into onchange=... attributes or <script> blocks.
"use strict";

document.addEventListener("change", (event) => {
  // A <select data-autosubmit> (the language menu) submits its form when changed.
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.hasAttribute("data-autosubmit")) {
    field.form.submit();
  }
});
