/**
 * A progress bar on stderr with rate and ETA: redrawn in place on a terminal,
 * one line every few seconds otherwise (logs, CI, pipelines — stdout stays
 * clean for --json). BDLAB_PROGRESS=0 silences it.
 */
export interface ProgressOptions {
  label: string;
  total?: number;
  unit?: string;
  force?: boolean;
}

const QUIET_MS = 2000;
const LOG_EVERY_MS = 5000;

export class Progress {
  private done = 0;
  private readonly start = Date.now();
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly enabled: boolean;

  constructor(private readonly opts: ProgressOptions) {
    this.tty = Boolean(process.stderr.isTTY);
    this.enabled = Boolean(opts.force) || process.env.BDLAB_PROGRESS !== '0';
  }

  tick(n = 1, extra = ''): void {
    this.done += n;
    if (!this.enabled) return;
    const now = Date.now();
    // a log gets its first line after QUIET_MS (short jobs stay silent), then one every LOG_EVERY_MS
    const due = this.tty ? now - this.lastDraw >= 100 : now - this.start >= QUIET_MS && now - this.lastDraw >= LOG_EVERY_MS;
    if (due) {
      this.lastDraw = now;
      this.draw(extra);
    }
  }

  finish(extra = ''): void {
    if (!this.enabled) return;
    // a log that showed progress also shows the end; a short job stays silent
    if (this.tty || this.lastDraw > 0) this.draw(extra);
    if (this.tty) process.stderr.write('\n');
  }

  /** The text of the bar, exposed for tests. */
  render(extra = ''): string {
    const secs = Math.max((Date.now() - this.start) / 1000, 1e-9);
    const rate = this.done / secs;
    const unit = this.opts.unit ?? 'it';
    const total = this.opts.total;
    let bar = '';
    let eta = '';
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, this.done / total);
      const width = 24;
      const filled = Math.round(frac * width);
      bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${total} `;
      eta = rate > 0 ? ` eta ${formatSeconds((total - this.done) / rate)}` : '';
    } else {
      bar = `${this.done} `;
    }
    return `${this.opts.label} ${bar}${rate.toFixed(rate < 10 ? 2 : 0)} ${unit}/s${eta}${extra ? ' ' + extra : ''}`;
  }

  private draw(extra: string): void {
    const line = this.render(extra);
    process.stderr.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
