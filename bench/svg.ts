/** A small dependency-free SVG line chart: several panels, log-scaled x axis, linear y from 0. */

/** One line of a panel: points (x, y); y null = missing. */
export interface Series {
  name: string;
  points: Array<[number, number | null]>;
}

/** One panel: title, axis labels and lines. `xTicks` are [value, label] pairs. */
export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  xTicks: Array<[number, string]>;
  series: Series[];
}

const W = 420, H = 300, M = { l: 56, r: 12, t: 28, b: 44 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function panel(p: Panel, ox: number): string {
  const xs = p.xTicks.map(([v]) => Math.log10(v));
  const lo = Math.min(...xs), hi = Math.max(...xs) === lo ? lo + 1 : Math.max(...xs);
  // 12% padding on each side keeps the first and last tick labels inside the panel.
  const x0 = lo - 0.12 * (hi - lo), x1 = hi + 0.12 * (hi - lo);
  const ys = p.series.flatMap((s) => s.points.map(([, y]) => y ?? 0));
  const yMax = niceMax(Math.max(0, ...ys));
  const pw = W - M.l - M.r, ph = H - M.t - M.b;
  const X = (v: number) => ox + M.l + ((Math.log10(v) - x0) / (x1 - x0)) * pw;
  const Y = (v: number) => M.t + ph - (v / yMax) * ph;
  const out: string[] = [];
  out.push(`<text x="${ox + W / 2}" y="16" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<rect x="${ox + M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(`<line x1="${ox + M.l}" x2="${ox + M.l + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>`);
    out.push(`<text x="${ox + M.l - 4}" y="${Y(v) + 4}" text-anchor="end">${+v.toPrecision(3)}</text>`);
  }
  for (const [v, label] of p.xTicks) out.push(`<text x="${X(v)}" y="${M.t + ph + 16}" text-anchor="middle">${esc(label)}</text>`);
  out.push(`<text x="${ox + M.l + pw / 2}" y="${H - 6}" text-anchor="middle">${esc(p.xLabel)}</text>`);
  out.push(`<text transform="translate(${ox + 14},${M.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
  p.series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const pts = s.points.filter((pt): pt is [number, number] => pt[1] !== null);
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of pts) out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3" fill="${c}"/>`);
    out.push(`<rect x="${ox + M.l + 6}" y="${M.t + 6 + i * 14}" width="10" height="3" fill="${c}"/><text x="${ox + M.l + 20}" y="${M.t + 11 + i * 14}">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** Renders `panels` side by side into one SVG document. */
export function renderSvg(panels: Panel[]): string {
  const width = W * panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif" font-size="10">`,
    `<rect width="${width}" height="${H}" fill="white"/>`,
    ...panels.map((p, i) => panel(p, i * W)),
    '</svg>',
    '',
  ].join('\n');
}
