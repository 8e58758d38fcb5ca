// Shows the remaining file allowance and flags files the server would refuse,
// before anything is sent. The limits come from data attributes rendered from the
// server's one definition; the server checks everything again. The words come from
// data attributes too, in the page's language (English when they are missing).
// A picker with data-upload-url is handled by uploads.js, which reuses the helpers
// exported here as window.MedtourFiles (files.js loads first).
(function () {
  "use strict";

  var lang = document.documentElement.lang || "en";
  var english = lang === "en";

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  }

  function words(picker) {
    var data = picker.dataset;
    var bytes = null;
    try { bytes = data.textBytes ? JSON.parse(data.textBytes) : null; } catch (e) { bytes = null; }
    return {
      left: data.textLeft || "{left} of {max} files left",
      tooMany: data.textTooMany || "Too many files: {picked} picked, only {left} can be added",
      empty: data.textEmpty || "the file is empty (0 bytes)",
      tooLarge: data.textTooLarge || "the file is {size}; the limit is {limit} per file",
      over: data.textOver || "over the limit of {max} files",
      kb: data.textKb || "{size} KB",
      mb: data.textMb || "{size} MB",
      bytes: bytes
    };
  }

  // "585 bytes" in the page's plural form: the sample count of the same plural category.
  function byteCount(bytes, text) {
    if (english || !text.bytes || !window.Intl || !Intl.PluralRules) return bytes + " bytes";
    var rules = new Intl.PluralRules(lang);
    var category = rules.select(bytes);
    var samples = Object.keys(text.bytes);
    for (var i = 0; i < samples.length; i++) {
      if (rules.select(Number(samples[i])) === category) return fill(text.bytes[samples[i]], { count: bytes });
    }
    return fill(text.bytes[samples[samples.length - 1]], { count: bytes });
  }

  function number(value, fractionDigits) {
    if (english) return fractionDigits ? value.toFixed(fractionDigits).replace(/\.0$/, "") : String(value);
    return value.toLocaleString(lang, { maximumFractionDigits: fractionDigits });
  }

  function formatSize(bytes, text) {
    if (bytes < 1024) return byteCount(bytes, text);
    if (bytes < 1024 * 1024) return fill(text.kb, { size: number(Math.round(bytes / 1024), 0) });
    return fill(text.mb, { size: number(bytes / (1024 * 1024), 1) });
  }

  function setup(picker) {
    var input = picker.querySelector("input[type=file]");
    var allowance = picker.querySelector("[data-allowance]");
    var list = picker.querySelector("[data-picked]");
    var left = parseInt(picker.dataset.filesLeft, 10);
    var total = parseInt(picker.dataset.maxFiles, 10);
    var maxBytes = parseInt(picker.dataset.maxBytes, 10);
    var text = words(picker);
    if (!input || !allowance || !list) return;

    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      var remaining = left - files.length;
      list.textContent = "";
      files.forEach(function (file, index) {
        var item = document.createElement("li");
        var problem = "";
        if (file.size === 0) problem = text.empty;
        else if (file.size > maxBytes) problem = fill(text.tooLarge, { size: formatSize(file.size, text), limit: formatSize(maxBytes, text) });
        else if (index >= left) problem = fill(text.over, { max: total });
        item.textContent = file.name + " (" + formatSize(file.size, text) + ")" + (problem ? ": " + problem : "");
        if (problem) item.className = "problem";
        list.appendChild(item);
      });
      if (remaining >= 0) {
        allowance.textContent = fill(text.left, { left: remaining, max: total });
        allowance.classList.remove("problem");
      } else {
        allowance.textContent = fill(text.tooMany, { picked: files.length, left: left });
        allowance.classList.add("problem");
      }
    });
  }

  window.MedtourFiles = { fill: fill, words: words, formatSize: formatSize };

  document.querySelectorAll("[data-file-picker]:not([data-upload-url])").forEach(setup);
})();
