// Charts for the analytics pages. Data comes from a <script type="application/json"> block
// (Django's json_script), so no data is ever interpolated into JavaScript.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;

  var css = getComputedStyle(document.documentElement);
  var color = function (name, fallback) { return (css.getPropertyValue(name) || fallback).trim(); };
  var primary = color("--primary", "#4f46e5");
  var accent = color("--accent", "#0ea5e9");
  var amber = color("--amber", "#f59e0b");
  Chart.defaults.font.family = css.getPropertyValue("--font").trim() || "system-ui, sans-serif";
  Chart.defaults.color = color("--muted", "#5b6275");
  Chart.defaults.borderColor = color("--border", "#e5e7eb");
  Chart.defaults.maintainAspectRatio = false;

  function readData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function truncate(label) { return label.length > 22 ? label.slice(0, 21) + "…" : label; }

  var builders = {
    trending: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels.map(truncate),
          datasets: [
            { label: "Trending score", data: data.scores, backgroundColor: primary, borderRadius: 4, xAxisID: "x" },
            { label: "Views in period", data: data.views, backgroundColor: accent + "99", borderRadius: 4, xAxisID: "x2" },
          ],
        },
        options: {
          indexAxis: "y",
          scales: {
            x: { position: "bottom", title: { display: true, text: "Score" }, beginAtZero: true },
            x2: { position: "top", title: { display: true, text: "Views" }, beginAtZero: true, grid: { drawOnChartArea: false } },
          },
          plugins: { legend: { position: "bottom" } },
        },
      };
    },
    domains: function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            { label: "Agents", data: data.counts, backgroundColor: primary, borderRadius: 4, yAxisID: "y" },
            { label: "Views", data: data.views, backgroundColor: accent + "99", borderRadius: 4, yAxisID: "y2" },
          ],
        },
        options: {
          scales: {
            y: { beginAtZero: true, title: { display: true, text: "Agents" }, ticks: { precision: 0 } },
            y2: { beginAtZero: true, position: "right", title: { display: true, text: "Views" }, grid: { drawOnChartArea: false } },
          },
          plugins: { legend: { position: "bottom" } },
        },
      };
    },
    "domain-ratings": function (data) {
      return {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [{ label: "Average rating", data: data.ratings, backgroundColor: amber, borderRadius: 4 }],
        },
        options: {
          scales: { y: { min: 0, max: 5, title: { display: true, text: "★ out of 5" } } },
          plugins: { legend: { display: false } },
        },
      };
    },
  };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var build = builders[canvas.dataset.chart];
    var data = readData(canvas.dataset.source);
    if (build && data) new Chart(canvas, build(data));
  });
})();
