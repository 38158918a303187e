// The query API (/v1/query/top and /v1/query/series) from the page: same origin, the bearer
// token from sessionStorage when the collector asks for one.

const TOKEN_KEY = 'flowmetrics.token';

export class AuthRequired extends Error {}

// A 400 answer: `parameter` names the bad parameter, `position` (0-based, or null) the place in
// the filter where parsing failed.
export class BadRequest extends Error {
  constructor(message, parameter, position) {
    super(message);
    this.parameter = parameter;
    this.position = position;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

// Finds where a filter error points, from a structured field or from the message text.
function errorPosition(body) {
  for (const name of ['position', 'offset', 'column']) {
    if (Number.isInteger(body?.[name])) return body[name];
  }
  const match = /(?:position|offset|column|at)\s+(\d+)/i.exec(body?.message ?? '');
  return match ? Number(match[1]) : null;
}

async function get(path, params, signal) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== '' && value !== undefined && value !== null) query.set(name, String(value));
  }
  const headers = { Accept: 'application/json' };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(`${path}?${query}`, { headers, signal, cache: 'no-store' });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 401) throw new AuthRequired(body?.message ?? 'a bearer token is required');
  if (response.status === 400) {
    const message = body?.message ?? body?.error ?? 'bad request';
    const parameter = body?.parameter ?? body?.reason ?? '';
    throw new BadRequest(message, parameter, errorPosition(body));
  }
  if (!response.ok || body === null) {
    throw new Error(body?.message ?? body?.error ?? `${path}: HTTP ${response.status}`);
  }
  return body;
}

export function queryTop(params, signal) {
  return get('/v1/query/top', params, signal);
}

export function querySeries(params, signal) {
  return get('/v1/query/series', params, signal);
}

// Seconds since the epoch from a number (seconds or milliseconds) or RFC 3339 text.
function toSeconds(time) {
  if (typeof time === 'number') return time > 1e11 ? time / 1000 : time;
  return Date.parse(time) / 1000;
}

// The dimension values of a row as text, in the order of `dims`.
export function rowLabel(row, dims) {
  return dims.map((dim) => String(row[dim] ?? row[dim.split('/')[0]] ?? '')).join(' · ');
}

// The series answer as uPlot wants it: times in seconds and one array of values per series,
// the split series first (largest first, as the server ranks them) and "Other" last.
export function normalizeSeries(body, measure, dim) {
  const times = (body.times ?? body.timestamps ?? []).map(toSeconds);
  const series = [];
  for (const entry of body.series ?? []) {
    const values = entry.values ?? entry[measure] ?? [];
    const other = entry.other === true || entry.label === 'other' || entry.name === 'other';
    const label = other ? 'Other' : entry.label ?? entry.name ?? (dim ? rowLabel(entry.key ?? entry, [dim]) : 'total');
    series.push({ label, values: values.map(Number), other });
  }
  if (body.other && Array.isArray(body.other.values ?? body.other[measure])) {
    series.push({ label: 'Other', values: (body.other.values ?? body.other[measure]).map(Number), other: true });
  }
  return { times, series };
}
