// The console: reads the view from the URL, asks the query API, draws the chart (uPlot or a
// Sankey) and the top-N table, and writes every change of the controls back into the URL.
import './console.css';
import { AuthRequired, BadRequest, normalizeSeries, queryTop, querySeries, setToken } from './api.js';
import { DIMENSIONS, formatState, parseState, RANGES, resolveRange } from './state.js';
import { MEASURE_INFO } from './format.js';
import { destroySeriesChart, drawSeriesChart, resizeSeriesChart } from './series_chart.js';
import { drawTopTable } from './top_table.js';
import { drawSankey } from './sankey_chart.js';

const $ = (id) => document.getElementById(id);
const controls = {
  view: $('view'), measure: $('measure'), dim: $('dim'), dim2: $('dim2'), limit: $('limit'), range: $('range'),
  from: $('from'), to: $('to'), refresh: $('refresh'), where: $('where'),
};

let state = parseState(location.search);
let inflight = null;
let timer = null;
let generation = 0;
let firstRender = true;

for (const select of [controls.dim, controls.dim2]) {
  for (const dim of DIMENSIONS) select.append(new Option(dim, dim));
}

// datetime-local inputs show local time; the URL keeps UTC.
function toLocalInput(iso) {
  const date = new Date(iso);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}

function showControls() {
  controls.view.value = state.view;
  controls.measure.value = state.measure;
  controls.dim.value = state.dim;
  controls.dim2.value = state.dim2;
  controls.limit.value = String(state.limit);
  controls.range.value = state.from ? 'abs' : state.last;
  controls.refresh.value = String(state.refresh);
  controls.where.value = state.where;
  const absolute = Boolean(state.from);
  $('absolute').hidden = !absolute;
  if (absolute) {
    controls.from.value = toLocalInput(state.from);
    controls.to.value = toLocalInput(state.to);
  }
  $('dim2-label').hidden = state.view !== 'sankey';
}

function readControls() {
  const next = {
    ...state,
    view: controls.view.value,
    measure: controls.measure.value,
    dim: controls.dim.value,
    dim2: controls.dim2.value,
    limit: Number(controls.limit.value),
    refresh: Number(controls.refresh.value),
    where: controls.where.value.trim(),
  };
  if (controls.range.value === 'abs') {
    let from = Date.parse(controls.from.value);
    let to = Date.parse(controls.to.value);
    if (Number.isNaN(from) || Number.isNaN(to) || from >= to) {
      // Switching to an absolute range starts from the relative range in view.
      const range = resolveRange(state);
      from = range.from * 1000;
      to = range.to * 1000;
    }
    next.from = new Date(from).toISOString();
    next.to = new Date(to).toISOString();
  } else {
    next.last = controls.range.value;
    next.from = '';
    next.to = '';
  }
  if (next.dim2 === next.dim) next.dim2 = next.dim === 'dest_port' ? 'source_ip' : 'dest_port';
  return next;
}

function apply(next) {
  state = next;
  const query = formatState(state);
  const url = `${location.pathname}${query ? `?${query}` : ''}`;
  if (url !== `${location.pathname}${location.search}`) history.pushState(null, '', url);
  showControls();
  schedule();
  render();
}

function schedule() {
  clearInterval(timer);
  timer = state.refresh > 0 ? setInterval(render, state.refresh * 1000) : null;
}

function setStatus(text, kind = '') {
  const status = $('status');
  status.textContent = text;
  status.className = kind;
}

function showFilterError(error) {
  const box = $('filter-error');
  if (!error) {
    box.hidden = true;
    controls.where.removeAttribute('aria-invalid');
    return;
  }
  box.hidden = false;
  controls.where.setAttribute('aria-invalid', 'true');
  const echo = $('filter-echo');
  echo.replaceChildren();
  const text = state.where;
  if (error.position !== null && error.position >= 0 && error.position <= text.length) {
    const at = error.position;
    const mark = document.createElement('mark');
    mark.textContent = text.slice(at, at + 1) || ' ';
    echo.append(text.slice(0, at), mark, text.slice(at + 1), '\n', `${' '.repeat(at)}^`);
    echo.dataset.position = String(at);
  } else {
    echo.textContent = text;
    delete echo.dataset.position;
  }
  $('filter-message').textContent = error.message;
}

