// The customer console's scripts. The usage chart: tokens (bars) and cost (a line, right axis)
// by day, drawn with Chart.js (from the npm registry, served by Levante itself) from the
// figures the page embeds as JSON; the tables on the page hold every figure. And the Copy
// button beside a secret shown once (a new API key's).

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

// A button with data-copies="ID" copies the text of the element ID. Without a clipboard
// (a page served over plain http to another host, or a browser that refuses), the text is
// selected instead, for the person to copy. The button is hidden until this script runs:
// without scripts, the secret is still there to select.
for (const button of document.querySelectorAll("button[data-copies]")) {
  const source = document.getElementById(button.dataset.copies);
  if (!source) continue;
  const label = button.textContent;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      button.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: press Ctrl+C (⌘C) to copy";
    }
    setTimeout(() => (button.textContent = label), 2000);
  });
}
