// The revenue dashboard's charts, drawn with Chart.js (from the npm registry, served by
// Levante itself) from the figures the page embeds as JSON. The tables on the page hold
// every figure exactly; the charts are their picture.

const STREAMS = ["api", "enterprise", "chat", "support"];
const COLOURS = {
  api: "#2563eb",
  enterprise: "#7c3aed",
  chat: "#0d9488",
  support: "#d97706",
};
const MOVES = {
  new: "#16a34a",
  expansion: "#4ade80",
  reactivation: "#86efac",
  contraction: "#f97316",
  churn: "#dc2626",
  fx: "#94a3b8",
};

function money(currency) {
  const format = new Intl.NumberFormat("en", {
    style: "currency",
    currency,
    notation: "compact",
    maximumFractionDigits: 1,
  });
  return (value) => format.format(value);
}

function draw(Chart, data) {
  const short = money(data.currency);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;

  new Chart(document.getElementById("arr-chart"), {
    type: "line",
    data: {
      labels: data.months,
      datasets: STREAMS.map((s) => ({
        label: s,
        data: data.arr[s],
        fill: true,
        backgroundColor: COLOURS[s] + "99",
        borderColor: COLOURS[s],
        pointRadius: 2,
        tension: 0.2,
      })),
    },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: { y: { stacked: true, ticks: { callback: short } } },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${short(c.raw)}` } } },
    },
  });

  const total = STREAMS.reduce((sum, s) => sum + data.share[s], 0) || 1;
  new Chart(document.getElementById("share-chart"), {
    type: "doughnut",
    data: {
      labels: STREAMS.map((s) => `${s} ${((100 * data.share[s]) / total).toFixed(1)}%`),
      datasets: [{ data: STREAMS.map((s) => data.share[s]), backgroundColor: STREAMS.map((s) => COLOURS[s]) }],
    },
    options: {
      maintainAspectRatio: false,
      plugins: { tooltip: { callbacks: { label: (c) => short(c.raw) } } },
    },
  });

  new Chart(document.getElementById("movements-chart"), {
    type: "bar",
    data: {
      labels: data.months,
      datasets: Object.keys(MOVES).map((k) => ({
        label: k,
        data: data.movements[k],
        backgroundColor: MOVES[k],
      })),
    },
    options: {
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: { x: { stacked: true }, y: { stacked: true, ticks: { callback: short } } },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${short(c.raw)}` } } },
    },
  });
  document.body.dataset.charts = "drawn";
}

const source = document.getElementById("revenue-data");
if (source) {
  const data = JSON.parse(source.textContent);
  if (window.Chart) {
    draw(window.Chart, data);
  } else {
    for (const note of document.querySelectorAll(".charts-missing")) note.hidden = false;
    document.body.dataset.charts = "missing";
  }
}