function describe(range) {
  const info = MEASURE_INFO[state.measure];
  const when = state.from
    ? `${new Date(range.from * 1000).toISOString()} → ${new Date(range.to * 1000).toISOString()}`
    : `last ${state.last}`;
  const by = state.view === 'sankey' ? `${state.dim} → ${state.dim2}` : `${state.dim}, top ${state.limit} + Other`;
  return `${info.label} by ${by}, ${when}${state.where ? ` where ${state.where}` : ''}`;
}

async function render() {
  if (inflight) inflight.abort();
  const controller = new AbortController();
  inflight = controller;
  const mine = ++generation;
  const started = performance.now();
  document.body.dataset.state = 'loading';
  const range = resolveRange(state);
  const info = MEASURE_INFO[state.measure];
  const seconds = range.to - range.from;
  const toRate = (sum) => (info.perSecond ? (sum * info.factor) / seconds : sum);
  const dims = state.view === 'sankey' ? [state.dim, state.dim2] : [state.dim];
  const common = { measure: info.api, from: range.from, to: range.to, where: state.where };
  try {
    const topPromise = queryTop({ ...common, by: dims.join(','), limit: state.view === 'sankey' ? state.limit * 2 : state.limit },
      controller.signal);
    const seriesPromise = state.view === 'sankey' ? null
      : querySeries({ ...common, step: range.step, split_by: state.dim, limit: state.limit }, controller.signal);
    const [top, seriesBody] = await Promise.all([topPromise, seriesPromise]);
    if (mine !== generation) return;
    showFilterError(null);
    $('chart-title').textContent = describe(range);
    if (state.view === 'sankey') {
      destroySeriesChart();
      $('chart').hidden = true;
      $('sankey').hidden = false;
      drawSankey($('sankey'), top.rows ?? [], { dims, apiMeasure: info.api, measure: state.measure, toRate });
    } else {
      $('sankey').hidden = true;
      $('chart').hidden = false;
      $('sankey').replaceChildren();
      const data = normalizeSeries(seriesBody, info.api, state.dim);
      const step = Number(seriesBody.step) > 0 ? Number(seriesBody.step) : range.step;
      for (const s of data.series) s.values = s.values.map((v) => (info.perSecond ? (v * info.factor) / step : v));
      drawSeriesChart($('chart'), data, { measure: state.measure, stacked: state.view === 'stacked' });
    }
    drawTopTable({ head: $('top-head'), body: $('top-body'), foot: $('top-foot') }, top,
      { dims, measure: state.measure, apiMeasure: info.api, toRate });
    const elapsed = performance.now() - started;
    const sinceNavigation = performance.now();
    setStatus(`Updated ${new Date().toLocaleTimeString()} in ${Math.round(elapsed)} ms`);
    document.body.dataset.renderMs = String(Math.round(elapsed));
    if (firstRender) document.body.dataset.firstRenderMs = String(Math.round(sinceNavigation));
    firstRender = false;
    document.body.dataset.state = 'ready';
    document.body.dataset.generation = String(mine);
  } catch (error) {
    if (controller.signal.aborted || mine !== generation) return;
    document.body.dataset.state = 'error';
    document.body.dataset.generation = String(mine);
    if (error instanceof AuthRequired) {
      setStatus('A bearer token is required.', 'error');
      askToken();
    } else if (error instanceof BadRequest && (error.parameter === 'where' || /filter|where/i.test(error.message))) {
      showFilterError(error);
      setStatus('The filter has an error.', 'error');
    } else {
      setStatus(error.message, 'error');
    }
  } finally {
    if (inflight === controller) inflight = null;
  }
}

function askToken() {
  const dialog = $('token-dialog');
  if (!dialog.open) dialog.showModal();
}

$('token-form').addEventListener('submit', () => {
  setToken($('token').value.trim());
  render();
});

$('controls').addEventListener('submit', (event) => {
  event.preventDefault();
  apply(readControls());
});
for (const name of ['view', 'measure', 'dim', 'dim2', 'limit', 'range', 'from', 'to', 'refresh']) {
  controls[name].addEventListener('change', () => apply(readControls()));
}
window.addEventListener('popstate', () => {
  state = parseState(location.search);
  showControls();
  schedule();
  render();
});
window.addEventListener('resize', () => resizeSeriesChart($('chart')));

// Exposed for the browser tests and for people poking at the console.
window.flowmetricsConsole = { get state() { return { ...state }; }, ranges: RANGES, render };

showControls();
schedule();
render();
