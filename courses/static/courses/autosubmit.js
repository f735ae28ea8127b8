// Submits forms marked data-autosubmit on load (the LTI deep-linking return to the platform).
// A static file rather than an inline script: the Content-Security-Policy allows scripts from 'self' only.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) { form.submit(); });
});
