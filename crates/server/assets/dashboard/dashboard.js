// The dashboard's one enhancement script (pages work without it; served by the
// server itself, as the Content-Security-Policy allows only same-origin scripts).
//
// Back and forward keep every view's form equal to its address: a page the
// browser restores from its back/forward cache (or whose fields it refills)
// would otherwise show what was typed last instead of the filters of the URL
// it shows. The fields' default values are the URL's (the server renders
// them), so resetting the forms restores exactly those.
(function () {
  "use strict";
  window.addEventListener("pageshow", function () {
    var forms = document.querySelectorAll("form[method='get']");
    for (var i = 0; i < forms.length; i++) forms[i].reset();
  });
})();
