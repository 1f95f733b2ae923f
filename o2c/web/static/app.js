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
          row.querySelectorAll(".line-info, .line-net").forEach(function (c) { c.textContent = ""; });
          row.querySelectorAll(".has-error").forEach(function (c) { c.classList.remove("has-error"); });
          body.appendChild(row);
          row.querySelector("input").focus();
        });
      }
    }
    customerSearch(document.querySelector(".customer-search"));
    lineQuotes(lines);
    // Put the keyboard where the problem is.
    var problem = document.querySelector("[data-autofocus]");
    if (problem) {
      var bad = document.querySelector("[aria-invalid=true]");
      (bad || problem).focus();
    }
  });

  function debounce(fn, ms) {
    var timer = null;
    return function () { window.clearTimeout(timer); timer = window.setTimeout(fn, ms); };
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function csrfToken(form) {
    var t = form && form.querySelector("input[name=csrf_token]");
    return t ? t.value : "";
  }

  // The customer field: a pick list of customers whose code, name, e-mail or
  // VAT id contains what is typed (accents and case aside). Without the
  // script, the server resolves the text when the form is sent.
  function customerSearch(box) {
    if (!box) return;
    var input = box.querySelector("input");
    var list = box.querySelector("[role=listbox]");
    var picked = box.querySelector(".picked");
    var url = box.getAttribute("data-lookup");
    var items = [], active = -1, asked = "";

    function close() {
      list.hidden = true; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }
    function highlight(i) {
      active = i;
      list.querySelectorAll("[role=option]").forEach(function (o, n) {
        o.setAttribute("aria-selected", n === i ? "true" : "false");
        if (n === i) { input.setAttribute("aria-activedescendant", o.id); o.scrollIntoView({block: "nearest"}); }
      });
    }
    function pick(c) {
      input.value = c.code;
      picked.textContent = "";
      picked.appendChild(el("strong", null, c.name));
      picked.appendChild(document.createTextNode(" · " + c.code + (c.email ? " · " + c.email : "") +
                                                 (c.tax_id ? " · VAT " + c.tax_id : "")));
      close();
    }
    function show(data, hasMore) {
      items = data; list.textContent = "";
      if (!data.length) {
        list.appendChild(el("li", "pick-empty", "No customer matches. Enter a new one below."));
      }
      data.forEach(function (c, n) {
        var li = el("li");
        li.id = "customer-option-" + n;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.appendChild(el("strong", null, c.name));
        li.appendChild(el("span", "muted", " " + c.code + (c.email ? " · " + c.email : "") +
                                           (c.tax_id ? " · VAT " + c.tax_id : "")));
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(c); });
        list.appendChild(li);
      });
      if (hasMore) list.appendChild(el("li", "pick-more", "More match: type more of the name."));
      list.hidden = false; active = -1;
      input.setAttribute("aria-expanded", "true");
    }
    var lookup = debounce(function () {
      var q = input.value.trim();
      if (!q) { close(); return; }
      asked = q;
      fetch(url + "?q=" + encodeURIComponent(q), {headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { if (body && asked === input.value.trim()) show(body.data, body.has_more); })
        .catch(function () { /* the server resolves the text on submit */ });
    }, 180);
    input.addEventListener("input", function () { picked.textContent = ""; lookup(); });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); pick(items[active]); }
      else if (e.key === "Escape") { e.preventDefault(); close(); }
    });
    input.addEventListener("blur", function () { window.setTimeout(close, 150); });
  }

  // Order lines: the product, what is available, the price that applies and
  // the line's net appear as a SKU is entered; the server calculates them
  // (and again when the order is saved).
  function lineQuotes(table) {
    if (!table || !table.getAttribute("data-quote")) return;
    var form = table.closest("form");
    var totals = document.getElementById("live-totals");
    var seq = 0;
    function value(row, key) {
      var i = row.querySelector("input[name$='." + key + "']");
      return i ? i.value : "";
    }
    var quote = debounce(function () {
      var rows = Array.prototype.slice.call(table.tBodies[0].rows);
      var body = {lines: rows.map(function (r) {
        return {sku: value(r, "sku"), quantity: value(r, "quantity"), unit_price: value(r, "unit_price"),
                discount: value(r, "discount")};
      })};
      var mine = ++seq;
      fetch(table.getAttribute("data-quote"), {
        method: "POST", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken(form)}
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (answer) {
        if (!answer || mine !== seq) return;
        rows.forEach(function (r, n) {
          var info = r.querySelector(".line-info"), net = r.querySelector(".line-net");
          var l = answer.lines[n];
          info.textContent = ""; net.textContent = "";
          info.classList.remove("line-error");
          if (!l) return;
          if (!l.known || l.error) {
            info.classList.add("line-error");
            info.textContent = l.error;
            if (!l.known) return;
          } else {
            info.appendChild(document.createTextNode(l.name + " "));
            var facts = l.available + " available · " + l.unit_price + " EUR" + (l.unit ? " / " + l.unit : "");
            if (l.short) facts += " · " + l.short + " short";
            info.appendChild(el("span", l.short ? "short" : "muted", "· " + facts));
          }
          if (l.net !== null && l.net !== undefined) net.textContent = l.net;
        });
        if (answer.total !== null) {
          totals.textContent = "Net " + answer.net_total + " · VAT " + answer.vat_total + " · Total " +
            answer.total + " " + answer.currency + " (calculated as you type; saving calculates again)";
          totals.hidden = false;
        } else { totals.hidden = true; }
      }).catch(function () { /* "Calculate totals" still works */ });
    }, 250);
    table.addEventListener("input", quote);
    table.addEventListener("change", quote);
    document.addEventListener("click", function (e) { if (e.target.matches(".remove-line")) quote(); });
    if (table.querySelector("input[name$='.sku']") && Array.prototype.some.call(
        table.querySelectorAll("input[name$='.sku']"), function (i) { return i.value.trim(); })) quote();
  }
})();
