// Charts of the wallet pages, in the manner of charts.js: data from a json_script block, never
// interpolated into JavaScript. Amounts arrive as exact decimal strings; Chart.js only draws them.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;

  var css = getComputedStyle(document.documentElement);
  var color = function (name, fallback) { return (css.getPropertyValue(name) || fallback).trim(); };
  var primary = color("--primary", "#4f46e5");
  var green = color("--green", "#15803d");
  Chart.defaults.font.family = css.getPropertyValue("--font").trim() || "system-ui, sans-serif";
  Chart.defaults.color = color("--muted", "#5b6275");
  Chart.defaults.borderColor = color("--border", "#e5e7eb");
  Chart.defaults.maintainAspectRatio = false;

  function readData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function bbTicks(value) { return value + " BB"; }

  function bars(labels, amounts, label, fill) {
    return {
      type: "bar",
      data: { labels: labels, datasets: [{ label: label, data: amounts.map(Number), backgroundColor: fill, borderRadius: 4 }] },
      options: {
        scales: { y: { beginAtZero: true, ticks: { callback: bbTicks } }, x: { grid: { display: false } } },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (ctx) { return label + ": " + amounts[ctx.dataIndex] + " BB"; } } },
        },
      },
    };
  }

  var builders = {
    "wallet-spending": function (data) { return bars(data.labels, data.amounts, "Spent", primary); },
    earnings: function (data) { return bars(data.labels, data.amounts, "Net earnings", green); },
  };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var build = builders[canvas.dataset.chart];
    var data = readData(canvas.dataset.source);
    if (build && data) new Chart(canvas, build(data));
  });
})();
