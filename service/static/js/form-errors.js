// The request form after the server refused it (422): the focus goes to the error
// summary, so a keyboard or screen-reader user hears what to fix first; and a field's
// error (its message, aria-invalid, its line in the summary) goes away as soon as the
// patient has changed the refused value into one the browser finds valid (the server
// checks everything again when the form is sent).
(function () {
  "use strict";

  var summary = document.getElementById("error-summary");
  if (!summary) return;

  function valueOf(control) {
    if (control.type === "checkbox" || control.type === "radio") return control.checked ? "on" : "";
    if (control.type === "file") return String(control.files ? control.files.length : 0);
    return control.value;
  }

  function summaryLinks(id) {
    return Array.prototype.slice.call(summary.querySelectorAll("a[href]")).filter(function (link) {
      return link.getAttribute("href") === "#" + id;
    });
  }

  function clear(control, errors) {
    var id = control.id;
    var holder = errors.closest(".has-error");
    errors.remove();
    if (holder) holder.classList.remove("has-error");
    control.setAttribute("aria-invalid", "false");
    var described = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (ref) {
      return ref && ref !== id + "-error";
    });
    if (described.length) control.setAttribute("aria-describedby", described.join(" "));
    else control.removeAttribute("aria-describedby");
    summaryLinks(id).forEach(function (link) { link.closest("li").remove(); });
    if (!summary.querySelector("li")) summary.hidden = true;
  }

  Array.prototype.slice.call(document.querySelectorAll("ul.field-errors[id$='-error']")).forEach(function (errors) {
    var id = errors.id.slice(0, -"-error".length);
    var control = document.getElementById(id);
    if (!control || !/^(INPUT|SELECT|TEXTAREA)$/.test(control.tagName)) return;
    var refused = valueOf(control);
    function check() {
      if (!errors.isConnected) return;
      if (valueOf(control) !== refused && control.checkValidity()) clear(control, errors);
    }
    control.addEventListener("input", check);
    control.addEventListener("change", check);
  });

  summary.focus();
})();
