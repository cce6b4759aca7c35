// The customer console's usage chart: tokens (bars) and cost (a line, right axis) by day,
// drawn with Chart.js (from the npm registry, served by Levante itself) from the figures the
// page embeds as JSON. The tables on the page hold every figure.

const source = document.getElementById("usage-data");
if (source) {
  const data = JSON.parse(source.textContent);
  const Chart = window.Chart;
  if (!Chart) {
    for (const note of document.querySelectorAll(".charts-missing")) note.hidden = false;
    document.body.dataset.charts = "missing";
  } else {
    const tokens = new Intl.NumberFormat("en", { notation: "compact" });
    const cost = new Intl.NumberFormat("en", { style: "currency", currency: data.currency, maximumFractionDigits: 4 });
    Chart.defaults.animation = false;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    const PALETTE = ["#2563eb", "#7c3aed", "#0d9488", "#db2777", "#65a30d", "#0891b2", "#9333ea", "#ca8a04", "#64748b"];
    const bars = data.series
      ? Object.entries(data.series).map(([label, values], i) => ({
          type: "bar", label, data: values, backgroundColor: PALETTE[i % PALETTE.length] + "cc",
          yAxisID: "tokens", stack: "tokens",
        }))
      : [{ type: "bar", label: "tokens", data: data.tokens, backgroundColor: "#2563eb99", yAxisID: "tokens" }];
    new Chart(document.getElementById("usage-chart"), {
      data: {
        labels: data.days,
        datasets: [
          ...bars,
          { type: "line", label: `cost (${data.currency})`, data: data.cost, borderColor: "#d97706", backgroundColor: "#d97706", yAxisID: "cost", pointRadius: 2, tension: 0.2 },
        ],
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true },
          tokens: { position: "left", beginAtZero: true, stacked: true, ticks: { callback: (v) => tokens.format(v) } },
          cost: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { callback: (v) => cost.format(v) } },
        },
      },
    });
    document.body.dataset.charts = "drawn";
  }
}
