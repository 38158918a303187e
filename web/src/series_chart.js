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
// unit (a rate per second, or a sum per bin) into `container`.
export function drawSeriesChart(container, data, { measure, stacked }) {
  destroySeriesChart();
  const raw = data.series.map((s) => s.values);
  let plotted = raw;
  if (stacked) {
    const sums = new Array(data.times.length).fill(0);
    plotted = raw.map((values) => values.map((v, i) => (sums[i] += v)));
  }
  const series = [{}];
  data.series.forEach((entry, index) => {
    const color = colorOf(entry, index);
    series.push({
      label: entry.label,
      stroke: color,
      width: stacked ? 1 : 2,
      fill: stacked ? color : undefined,
      points: { show: false },
    });
  });
  const width = Math.max(320, container.clientWidth || 900);
  const options = {
    width,
    height: 320,
    series,
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] } },
    axes: [{}, { values: (u, ticks) => ticks.map((t) => formatMeasure(measure, t)), size: 80 }],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
  // Stacked: draw the topmost cumulative area first, so that each lower area paints over it.
  let order = plotted.map((_, i) => i);
  if (stacked) order = order.reverse();
  const ordered = [data.times, ...order.map((i) => plotted[i])];
  options.series = [series[0], ...order.map((i) => series[i + 1])];
  const rawOrdered = order.map((i) => raw[i]);
  options.series.forEach((s, si) => {
    if (si > 0) s.value = (u, v, seriesIndex, i) => (i === null || i === undefined ? '—' : formatMeasure(measure, rawOrdered[seriesIndex - 1][i]));
  });
  chart = new uPlot(options, ordered, container);
  return chart;
}

export function resizeSeriesChart(container) {
  if (chart) chart.setSize({ width: Math.max(320, container.clientWidth), height: 320 });
}
