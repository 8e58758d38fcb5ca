// Resumable uploads for a file picker with data-upload-url (the request form).
// Each picked file is checked against the limits the template renders from the server's
// one definition (service/limits.py), then sent at once with the tus 1.0.0 protocol in
// chunks: one row per file with its size, state and progress, an overall bar, a remove
// and a retry button, and an aria-live region that announces the steps. A dropped
// connection pauses and resumes from the offset the server reports, never from zero
// unless the server has lost the upload. The form then posts only the ids of finished
// uploads (hidden `upload_ids`); the input's own files are never posted again.
// Without JavaScript (or without this script) the form stays a plain multipart form.
// Every word comes from data attributes, in the page's language (English fallbacks).
(function () {
  "use strict";

  var shared = window.MedtourFiles;
  if (!shared || !window.XMLHttpRequest || !window.Blob || !Blob.prototype.slice || !window.TextEncoder) return;
  var fill = shared.fill;

  var CHUNK_BYTES = 1024 * 1024;
  var PARALLEL = 1;          // one file at a time: the others wait (bandwidth is shared anyway)
  var MAX_ATTEMPTS = 6;          // network errors in a row before a file is marked failed
  var STALL_MS = 45000;          // a chunk that makes no progress for this long is retried
  var REQUEST_MS = 30000;        // POST, HEAD, DELETE
  var BUSY = { waiting: 1, uploading: 1, paused: 1, retrying: 1 };

  function base64(text) {
    var bytes = new TextEncoder().encode(text);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return window.btoa(binary);
  }

  function rules(accept) {
    var out = { extensions: [], types: [], families: [] };
    (accept || "").split(",").forEach(function (item) {
      item = item.trim().toLowerCase();
      if (!item) return;
      if (item.charAt(0) === ".") out.extensions.push(item);
      else if (/\/\*$/.test(item)) out.families.push(item.slice(0, -1));
      else out.types.push(item);
    });
    return out;
  }

  // By name, or by the browser's type when the name has no extension; the server reads the bytes.
  function typeAccepted(file, accept) {
    var name = file.name.toLowerCase();
    var dot = name.lastIndexOf(".");
    var type = (file.type || "").toLowerCase();
    if (!accept.extensions.length && !accept.types.length) return true;
    if (dot > 0 && accept.extensions.indexOf(name.slice(dot)) !== -1) return true;
    if (type && accept.types.indexOf(type) !== -1) return true;
    if (dot <= 0 && type) {
      return accept.families.some(function (family) { return type.indexOf(family) === 0; });
    }
    return false;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setup(picker) {
    var form = picker.closest("form");
    var input = picker.querySelector("input[type=file]");
    var allowance = picker.querySelector("[data-allowance]");
    var list = picker.querySelector("[data-picked]");
    if (!form || !input || !allowance || !list) return;

    var data = picker.dataset;
    var text = shared.words(picker);
    function word(key, fallback) { return data[key] || fallback; }
    var t = {
      type: word("textType", "this type is not accepted"),
      waiting: word("textWaiting", "Waiting"),
      uploading: word("textUploading", "Uploading: {percent}%"),
      done: word("textDone", "Uploaded"),
      failed: word("textFailed", "Failed: {reason}"),
      paused: word("textPaused", "Paused: no connection. The upload continues when you are back online."),
      retrying: word("textRetrying", "Connection interrupted; trying again…"),
      lost: word("textLost", "the connection was lost; try again"),
      server: word("textServer", "the server could not take the file (error {status})"),
      retry: word("textRetry", "Retry"),
      retryLabel: word("textRetryLabel", "Retry {name}"),
      remove: word("textRemove", "Remove"),
      removeLabel: word("textRemoveLabel", "Remove {name}"),
      removed: word("textRemoved", "{name} removed"),
      progressLabel: word("textProgressLabel", "Upload of {name}"),
      overall: word("textOverall", "Files uploaded: {done} of {total}"),
      overallLabel: word("textOverallLabel", "All files"),
      inFlight: word("textInFlight", "Still uploading: {count}. Your request is sent as soon as they finish."),
      blocked: word("textBlocked", "A file could not be uploaded: retry it or remove it, then send your request."),
      duplicate: word("textDuplicate", "the same file as {name} (identical contents); it is not sent twice")
    };
    var endpoint = data.uploadUrl;
    var filesLeft = parseInt(data.filesLeft, 10);
    var maxFiles = parseInt(data.maxFiles, 10);
    var maxBytes = parseInt(data.maxBytes, 10);
    var chunkBytes = parseInt(data.chunkBytes, 10) || CHUNK_BYTES;
    var accept = rules(data.accept);
    var csrfInput = form.querySelector("input[name=csrf_token]");
    var uploads = [];
    var pendingSubmit = false;
    var submitting = false;
    var hashing = 0;           // batches of picked files whose SHA-256 is being computed

    function size(bytes) { return shared.formatSize(bytes, text); }

    // The widget's own parts.
    list.classList.add("uploads");
    var ids = element("div");
    ids.hidden = true;
    picker.appendChild(ids);
    var overall = element("div", "upload-overall");
    var overallText = element("p", "upload-overall-text");
    var overallBar = element("progress");
    overallBar.setAttribute("aria-label", t.overallLabel);
    overall.appendChild(overallText);
    overall.appendChild(overallBar);
    overall.hidden = true;
    picker.appendChild(overall);
    var announcer = element("p", "visually-hidden");
    announcer.setAttribute("aria-live", "polite");
    announcer.setAttribute("data-announce", "");
    picker.appendChild(announcer);
    var button = form.querySelector("button[type=submit], input[type=submit]");
    var note = element("p", "upload-note");
    note.setAttribute("role", "status");
    note.tabIndex = -1;
    note.hidden = true;
    if (button) button.parentNode.insertBefore(note, button); else form.appendChild(note);

    function announce(message) { announcer.textContent = message; }

    function headers(xhr) {
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      if (csrfInput) xhr.setRequestHeader("X-CSRFToken", csrfInput.value);
    }

    // One request of one upload; answers that arrive after it was superseded are ignored.
    function send(upload, method, url, setHeaders, body, onLoad) {
      var xhr = new XMLHttpRequest();
      var stall = null;
      upload.xhr = xhr;
      xhr.open(method, url);
      headers(xhr);
      if (setHeaders) setHeaders(xhr);
      function current() { return upload.xhr === xhr && !upload.removed; }
      function watch() {
        if (method !== "PATCH") return;
        clearTimeout(stall);
        stall = setTimeout(function () {
          if (!current()) return;
          upload.xhr = null;
          xhr.abort();
          networkFailure(upload);
        }, STALL_MS);
      }
      if (method === "PATCH") {
        xhr.upload.onprogress = function (event) {
          if (!current()) return;
          watch();
          upload.loaded = event.loaded;
          progress(upload);
        };
      } else {
        xhr.timeout = REQUEST_MS;
      }
      xhr.onload = function () {
        clearTimeout(stall);
        if (!current()) return;
        upload.xhr = null;
        onLoad(xhr);
      };
      xhr.onerror = xhr.ontimeout = function () {
        clearTimeout(stall);
        if (!current()) return;
        upload.xhr = null;
        networkFailure(upload);
      };
      watch();
      xhr.send(body === undefined ? null : body);
    }

    function forget(url) {
      var xhr = new XMLHttpRequest();
      xhr.open("DELETE", url);
      headers(xhr);
      xhr.timeout = REQUEST_MS;
      xhr.send();
    }

    function reason(xhr, upload) {
      var detail = "";
      try {
        var problem = JSON.parse(xhr.responseText);
        if (problem && typeof problem.detail === "string") detail = problem.detail;
      } catch (e) { detail = ""; }
      if (!detail) return fill(t.server, { status: xhr.status });
      // The server names the file; the row already does.
      var prefix = upload.name + ": ";
      if (detail.indexOf(prefix) === 0) detail = detail.slice(prefix.length);
      return detail;
    }

    function answer(upload, xhr) {
      var status = xhr.status;
      if ((status === 404 || status === 410) && upload.url && (upload.restarts || 0) < 3) return restart(upload);
      if (status === 0 || status >= 500 || status === 408 || status === 429) {
        upload.lastError = status ? fill(t.server, { status: status }) : "";
        return networkFailure(upload);
      }
      fail(upload, reason(xhr, upload), false);
    }

    function create(upload) {
      send(upload, "POST", endpoint, function (xhr) {
        xhr.setRequestHeader("Upload-Length", String(upload.size));
        xhr.setRequestHeader("Upload-Metadata",
          "filename " + base64(upload.name) + ",filetype " + base64(upload.file.type || "application/octet-stream"));
      }, undefined, function (xhr) {
        var location = xhr.getResponseHeader("Location");
        if (xhr.status !== 201 || !location) return answer(upload, xhr);
        upload.url = new URL(location, window.location.href).href;
        upload.id = upload.url.replace(/\/+$/, "").split("/").pop();
        upload.offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10) || 0;
        upload.attempts = 0;
        patch(upload);
      });
    }

    function head(upload) {
      send(upload, "HEAD", upload.url, null, undefined, function (xhr) {
        if (xhr.status !== 200) return answer(upload, xhr);
        var offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
        if (isNaN(offset)) return answer(upload, xhr);
        upload.offset = offset;
        upload.loaded = 0;
        progress(upload);
        patch(upload);
      });
    }

    function patch(upload) {
      if (upload.offset >= upload.size) return finish(upload);
      var offset = upload.offset;
      var chunk = upload.file.slice(offset, Math.min(upload.size, offset + chunkBytes));
      send(upload, "PATCH", upload.url, function (xhr) {
        xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
        xhr.setRequestHeader("Upload-Offset", String(offset));
      }, chunk, function (xhr) {
        upload.loaded = 0;
        if (xhr.status === 409) return head(upload);
        if (xhr.status !== 204 && xhr.status !== 200) return answer(upload, xhr);
        var next = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
        upload.offset = isNaN(next) ? offset + chunk.size : next;
        upload.attempts = 0;
        progress(upload);
        patch(upload);
      });
    }

    // The server no longer knows the upload (404/410): only then start from zero.
    function restart(upload) {
      upload.restarts = (upload.restarts || 0) + 1;
      upload.url = null;
      upload.id = null;
      upload.offset = 0;
      upload.loaded = 0;
      progress(upload);
      create(upload);
    }

    function resume(upload) {
      clearTimeout(upload.timer);
      upload.timer = null;
      if (upload.removed) return;
      setState(upload, "uploading");
      if (upload.url) head(upload); else create(upload);
    }

    function networkFailure(upload) {
      upload.loaded = 0;
      if (upload.removed) return;
      if (navigator.onLine === false) return setState(upload, "paused");
      upload.attempts += 1;
      if (upload.attempts > MAX_ATTEMPTS) return fail(upload, upload.lastError || t.lost, true);
      setState(upload, "retrying");
      var wait = Math.min(30000, 1000 * Math.pow(2, upload.attempts - 1));
      upload.timer = setTimeout(function () { resume(upload); }, wait);
    }

    function finish(upload) {
      upload.loaded = 0;
      upload.offset = upload.size;
      upload.hidden = element("input");
      upload.hidden.type = "hidden";
      upload.hidden.name = "upload_ids";
      upload.hidden.value = upload.id;
      ids.appendChild(upload.hidden);
      setState(upload, "done");
      pump();
    }

    function fail(upload, why, network) {
      upload.reason = why;
      upload.network = network;
      setState(upload, "failed");
      pump();
    }

    function start(upload) {
      upload.attempts = 0;
      upload.lastError = "";
      if (navigator.onLine === false) return setState(upload, "paused");
      resume(upload);
    }

    function pump() {
      var active = uploads.filter(function (u) { return u.state !== "waiting" && BUSY[u.state]; }).length;
      uploads.forEach(function (u) {
        if (active < PARALLEL && u.state === "waiting") { active += 1; start(u); }
      });
      settle();
    }

    // ---------------------------------------------------------------- the rows

    function stateText(upload) {
      switch (upload.state) {
        case "waiting": return t.waiting;
        case "uploading": return fill(t.uploading, { percent: percent(upload) });
        case "paused": return t.paused;
        case "retrying": return t.retrying;
        case "done": return t.done;
        case "failed": return fill(t.failed, { reason: upload.reason });
        default: return "";
      }
    }

    function percent(upload) {
      if (!upload.size) return 100;
      return Math.min(100, Math.floor(100 * (upload.offset + upload.loaded) / upload.size));
    }

    function setState(upload, state) {
      var was = upload.state;
      upload.state = state;
      var row = upload.row;
      row.setAttribute("data-state", state);
      row.classList.toggle("problem", state === "failed");
      upload.status.textContent = stateText(upload);
      upload.retryButton.hidden = state !== "failed";
      upload.bar.value = upload.state === "done" ? upload.size : upload.offset + upload.loaded;
      if (state !== was && state !== "uploading" && !(state === "waiting" && !was)) {
        announce(upload.name + ": " + upload.status.textContent);
      }
      if (state === "uploading" && was !== "uploading" && upload.step === undefined) upload.step = 0;
      settle();
    }

    function progress(upload) {
      var value = Math.min(upload.size, upload.offset + upload.loaded);
      upload.bar.value = value;
      if (upload.state === "uploading") {
        upload.status.textContent = stateText(upload);
        // Announce every quarter, not every percent.
        var step = Math.floor(percent(upload) / 25);
        if (step > (upload.step || 0) && step < 4) {
          upload.step = step;
          announce(upload.name + ": " + upload.status.textContent);
        }
      }
      showOverall();
    }

    function buttonFor(label, aria, handler) {
      var control = element("button", "upload-button", label);
      control.type = "button";
      control.setAttribute("aria-label", aria);
      control.addEventListener("click", handler);
      return control;
    }

    function addRow(upload) {
      var row = element("li", "upload");
      var file = element("span", "upload-file");
      file.appendChild(element("span", "upload-name", upload.name));
      file.appendChild(document.createTextNode(" "));
      file.appendChild(element("span", "upload-size", "(" + size(upload.size) + ")"));
      row.appendChild(file);
      var actions = element("span", "upload-actions");
      upload.retryButton = buttonFor(t.retry, fill(t.retryLabel, { name: upload.name }), function () { retry(upload); });
      upload.retryButton.hidden = true;
      actions.appendChild(upload.retryButton);
      actions.appendChild(buttonFor(t.remove, fill(t.removeLabel, { name: upload.name }), function () { remove(upload); }));
      row.appendChild(actions);
      upload.status = element("span", "upload-state");
      row.appendChild(upload.status);
      upload.bar = element("progress");
      upload.bar.max = upload.size || 1;
      upload.bar.value = 0;
      upload.bar.setAttribute("aria-label", fill(t.progressLabel, { name: upload.name }));
      row.appendChild(upload.bar);
      upload.row = row;
      list.appendChild(row);
    }

    function addUpload(file, sha256) {
      var upload = { file: file, name: file.name, size: file.size, sha256: sha256, offset: 0, loaded: 0, attempts: 0,
                     url: null, id: null, xhr: null, timer: null, state: null, removed: false };
      uploads.push(upload);
      addRow(upload);
      setState(upload, "waiting");
      return upload;
    }

    // A file refused in the browser: listed with the reason, never sent, not counted.
    function addRefused(file, problem) {
      var upload = { name: file.name, size: file.size, state: "refused", removed: false };
      var row = element("li", "upload refused problem");
      row.setAttribute("data-state", "refused");
      var message = element("span", "upload-file", file.name + " (" + size(file.size) + "): " + problem);
      row.appendChild(message);
      var actions = element("span", "upload-actions");
      actions.appendChild(buttonFor(t.remove, fill(t.removeLabel, { name: file.name }), function () { remove(upload); }));
      row.appendChild(actions);
      upload.row = row;
      uploads.push(upload);
      list.appendChild(row);
      announce(file.name + ": " + problem);
    }

    function retry(upload) {
      upload.step = undefined;
      setState(upload, "waiting");
      pump();
      upload.row.querySelector(".upload-button:not([hidden])").focus();
    }

    function remove(upload) {
      var index = uploads.indexOf(upload);
      if (index === -1) return;
      upload.removed = true;
      clearTimeout(upload.timer);
      if (upload.xhr) { var xhr = upload.xhr; upload.xhr = null; xhr.abort(); }
      if (upload.url) forget(upload.url);
      if (upload.hidden) upload.hidden.remove();
      if (upload.staged) {
        // "These files are kept" is no longer true of all of them.
        Array.prototype.slice.call(form.querySelectorAll("[data-staged-uploads] .notice")).forEach(function (kept) {
          kept.hidden = true;
        });
      }
      uploads.splice(index, 1);
      var next = uploads[index] || uploads[index - 1];
      upload.row.remove();
      announce(fill(t.removed, { name: upload.name }));
      if (next) next.row.querySelector(".upload-button:not([hidden])").focus(); else input.focus();
      showAllowance();
      pump();
    }

    // ---------------------------------------------------------------- totals and the submit button

    function counted() { return uploads.filter(function (u) { return u.state !== "refused"; }); }

    function showAllowance(tooMany) {
      var left = filesLeft - counted().length;
      if (tooMany) {
        allowance.textContent = fill(text.tooMany, tooMany);
        allowance.classList.add("problem");
      } else {
        allowance.textContent = fill(text.left, { left: Math.max(0, left), max: maxFiles });
        allowance.classList.remove("problem");
      }
    }

    function showOverall() {
      var files = counted();
      overall.hidden = files.length === 0;
      var total = 0, sent = 0, done = 0;
      files.forEach(function (u) {
        total += u.size;
        sent += u.state === "done" ? u.size : Math.min(u.size, u.offset + u.loaded);
        if (u.state === "done") done += 1;
      });
      overallBar.max = total || 1;
      overallBar.value = sent;
      overallText.textContent = fill(t.overall, { done: done, total: files.length });
    }

    function settle() {
      showOverall();
      var busy = hashing + uploads.filter(function (u) { return BUSY[u.state]; }).length;
      var failed = uploads.filter(function (u) { return u.state === "failed"; }).length;
      if (failed) {
        if (pendingSubmit || !note.hidden) {
          pendingSubmit = false;
          showNote(t.blocked, true);
        }
      } else if (busy) {
        if (pendingSubmit) showNote(fill(t.inFlight, { count: busy }), false);
        else note.hidden = true;
      } else {
        note.hidden = true;
        if (pendingSubmit) {
          pendingSubmit = false;
          submitting = true;
          setTimeout(function () {
            if (form.requestSubmit) form.requestSubmit();
            else { input.removeAttribute("name"); form.submit(); }
          }, 0);
        }
      }
    }

    function showNote(message, problem) {
      note.textContent = message;
      note.classList.toggle("problem", problem);
      note.hidden = false;
    }

    form.addEventListener("submit", function (event) {
      var busy = hashing + uploads.filter(function (u) { return BUSY[u.state]; }).length;
      var failed = uploads.filter(function (u) { return u.state === "failed"; }).length;
      if (failed) {
        event.preventDefault();
        pendingSubmit = false;
        showNote(t.blocked, true);
        note.focus();
        return;
      }
      if (busy && !submitting) {
        event.preventDefault();
        pendingSubmit = true;
        showNote(fill(t.inFlight, { count: busy }), false);
        return;
      }
      // The bytes already went through the uploads: post only their ids.
      input.removeAttribute("name");
      submitting = false;
    });

    // ---------------------------------------------------------------- picking, connection, staged files

    // The file's SHA-256 (hex) as the server records it, "" where the browser cannot tell.
    function digest(file) {
      if (!window.crypto || !crypto.subtle || !file.arrayBuffer) return Promise.resolve("");
      return file.arrayBuffer().then(function (bytes) {
        return crypto.subtle.digest("SHA-256", bytes);
      }).then(function (hash) {
        return Array.prototype.map.call(new Uint8Array(hash), function (b) {
          return (b < 16 ? "0" : "") + b.toString(16);
        }).join("");
      }, function () { return ""; });
    }

    function sameAs(sha256) {
      if (!sha256) return null;
      var found = counted().filter(function (u) { return u.sha256 === sha256; });
      return found.length ? found[0] : null;
    }

    function place(files, digests) {
      var left = filesLeft - counted().length;
      var taken = 0;
      var tooMany = null;
      files.forEach(function (file, index) {
        var problem = "";
        var twin = null;
        if (file.size === 0) problem = text.empty;
        else if (file.size > maxBytes) problem = fill(text.tooLarge, { size: size(file.size), limit: size(maxBytes) });
        else if (!typeAccepted(file, accept)) problem = t.type;
        else if ((twin = sameAs(digests[index]))) problem = fill(t.duplicate, { name: twin.name });
        else if (taken >= left) {
          problem = fill(text.over, { max: maxFiles });
          tooMany = { picked: files.length, left: Math.max(0, left) };
        }
        if (problem) addRefused(file, problem);
        else { taken += 1; addUpload(file, digests[index]); }
      });
      showAllowance(tooMany);
      pump();
    }

    // The same file picked twice is pointed out before anything is sent (the server checks too).
    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files || []);
      input.value = "";
      hashing += 1;
      Promise.all(files.map(function (file) {
        return file.size > 0 && file.size <= maxBytes ? digest(file) : Promise.resolve("");
      })).then(function (digests) {
        hashing -= 1;
        place(files, digests);
      });
    });

    window.addEventListener("offline", function () {
      uploads.forEach(function (u) {
        if (u.state !== "uploading" && u.state !== "retrying") return;
        clearTimeout(u.timer);
        if (u.xhr) { var xhr = u.xhr; u.xhr = null; xhr.abort(); }
        u.loaded = 0;
        setState(u, "paused");
      });
    });

    window.addEventListener("online", function () {
      uploads.forEach(function (u) {
        if (u.state === "paused") { u.attempts = 0; resume(u); }
        else if (u.state === "failed" && u.network) { u.attempts = 0; resume(u); }
      });
    });

    // Uploads the server kept after a failed submission (requests/_staged.html): done files.
    Array.prototype.slice.call(form.querySelectorAll("input[type=hidden][name=upload_ids]")).forEach(function (kept) {
      if (ids.contains(kept)) return;
      var holder = kept.closest("[data-staged-upload]") || kept.closest("li") || kept.parentNode;
      var name = kept.getAttribute("data-filename") || (holder && holder.getAttribute("data-filename")) || "";
      var bytes = parseInt(kept.getAttribute("data-size") ||
        (holder && (holder.getAttribute("data-upload-size") || holder.getAttribute("data-size"))), 10);
      if (!name && holder) {
        var label = holder.querySelector("[data-filename], .filename");
        name = (label ? label.textContent : holder.textContent).trim();
      }
      var upload = { file: null, name: name || kept.value, size: isNaN(bytes) ? 0 : bytes,
                     sha256: (holder && holder.getAttribute("data-upload-sha256")) || "", offset: 0, loaded: 0,
                     attempts: 0, url: endpoint + "/" + encodeURIComponent(kept.value), id: kept.value,
                     xhr: null, timer: null, state: null, removed: false };
      upload.offset = upload.size;
      upload.staged = true;
      uploads.push(upload);
      addRow(upload);
      if (!upload.size) upload.row.querySelector(".upload-size").remove();
      upload.hidden = kept;
      ids.appendChild(kept);
      upload.state = "done";
      upload.row.setAttribute("data-state", "done");
      upload.status.textContent = t.done;
      upload.bar.max = upload.size || 1;
      upload.bar.value = upload.size || 1;
    });
    // Their rows replace the server's plain list (its notice and errors stay).
    Array.prototype.slice.call(form.querySelectorAll("[data-staged-list]")).forEach(function (staged) {
      if (!staged.querySelector("input[name=upload_ids]")) staged.hidden = true;
    });
    showAllowance();
    settle();
  }

  document.querySelectorAll("[data-file-picker][data-upload-url]").forEach(setup);
})();
