// The agent page's health history: response time of the last checks, failed checks in red.
// Same approach as charts.js: the data comes from a json_script block, never from inline JavaScript.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  var canvas = document.querySelector("canvas[data-health-chart]");
  var source = canvas && document.getElementById(canvas.dataset.source);
  if (!source) return;
  var data = JSON.parse(source.textContent);

  var css = getComputedStyle(document.documentElement);
  var color = function (name, fallback) { return (css.getPropertyValue(name) || fallback).trim(); };
  var primary = color("--primary", "#4f46e5");
  var green = color("--green", "#15803d");
  var red = color("--red", "#b91c1c");
  Chart.defaults.font.family = css.getPropertyValue("--font").trim() || "system-ui, sans-serif";
  Chart.defaults.color = color("--muted", "#5b6275");
  Chart.defaults.borderColor = color("--border", "#e5e7eb");

  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [{
        label: "Response (ms)",
        data: data.response_ms,
        borderColor: primary,
        backgroundColor: primary + "22",
        fill: true,
        tension: 0.3,
        spanGaps: true,
        pointRadius: 3,
        pointBackgroundColor: data.ok.map(function (ok) { return ok ? green : red; }),
        pointBorderColor: data.ok.map(function (ok) { return ok ? green : red; }),
      }],
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        y: { beginAtZero: true, title: { display: true, text: "ms" }, ticks: { maxTicksLimit: 4 } },
        x: { ticks: { maxTicksLimit: 5, maxRotation: 0 } },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            afterLabel: function (item) { return data.ok[item.dataIndex] ? "Up" : "Down: " + data.detail[item.dataIndex]; },
          },
        },
      },
    },
  });
})();
