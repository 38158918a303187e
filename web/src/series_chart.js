// The time series view: uPlot, stacked (cumulative areas, the largest series at the bottom) or
// one line per series. The legend and the cursor show each series' own value, not the stack.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatMeasure, PALETTE, OTHER_COLOR } from './format.js';

let chart = null;

function colorOf(entry, index) {
  return entry.other ? OTHER_COLOR : PALETTE[index % PALETTE.length];
}

export function destroySeriesChart() {
  if (chart) chart.destroy();
  chart = null;
}

// Draws `data` ({times, series: [{label, values, other}]}) already converted to the measure's
// unit (a rate per second, or a sum per bin) into `container`. Stacked, series i is drawn at
// the sum of series 0..i and filled down to series i-1 (a uPlot band), so the largest series
// sits at the bottom and "Other" on top; the legend keeps the server's order.
export function drawSeriesChart(container, data, { measure, stacked }) {
  destroySeriesChart();
  const raw = data.series.map((s) => s.values);
  let plotted = raw;
  const bands = [];
  if (stacked) {
    const sums = new Array(data.times.length).fill(0);
    plotted = raw.map((values) => values.map((v, i) => (sums[i] += v)));
    for (let i = 2; i <= raw.length; i += 1) bands.push({ series: [i, i - 1] });
  }
  const series = [{}];
  data.series.forEach((entry, index) => {
    const color = colorOf(entry, index);
    series.push({
      label: entry.label,
      stroke: color,
      width: stacked ? 1 : 2,
      fill: stacked ? `${color}cc` : undefined,
      points: { show: false },
      value: (u, v, seriesIndex, i) => (i === null || i === undefined ? '—' : formatMeasure(measure, raw[seriesIndex - 1][i])),
    });
  });
  const options = {
    width: Math.max(320, container.clientWidth || 900),
    height: 320,
    series,
    bands,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] } },
    axes: [{}, { values: (u, ticks) => ticks.map((t) => formatMeasure(measure, t)), size: 80 }],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
  chart = new uPlot(options, [data.times, ...plotted], container);
  return chart;
}

export function resizeSeriesChart(container) {
  if (chart) chart.setSize({ width: Math.max(320, container.clientWidth), height: 320 });
}
