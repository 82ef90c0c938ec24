/**
 * A hand-written SVG line chart of the training metrics (no dependency): one panel per series
 * (loss; for DPO also reward accuracy and margin) over the steps.
 */
import fs from 'node:fs';

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

const W = 360, H = 200, PAD = 36;
const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v: number) => (Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(3));

function panel(s: Series, x0: number): string {
  const pts = s.points.filter(([, y]) => Number.isFinite(y));
  const head = `<g transform="translate(${x0},0)"><rect x="0" y="0" width="${W}" height="${H}" fill="white" stroke="#ccc"/><text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(s.name)}</text>`;
  if (!pts.length) return `${head}<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-size="11">no data</text></g>`;
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const [xa, xb] = [Math.min(...xs), Math.max(...xs)];
  let [ya, yb] = [Math.min(...ys), Math.max(...ys)];
  if (ya === yb) [ya, yb] = [ya - 0.5, yb + 0.5];
  const sx = (x: number) => PAD + ((x - xa) / Math.max(1e-12, xb - xa)) * (W - 2 * PAD);
  const sy = (y: number) => H - PAD + 12 - ((y - ya) / (yb - ya)) * (H - 2 * PAD);
  const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
  return `${head}<path d="${d}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>` +
    `<text x="4" y="${sy(yb) + 4}" font-size="10">${num(yb)}</text><text x="4" y="${sy(ya) + 4}" font-size="10">${num(ya)}</text>` +
    `<text x="${PAD}" y="${H - 4}" font-size="10">step ${xa}</text><text x="${W - PAD}" y="${H - 4}" text-anchor="end" font-size="10">${xb}</text></g>`;
}

/** An SVG document with one panel per series, side by side. */
export function lineChartSvg(series: readonly Series[]): string {
  const w = series.length * (W + 10);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${H}" viewBox="0 0 ${w} ${H}" font-family="sans-serif">` + series.map((s, i) => panel(s, i * (W + 10))).join('') + '</svg>\n';
}

/** Writes loss (and for DPO reward accuracy and margin) over the steps. */
export function writeMetricsSvg(file: string, history: readonly { step: number; loss: number; rewardAccuracy: number; margin: number }[], kind: 'sft' | 'dpo'): void {
  const s: Series[] = [{ name: 'loss', points: history.map((e) => [e.step, e.loss]) }];
  if (kind === 'dpo') s.push({ name: 'reward accuracy', points: history.map((e) => [e.step, e.rewardAccuracy]) }, { name: 'margin', points: history.map((e) => [e.step, e.margin]) });
  fs.writeFileSync(file, lineChartSvg(s));
}
