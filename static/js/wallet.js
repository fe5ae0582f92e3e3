// Charts of the wallet pages, in the manner of charts.js: data from a json_script block, never
// interpolated into JavaScript. Amounts arrive as exact decimal strings; Chart.js only draws them.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;

  var css = getComputedStyle(document.documentElement);
  var color = function (name, fallback) { return (css.getPropertyValue(name) || fallback).trim(); };
  var primary = color("--primary", "#4f46e5");
  var green = color("--green", "#15803d");
  var amber = color("--amber", "#f59e0b");
  Chart.defaults.font.family = css.getPropertyValue("--font").trim() || "system-ui, sans-serif";
  Chart.defaults.color = color("--muted", "#5b6275");
  Chart.defaults.borderColor = color("--border", "#e5e7eb");
  Chart.defaults.maintainAspectRatio = false;

  function readData(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function bbTicks(value) { return value + " BB"; }

  // series: [{label, amounts (decimal strings), fill}]; more than one are stacked, with a legend.
  function bars(labels, series) {
    var stacked = series.length > 1;
    return {
      type: "bar",
      data: {
        labels: labels,
        datasets: series.map(function (s) {
          return { label: s.label, data: s.amounts.map(Number), texts: s.amounts, backgroundColor: s.fill, borderRadius: 4 };
        }),
      },
      options: {
        scales: {
          y: { beginAtZero: true, stacked: stacked, ticks: { callback: bbTicks } },
          x: { stacked: stacked, grid: { display: false } },
        },
        plugins: {
          legend: { display: stacked },
          tooltip: {
            filter: function (item) { return !stacked || Number(item.dataset.texts[item.dataIndex]) !== 0; },
            callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + ctx.dataset.texts[ctx.dataIndex] + " BB"; } },
          },
        },
      },
    };
  }

  function anything(amounts) { return (amounts || []).some(function (a) { return Number(a) !== 0; }); }

  var builders = {
    "wallet-spending": function (data) {
      var series = [{ label: "Spent", amounts: data.amounts, fill: primary }];
      if (anything(data.held)) series.push({ label: "Held by runs in progress", amounts: data.held, fill: amber });
      return bars(data.labels, series);
    },
    earnings: function (data) { return bars(data.labels, [{ label: "Net earnings", amounts: data.amounts, fill: green }]); },
  };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var build = builders[canvas.dataset.chart];
    var data = readData(canvas.dataset.source);
    if (build && data) new Chart(canvas, build(data));
  });
})();
