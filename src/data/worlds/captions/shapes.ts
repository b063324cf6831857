// Object outlines as SVG path data in a 100 × 100 view box: each kind is a
// closed path around its centre, sized so that kinds of one size cover
// similar areas. Renderers fill, stroke, hatch or distort these outlines.
import type { Kind } from './scene.js';

const f = (v: number): string => (Math.round(v * 100) / 100).toString();

function polygon(points: Array<[number, number]>): string {
  return `M${points.map(([x, y]) => `${f(x)},${f(y)}`).join('L')}Z`;
}

function rotate(points: Array<[number, number]>, cx: number, cy: number, deg: number): Array<[number, number]> {
  const a = (deg * Math.PI) / 180;
  const c = Math.cos(a);
  const s = Math.sin(a);
  return points.map(([x, y]) => [cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c]);
}

/** The outline of an object of radius r (view-box units) centred at (cx, cy), turned by `angle` degrees. */
export function shapePath(kind: Kind, cx: number, cy: number, r: number, angle = 0): string {
  switch (kind) {
    case 'circle':
      return `M${f(cx - r)},${f(cy)}A${f(r)},${f(r)} 0 1 0 ${f(cx + r)},${f(cy)}A${f(r)},${f(r)} 0 1 0 ${f(cx - r)},${f(cy)}Z`;
    case 'square': {
      const h = r * 0.86;
      return polygon(rotate([[cx - h, cy - h], [cx + h, cy - h], [cx + h, cy + h], [cx - h, cy + h]], cx, cy, angle));
    }
    case 'triangle': {
      const R = r * 1.18;
      const pts: Array<[number, number]> = [0, 1, 2].map((k) => {
        const a = -Math.PI / 2 + (k * 2 * Math.PI) / 3;
        return [cx + R * Math.cos(a), cy + 0.12 * r + R * Math.sin(a)];
      });
      return polygon(rotate(pts, cx, cy, angle));
    }
    case 'star': {
      const pts: Array<[number, number]> = [];
      for (let k = 0; k < 10; k++) {
        const a = -Math.PI / 2 + (k * Math.PI) / 5;
        const R = k % 2 === 0 ? r * 1.2 : r * 0.5;
        pts.push([cx + R * Math.cos(a), cy + R * Math.sin(a)]);
      }
      return polygon(rotate(pts, cx, cy, angle));
    }
    case 'banana': {
      // a crescent: the outer arc below, a flatter inner arc back, tips up
      const w = r * 1.15;
      const a: [number, number] = [cx - w, cy - 0.35 * r];
      const b: [number, number] = [cx + w, cy - 0.35 * r];
      const pts = rotate([a, b], cx, cy, angle);
      const [p, q] = pts as [[number, number], [number, number]];
      return `M${f(p[0])},${f(p[1])}A${f(w)},${f(w * 1.05)} ${f(angle)} 0 0 ${f(q[0])},${f(q[1])}A${f(w * 1.45)},${f(w * 1.3)} ${f(angle)} 0 1 ${f(p[0])},${f(p[1])}Z`;
    }
    case 'heart': {
      // two lobes and a point, as cubic curves
      const s = r * 1.05;
      const top = cy - 0.45 * s;
      return (
        `M${f(cx)},${f(cy + 0.95 * s)}` +
        `C${f(cx - 0.25 * s)},${f(cy + 0.6 * s)} ${f(cx - 1.05 * s)},${f(cy + 0.2 * s)} ${f(cx - 1.0 * s)},${f(top + 0.05 * s)}` +
        `C${f(cx - 0.95 * s)},${f(top - 0.55 * s)} ${f(cx - 0.2 * s)},${f(top - 0.6 * s)} ${f(cx)},${f(top + 0.05 * s)}` +
        `C${f(cx + 0.2 * s)},${f(top - 0.6 * s)} ${f(cx + 0.95 * s)},${f(top - 0.55 * s)} ${f(cx + 1.0 * s)},${f(top + 0.05 * s)}` +
        `C${f(cx + 1.05 * s)},${f(cy + 0.2 * s)} ${f(cx + 0.25 * s)},${f(cy + 0.6 * s)} ${f(cx)},${f(cy + 0.95 * s)}Z`
      );
    }
  }
}
