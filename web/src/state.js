// The whole view state, kept in the page's query string so that a link reproduces the view.
// Only values that differ from the defaults appear in the URL.

export const DIMENSIONS = [
  'source_ip', 'dest_ip', 'source_port', 'dest_port', 'protocol',
  'source_ip/24', 'dest_ip/24', 'source_ip/16', 'dest_ip/16',
];
export const VIEWS = ['stacked', 'lines', 'sankey'];
export const MEASURES = ['bps', 'pps', 'fps', 'value'];
export const RANGES = { '15m': 900, '1h': 3600, '6h': 21600, '24h': 86400, '7d': 604800 };
export const LIMITS = [5, 10, 20, 50];
export const REFRESHES = [0, 10, 30, 60, 300];

export const DEFAULTS = Object.freeze({
  view: 'stacked',
  measure: 'bps',
  dim: 'source_ip',
  dim2: 'dest_port',
  limit: 10,
  last: '1h',
  from: '',  // RFC 3339, with `to`: an absolute range instead of `last`
  to: '',
  where: '',
  refresh: 0,
});

function validTime(text) {
  return text !== '' && !Number.isNaN(Date.parse(text));
}

// Reads a state from a query string; anything unknown falls back to its default.
export function parseState(search) {
  const params = new URLSearchParams(search);
  const state = { ...DEFAULTS };
  const pick = (name, allowed) => {
    const value = params.get(name);
    if (value !== null && allowed.includes(value)) state[name] = value;
  };
  pick('view', VIEWS);
  pick('measure', MEASURES);
  pick('dim', DIMENSIONS);
  pick('dim2', DIMENSIONS);
  pick('last', Object.keys(RANGES));
  const limit = Number(params.get('limit'));
  if (LIMITS.includes(limit)) state.limit = limit;
  const refresh = Number(params.get('refresh'));
  if (REFRESHES.includes(refresh)) state.refresh = refresh;
  const from = params.get('from') ?? '';
  const to = params.get('to') ?? '';
  if (validTime(from) && validTime(to) && Date.parse(from) < Date.parse(to)) {
    state.from = new Date(from).toISOString();
    state.to = new Date(to).toISOString();
  }
  state.where = params.get('where') ?? '';
  if (state.dim2 === state.dim) state.dim2 = state.dim === 'dest_port' ? 'source_ip' : 'dest_port';
  return state;
}

// The query string for a state (without the leading '?'), defaults left out.
export function formatState(state) {
  const params = new URLSearchParams();
  for (const [name, fallback] of Object.entries(DEFAULTS)) {
    if (name === 'last' && state.from) continue;
    if (name === 'dim2' && state.view !== 'sankey') continue;
    const value = state[name];
    if (value !== fallback && value !== '' && value !== undefined) params.set(name, String(value));
  }
  return params.toString();
}

// The time range a state asks for right now, in epoch seconds, with the step of its series.
// A relative range ends at the next step boundary, so that the newest bin is included and the
// bins of the series and the range of the table are the same.
export function resolveRange(state, nowMs = Date.now()) {
  if (state.from && state.to) {
    const from = Math.floor(Date.parse(state.from) / 1000);
    const to = Math.floor(Date.parse(state.to) / 1000);
    return { from, to, step: stepFor(to - from) };
  }
  const seconds = RANGES[state.last];
  const step = stepFor(seconds);
  const to = Math.ceil(nowMs / 1000 / step) * step;
  return { from: to - seconds, to, step };
}

// The coarsest one of a few round steps that still gives about 200 points or fewer.
export function stepFor(seconds) {
  for (const step of [60, 300, 900, 3600, 21600, 86400]) {
    if (seconds / step <= 200) return step;
  }
  return 86400;
}
