// o2c back office: small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // "/" focuses the page's search box (or the jump box), unless typing already.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
    var boxes = document.querySelectorAll("[data-shortcut='/']");
    var box = boxes.length ? boxes[boxes.length - 1] : null;
    if (box) { e.preventDefault(); box.focus(); box.select(); }
  });

  // Forms that ask before doing something hard to undo.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { e.preventDefault(); return; }
    // One click is enough: disable the buttons once the form is on its way.
    // (The form token makes a second submit harmless anyway.)
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });

  // Coming back with the browser's back button: the buttons work again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("button[type=submit]:disabled").forEach(function (b) { b.disabled = false; });
  });

  document.addEventListener("click", function (e) {
    var el = e.target;
    if (el.matches("[data-print]")) { window.print(); }
    if (el.matches(".remove-line")) {
      var row = el.closest("tr");
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      if (document.querySelectorAll("#lines tbody tr").length > 1) row.remove();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // Order lines: remove buttons, and "Add a line" without a round trip.
    var lines = document.getElementById("lines");
    if (lines) {
      lines.querySelectorAll(".remove-line").forEach(function (b) { b.hidden = false; });
      var add = document.querySelector("button.add-line");
      if (add) {
        add.addEventListener("click", function (e) {
          e.preventDefault();
          var body = lines.tBodies[0];
          var last = body.rows[body.rows.length - 1];
          var next = 0;
          body.querySelectorAll("input[name^='lines.']").forEach(function (i) {
            next = Math.max(next, parseInt(i.name.split(".")[1], 10) + 1);
          });
          var row = last.cloneNode(true);
          row.querySelectorAll("input").forEach(function (i) {
            var parts = i.name.split(".");
            i.name = "lines." + next + "." + parts[2];
            i.id = "f-lines-" + next + "-" + parts[2];
            i.value = "";
            i.removeAttribute("aria-invalid");
            i.setAttribute("aria-label", "Line " + (next + 1) + " " + parts[2].replace("_", " "));
          });
          row.querySelectorAll(".error").forEach(function (p) { p.remove(); });
          row.querySelectorAll(".has-error").forEach(function (c) { c.classList.remove("has-error"); });
          body.appendChild(row);
          row.querySelector("input").focus();
        });
      }
    }
    // Put the keyboard where the problem is.
    var problem = document.querySelector("[data-autofocus]");
    if (problem) {
      var bad = document.querySelector("[aria-invalid=true]");
      (bad || problem).focus();
    }
  });
})();
