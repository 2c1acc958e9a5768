// Switchboard portal: live updates without a reload. A page that shows something that
// changes (a channel's state and VLAN, its invitees' status) has an element with
// data-live="URL-of-its-fragment" and data-events="URL-of-its-event-stream". When the server
// says something changed, the fragment is fetched again and swapped in.
(function () {
  document.querySelectorAll("[data-live][data-events]").forEach(function (box) {
    var dot = document.getElementById("live-dot");
    var refresh = function () {
      fetch(box.dataset.live, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { box.innerHTML = html; } });
    };
    var source = new EventSource(box.dataset.events);
    source.addEventListener("change", refresh);
    source.onopen = function () { if (dot) { dot.classList.add("on"); } };
    source.onerror = function () { if (dot) { dot.classList.remove("on"); } };
  });
})();

// Sockets and wires: click a socket in the picture to start a new wire from it.
(function () {
  document.querySelectorAll("svg.board [data-socket]").forEach(function (socket) {
    socket.addEventListener("click", function () {
      var radio = document.querySelector('#create input[name="interface"][value="' + socket.dataset.socket + '"]');
      if (!radio) { return; }
      radio.checked = true;
      document.getElementById("create").scrollIntoView({ behavior: "smooth" });
      var name = document.getElementById("name");
      if (name) { name.focus({ preventScroll: true }); }
    });
  });
})();

// A form refused by the server comes back with its error inside it: bring it into view.
(function () {
  var here = document.querySelector("[data-scroll-here]");
  if (here) { here.scrollIntoView({ block: "center" }); }
})();

// The create form's usage models are marked for the channel's bandwidth: as the visitor
// types another, the server marks them again (what this account cannot use, and why), so a
// refusal is seen before submitting. The choice is kept while it stays usable.
(function () {
  var model = document.querySelector("select[data-marks]");
  var bandwidth = document.getElementById("bandwidth");
  if (!model || !bandwidth) { return; }
  var timer = null;
  var mark = function () {
    var mbps = bandwidth.value.trim();
    if (!/^[0-9]+$/.test(mbps)) { return; }
    var url = model.dataset.marks + "?bandwidth_mbps=" + mbps + "&selected=" + encodeURIComponent(model.value);
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && bandwidth.value.trim() === mbps) { model.innerHTML = html; } });
  };
  bandwidth.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(mark, 250);
  });
})();

// The E-Tree role is asked only when the channel is an E-Tree.
(function () {
  var role = document.getElementById("role");
  if (!role) { return; }
  var box = role.closest("div");
  var kinds = document.querySelectorAll('#create input[name="kind"]');
  var show = function () {
    var kind = document.querySelector('#create input[name="kind"]:checked');
    box.style.display = kind && kind.value === "p2mp" ? "" : "none";
  };
  kinds.forEach(function (k) { k.addEventListener("change", show); });
  show();
})();
