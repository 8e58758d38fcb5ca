// Shows the remaining file allowance and flags files the server would refuse,
// before anything is sent. The limits come from data attributes rendered from the
// server's one definition; the server checks everything again.
(function () {
  "use strict";

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, "") + " MB";
  }

  function setup(picker) {
    var input = picker.querySelector("input[type=file]");
    var allowance = picker.querySelector("[data-allowance]");
    var list = picker.querySelector("[data-picked]");
    var left = parseInt(picker.dataset.filesLeft, 10);
    var total = parseInt(picker.dataset.maxFiles, 10);
    var maxBytes = parseInt(picker.dataset.maxBytes, 10);
    if (!input || !allowance || !list) return;

    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      var remaining = left - files.length;
      list.textContent = "";
      files.forEach(function (file, index) {
        var item = document.createElement("li");
        var problem = "";
        if (file.size === 0) problem = "the file is empty (0 bytes)";
        else if (file.size > maxBytes) problem = "the file is " + formatSize(file.size) + "; the limit is " + formatSize(maxBytes) + " per file";
        else if (index >= left) problem = "over the limit of " + total + " files";
        item.textContent = file.name + " (" + formatSize(file.size) + ")" + (problem ? ": " + problem : "");
        if (problem) item.className = "problem";
        list.appendChild(item);
      });
      if (remaining >= 0) {
        allowance.textContent = remaining + " of " + total + " files left";
        allowance.classList.remove("problem");
      } else {
        allowance.textContent = "Too many files: " + files.length + " picked, only " + left + " can be added";
        allowance.classList.add("problem");
      }
    });
  }

  document.querySelectorAll("[data-file-picker]").forEach(setup);
})();
