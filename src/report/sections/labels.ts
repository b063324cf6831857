/** Short names for a model configuration in charts and tables. */
export interface CellLike {
  role: 'clean' | 'victim' | 'defended';
  attack: string | null;
  target: string | null;
  rate: number | null;
  defense: string | null;
}

export const ratePct = (r: number): string => `${Number((r * 100).toPrecision(6))} %`;

/** Which parts of a label vary among the rows shown together (a part that never varies is left out). */
export function varying(rows: readonly CellLike[]): { targets: boolean; rates: boolean } {
  const targets = new Set(rows.flatMap((m) => (m.target === null ? [] : [m.target])));
  const rates = new Set(rows.flatMap((m) => (m.rate === null ? [] : [m.rate])));
  return { targets: targets.size > 1, rates: rates.size > 1 };
}

export function attackLabel(c: CellLike, v: { targets: boolean; rates: boolean }): string {
  if (c.attack === null) return 'clean model';
  let s = c.attack;
  if (v.targets && c.target) s += ` → ${c.target}`;
  if (v.rates && c.rate !== null) s += ` @ ${ratePct(c.rate)}`;
  return s;
}

export function modelLabel(c: CellLike, v: { targets: boolean; rates: boolean }): string {
  if (c.role === 'clean') return 'clean model';
  const a = attackLabel(c, v);
  return c.role === 'defended' ? `${a} + ${c.defense}` : `${a} (victim)`;
}
