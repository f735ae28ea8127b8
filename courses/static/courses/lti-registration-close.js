// LTI Dynamic Registration 1.0, section 3.7: once registered, the tool tells the platform to close the
// registration window. A static file rather than an inline script: the Content-Security-Policy allows
// scripts from 'self' only. The platform opened us in a frame (window.parent) or a new window (opener).
"use strict";
(function () {
  function close() {
    var target = window.opener || (window.parent !== window ? window.parent : null);
    if (target) { target.postMessage({subject: "org.imsglobal.lti.close"}, "*"); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("lti-close");
    if (button) { button.addEventListener("click", close); }
    close();
  });
})();
