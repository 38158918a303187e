// Human units: rates in SI (kb/s, Mb/s), byte totals in IEC (KiB, MiB), shares in percent.

const SI = ['', 'k', 'M', 'G', 'T', 'P'];
const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

function scaled(value, base, units, digits = 3) {
  let i = 0;
  let v = Math.abs(value);
  while (v >= base && i < units.length - 1) {
    v /= base;
    i += 1;
  }
  const sign = value < 0 ? '-' : '';
  const text = v === 0 ? '0' : v >= 100 ? v.toFixed(0) : v.toPrecision(digits);
  return { text: sign + text, unit: units[i] };
}

export const MEASURE_INFO = {
  bps: { api: 'bytes', label: 'bits/s', perSecond: true, factor: 8, unit: 'b/s', total: 'bytes' },
  pps: { api: 'packets', label: 'packets/s', perSecond: true, factor: 1, unit: 'p/s', total: 'packets' },
  fps: { api: 'flows', label: 'flows/s', perSecond: true, factor: 1, unit: 'flows/s', total: 'flows' },
  value: { api: 'value', label: 'value (sum)', perSecond: false, factor: 1, unit: '', total: 'value' },
};

// A rate or a sum in the measure's unit, e.g. "12.3 Mb/s".
export function formatMeasure(measure, value) {
  const info = MEASURE_INFO[measure];
  const { text, unit } = scaled(value, 1000, SI);
  return `${text} ${unit}${info.unit}`.trim();
}

// The stored sum behind a row: bytes in KiB/MiB, the other counts in SI.
export function formatTotal(measure, value) {
  if (measure === 'bps') {
    const { text, unit } = scaled(value, 1024, IEC);
    return `${text} ${unit}`;
  }
  const { text, unit } = scaled(value, 1000, SI);
  return `${text}${unit}`;
}

export function formatShare(share) {
  return `${(share * 100).toFixed(1)} %`;
}

export const PALETTE = [
  '#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f',
  '#86bcb6', '#d37295', '#fabfd2', '#b6992d', '#499894', '#79706e', '#d4a6c8', '#8cd17d', '#f1ce63',
  '#a0cbe8', '#ffbe7d',
];
export const OTHER_COLOR = '#bab0ac';
