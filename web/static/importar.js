/* Importar: send the chosen files with upload progress per file, then show the result
   table from the JSON answer. Served locally (CSP script-src 'self'); without
   JavaScript the form posts the same files and the server renders the same table.
   One request for all files: the importer recognises the user's companies from the
   whole batch, so splitting it per file would change what gets imported. */
(function () {
  "use strict";
  var form = document.getElementById("form-importar");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var input = form.querySelector("input[type=file]");
  var token = form.querySelector("input[name=csrf_token]").value;
  var url = form.getAttribute("data-json");
  var box = document.getElementById("progreso-importacion");
  var bar = box.querySelector(".progress > span");
  var label = document.getElementById("progreso-texto");
  var list = document.getElementById("archivos-en-envio");
  var tbody = document.querySelector("#resultado-vivo tbody");

  function el(tag, value, cls) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    node.textContent = value == null ? "" : value;
    return node;
  }

  function addRow(r) {
    var tr = document.createElement("tr");
    tr.className = "status-" + r.status;
    tr.appendChild(el("td", r.file, "file"));
    var td = document.createElement("td");
    td.appendChild(el("span", r.status_label || r.status, "pill pill-" + r.status));
    if (r.sin_validez_fiscal) {  // sealed with an SAT test certificate (docs/import.md)
      td.appendChild(document.createTextNode(" "));
      td.appendChild(el("span", "SIN VALIDEZ FISCAL", "pill pill-sandbox"));
    }
    tr.appendChild(td);
    var uuid = el("td", "", "mono");
    if (r.uuid && (r.status === "imported" || r.status === "duplicate")) {
      var a = el("a", r.uuid);
      a.href = "/documentos/" + encodeURIComponent(r.uuid);
      uuid.appendChild(a);
    } else { uuid.textContent = r.uuid || "—"; }
    tr.appendChild(uuid);
    tr.appendChild(el("td", r.tipo_label || "—"));
    tr.appendChild(el("td", r.code || "", "mono"));
    var motivo = el("td", r.message || "");
    if (r.conflict) {  // UUID_EN_CONFLICTO: the conflicts table (and its replace button) is on the page, reloaded
      var link = el("a", " Ver conflicto " + r.conflict.id);
      link.href = "/importar/#conflicto-" + r.conflict.id;
      motivo.appendChild(link);
    }
    tr.appendChild(motivo);
    tbody.appendChild(tr);
  }

  function finish(json, button) {
    var counts = {imported: 0, duplicate: 0, refused: 0, ignored: 0};
    tbody.textContent = "";
    if (json.results) {
      json.results.forEach(function (r) { addRow(r); if (counts[r.status] !== undefined) { counts[r.status] += 1; } });
      label.textContent = "Listo: " + json.results.length + " resultado" + (json.results.length === 1 ? "" : "s") + ".";
    } else {
      label.textContent = (json.error && json.error.message) || "No se pudo importar.";
      label.className = "alert alert-error";
    }
    Object.keys(counts).forEach(function (k) { document.getElementById("cuenta-" + k).textContent = counts[k]; });
    button.disabled = false;
  }

  form.addEventListener("submit", function (ev) {
    var files = Array.prototype.slice.call(input.files || []);
    if (!files.length) { return; }
    ev.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    box.hidden = false;
    label.className = "muted small";
    list.textContent = "";
    tbody.textContent = "";
    var data = new FormData();
    var items = [];
    var total = 0;
    files.forEach(function (f) {
      data.append("archivos", f, f.name);
      var li = el("li", "");
      var name = el("span", f.name, "file");
      var state = el("span", "en espera", "pill");
      li.appendChild(name);
      li.appendChild(state);
      list.appendChild(li);
      items.push({start: total, end: total + f.size, state: state});
      total += f.size;
    });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", token);
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) { return; }
      var sent = total * e.loaded / e.total;
      bar.style.width = Math.round(90 * e.loaded / e.total) + "%";
      items.forEach(function (it, i) {
        if (sent >= it.end) { it.state.textContent = "enviado"; it.state.className = "pill pill-imported"; }
        else if (sent > it.start) { it.state.textContent = Math.round(100 * (sent - it.start) / Math.max(1, it.end - it.start)) + " %"; it.state.className = "pill pill-duplicate"; }
      });
      label.textContent = "Enviando " + files.length + " archivo" + (files.length === 1 ? "" : "s") + "…";
    };
    xhr.upload.onload = function () {
      items.forEach(function (it) { it.state.textContent = "enviado"; it.state.className = "pill pill-imported"; });
      label.textContent = "Validando sellos e importando en el servidor…";
    };
    xhr.onload = function () {
      bar.style.width = "100%";
      var json;
      try { json = JSON.parse(xhr.responseText); }
      catch (err) { json = {error: {message: xhr.status === 413 ? "Los archivos exceden el límite por envío." : "El servidor no pudo procesar los archivos."}}; }
      finish(json, button);
    };
    xhr.onerror = function () { finish({error: {message: "Sin conexión con el servidor."}}, button); };
    bar.style.width = "0%";
    xhr.send(data);
  });
}());
