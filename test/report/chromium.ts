// Headless Chromium driven over the Chrome DevTools Protocol on a pipe
// (--remote-debugging-pipe: JSON messages ending in NUL on file descriptors
// 3 and 4), with no npm package: opens a page, collects console errors,
// failed loads and every requested URL, evaluates an expression, and takes a
// full-page screenshot.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable, Writable } from 'node:stream';

/** The Chromium binary: $BDLAB_CHROMIUM, else the first of the usual names on PATH. */
export function findChromium(): string | null {
  const candidates = [process.env.BDLAB_CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].filter((c): c is string => !!c);
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0 && /chrom/i.test(r.stdout)) return c;
  }
  return null;
}

export interface PageReport {
  /** console.error/assert calls, uncaught exceptions, and browser log entries at level error (CSP, failed loads). */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
  value: unknown;
  screenshot: Buffer;
}

type Message = { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string };

class Cdp {
  private next = 1;
  private buffer = '';
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly listeners: Array<(m: Message) => void> = [];

  constructor(
    private readonly input: Writable,
    output: Readable,
  ) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.buffer.slice(0, end)) as Message;
        this.buffer = this.buffer.slice(end + 1);
        if (msg.id !== undefined && this.pending.has(msg.id)) {
          const p = this.pending.get(msg.id)!;
          this.pending.delete(msg.id);
          if (msg.error) p.reject(new Error(msg.error.message));
          else p.resolve(msg.result ?? {});
        } else for (const l of this.listeners) l(msg);
      }
    });
  }

  on(l: (m: Message) => void): void {
    this.listeners.push(l);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`CDP ${method}: no answer in ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.input.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  }

  waitFor(method: string, sessionId: string, timeoutMs = 60_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`CDP: no ${method} in ${timeoutMs / 1000} s`)), timeoutMs);
      this.on((m) => {
        if (m.method === method && m.sessionId === sessionId) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }
}

/** Opens a local HTML file in headless Chromium and reports on it. */
export async function inspectPage(chromium: string, file: string, expression: string, width = 1200): Promise<PageReport> {
  const profile = mkdtempSync(join(tmpdir(), 'bdlab-chromium-'));
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-dev-shm-usage',
    `--user-data-dir=${profile}`,
    '--remote-debugging-pipe',
    'about:blank',
  ];
  const child: ChildProcess = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  try {
    const cdp = new Cdp(child.stdio[3] as Writable, child.stdio[4] as Readable);
    let finished = false;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => {
        if (!finished) reject(new Error(`chromium exited (${code}) before the page was inspected: ${stderr.slice(-500)}`));
      }),
    );
    const run = async (): Promise<PageReport> => {
      const { targetId } = (await cdp.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
      const { sessionId } = (await cdp.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
      const errors: string[] = [];
      const requests: string[] = [];
      cdp.on((m) => {
        if (m.sessionId !== sessionId || !m.params) return;
        const p = m.params as Record<string, unknown>;
        if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
          errors.push(`console.${String(p.type)}: ${JSON.stringify((p.args as Array<{ value?: unknown; description?: string }>).map((a) => a.value ?? a.description))}`);
        } else if (m.method === 'Runtime.exceptionThrown') {
          errors.push(`exception: ${JSON.stringify((p.exceptionDetails as { text?: string }).text)}`);
        } else if (m.method === 'Log.entryAdded') {
          const e = p.entry as { level: string; text: string; url?: string };
          if (e.level === 'error') errors.push(`log: ${e.text}${e.url ? ` (${e.url})` : ''}`);
        } else if (m.method === 'Network.requestWillBeSent') {
          requests.push(String((p.request as { url: string }).url));
        }
      });
      for (const d of ['Runtime.enable', 'Log.enable', 'Network.enable', 'Page.enable']) await cdp.send(d, {}, sessionId);
      await cdp.send('Emulation.setDeviceMetricsOverride', { width, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId);
      const loaded = cdp.waitFor('Page.loadEventFired', sessionId);
      await cdp.send('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
      await loaded;
      const ev = (await cdp.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as { result: { value: unknown }; exceptionDetails?: { text: string } };
      if (ev.exceptionDetails) throw new Error(`evaluate: ${ev.exceptionDetails.text}`);
      const metrics = (await cdp.send('Page.getLayoutMetrics', {}, sessionId)) as { cssContentSize: { width: number; height: number } };
      const height = Math.min(Math.ceil(metrics.cssContentSize.height), 16_000);
      const shot = (await cdp.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width, height, scale: 1 } }, sessionId)) as { data: string };
      finished = true;
      const closed = new Promise((resolve) => child.once('exit', resolve));
      await cdp.send('Browser.close').catch(() => undefined);
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      return { errors, requests, value: ev.result.value, screenshot: Buffer.from(shot.data, 'base64') };
    };
    return await Promise.race([run(), exited]);
  } finally {
    if (child.exitCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    // the browser's helper processes may still be writing to the profile for a moment
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}
