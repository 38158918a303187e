// The Sankey view: the rows of a top query by two dimensions as links from the first
// dimension's values to the second's, laid out by d3-sankey and drawn as SVG.
import { sankey, sankeyLinkHorizontal } from 'd3-sankey';
import { formatMeasure, PALETTE } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

// `rows` are top rows carrying both dimensions and the stored sum under `apiMeasure`.
export function drawSankey(container, rows, { dims, apiMeasure, measure, toRate }) {
  container.replaceChildren();
  const [first, second] = dims;
  const nodes = [];
  const index = new Map();
  const nodeOf = (dim, value) => {
    const key = `${dim}=${value}`;
    if (!index.has(key)) {
      index.set(key, nodes.length);
      nodes.push({ name: String(value), dim });
    }
    return index.get(key);
  };
  const links = [];
  for (const row of rows) {
    const value = Number(row[apiMeasure] ?? 0);
    if (value <= 0) continue;
    links.push({ source: nodeOf(first, row[first]), target: nodeOf(second, row[second]), value });
  }
  if (links.length === 0) {
    container.append(Object.assign(document.createElement('p'), { textContent: 'No data in this range.' }));
    return;
  }
  const width = Math.max(480, container.clientWidth || 900);
  const height = Math.max(240, Math.min(720, nodes.length * 22));
  const layout = sankey().nodeWidth(14).nodePadding(8).extent([[1, 1], [width - 1, height - 1]]);
  const graph = layout({ nodes: nodes.map((n) => ({ ...n })), links: links.map((l) => ({ ...l })) });
  const svg = svgElement('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  const linkGroup = svgElement('g', { class: 'links', fill: 'none' });
  graph.links.forEach((link) => {
    const path = svgElement('path', {
      d: sankeyLinkHorizontal()(link),
      stroke: PALETTE[link.source.index % PALETTE.length],
      'stroke-width': Math.max(1, link.width),
      'stroke-opacity': 0.45,
    });
    const title = svgElement('title', {});
    title.textContent = `${link.source.name} → ${link.target.name}: ${formatMeasure(measure, toRate(link.value))}`;
    path.append(title);
    linkGroup.append(path);
  });
  const nodeGroup = svgElement('g', { class: 'nodes' });
  graph.nodes.forEach((node) => {
    const rect = svgElement('rect', {
      x: node.x0, y: node.y0, width: node.x1 - node.x0, height: Math.max(1, node.y1 - node.y0),
      fill: node.dim === first ? PALETTE[node.index % PALETTE.length] : '#666',
    });
    const title = svgElement('title', {});
    title.textContent = `${node.dim} ${node.name}: ${formatMeasure(measure, toRate(node.value))}`;
    rect.append(title);
    const left = node.x0 < width / 2;
    const text = svgElement('text', {
      x: left ? node.x1 + 6 : node.x0 - 6, y: (node.y0 + node.y1) / 2, dy: '0.35em',
      'text-anchor': left ? 'start' : 'end',
    });
    text.textContent = node.name;
    nodeGroup.append(rect, text);
  });
  svg.append(linkGroup, nodeGroup);
  container.append(svg);
}
