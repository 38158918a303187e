// The top-N table: rank, the dimension values as text, the measure in human units, the
// stored total, and the share of the whole with a bar. Each row carries the raw numbers in
// data- attributes, which tests read.
import { formatMeasure, formatShare, formatTotal, PALETTE, OTHER_COLOR } from './format.js';
import { rowLabel } from './api.js';

function cell(tag, text, className) {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

function shareCell(share, color) {
  const td = document.createElement('td');
  td.className = 'share';
  const track = document.createElement('span');
  track.className = 'track';
  const bar = document.createElement('span');
  bar.className = 'bar';
  track.append(bar);
  bar.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;  // CSSOM: allowed by the CSP
  bar.style.backgroundColor = color;
  const label = cell('span', formatShare(share), 'share-text');
  td.append(track, label);
  return td;
}

// `top` is the /v1/query/top answer; `toRate` turns a stored sum into the shown measure.
export function drawTopTable({ head, body, foot }, top, { dims, measure, apiMeasure, toRate }) {
  head.replaceChildren(cell('th', '#'), ...dims.map((d) => cell('th', d)), cell('th', MEASURE_TITLE[measure] ?? measure),
    cell('th', 'total'), cell('th', 'share'));
  const rows = top.rows ?? [];
  const total = Number(top.total?.[apiMeasure] ?? 0);
  body.replaceChildren(...rows.map((row, index) => {
    const tr = document.createElement('tr');
    const value = Number(row[apiMeasure] ?? 0);
    const share = Number(row.share ?? (total > 0 ? value / total : 0));
    tr.dataset.key = rowLabel(row, dims);
    tr.dataset.value = String(value);
    tr.dataset.share = String(share);
    tr.append(cell('td', String(index + 1), 'rank'), ...dims.map((d) => cell('td', String(row[d] ?? ''), 'key')),
      cell('td', formatMeasure(measure, toRate(value)), 'num'), cell('td', formatTotal(measure, value), 'num'),
      shareCell(share, dims.length === 1 ? PALETTE[index % PALETTE.length] : PALETTE[0]));
    return tr;
  }));
  const footRows = [];
  const other = Number(top.other?.[apiMeasure] ?? 0);
  const otherRow = document.createElement('tr');
  otherRow.className = 'other';
  otherRow.dataset.value = String(other);
  otherRow.append(cell('td', ''), cell('td', 'Other', 'key'), ...dims.slice(1).map(() => cell('td', '')),
    cell('td', formatMeasure(measure, toRate(other)), 'num'), cell('td', formatTotal(measure, other), 'num'),
    shareCell(total > 0 ? other / total : 0, OTHER_COLOR));
  footRows.push(otherRow);
  const totalRow = document.createElement('tr');
  totalRow.className = 'total';
  totalRow.dataset.value = String(total);
  totalRow.append(cell('td', ''), cell('td', 'Total', 'key'), ...dims.slice(1).map(() => cell('td', '')),
    cell('td', formatMeasure(measure, toRate(total)), 'num'), cell('td', formatTotal(measure, total), 'num'),
    cell('td', total > 0 ? formatShare(1) : '', 'share'));
  footRows.push(totalRow);
  foot.replaceChildren(...footRows);
}

const MEASURE_TITLE = { bps: 'bits/s', pps: 'packets/s', fps: 'flows/s', value: 'value' };
