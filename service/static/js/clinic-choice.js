// The request form's preferred-clinic list narrowed to the clinics that offer the
// treatment picked (each option lists its treatments' slugs in data-treatments). The
// server renders the list already narrowed for the treatment it knows; without this
// script the list stays as rendered and the server refuses a mismatch in words.
(function () {
  "use strict";
  var treatment = document.getElementById("treatment");
  var clinic = document.getElementById("preferred_clinic");
  if (!treatment || !clinic) {
    return;
  }

  function offers(option, slug) {
    return (option.getAttribute("data-treatments") || "").split(" ").indexOf(slug) !== -1;
  }

  // On load (a reload may restore another treatment than the server rendered for) the
  // clinic already picked stays listed, as the server keeps it beside its error.
  function narrow(keepPicked) {
    var slug = treatment.value;
    Array.prototype.forEach.call(clinic.options, function (option) {
      if (!option.value) {
        return;
      }
      var shown = !slug || offers(option, slug) || (keepPicked === true && option.selected);
      option.hidden = !shown;
      option.disabled = !shown;
    });
    var picked = clinic.options[clinic.selectedIndex];
    if (picked && picked.disabled) {
      clinic.value = "";
    }
  }

  treatment.addEventListener("change", narrow);
  narrow(true);
})();
