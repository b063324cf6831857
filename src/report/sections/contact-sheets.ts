import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { ExperimentResults } from '../../experiment/results-schema.js';
import { escapeHtml, type Section } from '../html.js';
import { sharp } from '../../data/vips.js';

const THUMB = 128;

/** A downscaled PNG thumbnail as a data URI (sharp), or null when the file is not there. */
async function thumbnail(path: string): Promise<string | null> {
  if (!existsSync(path)) return null;
  const png = await sharp(readFileSync(path)).resize(THUMB, THUMB, { fit: 'inside', withoutEnlargement: true }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** Poisoned images of each attack in each domain, embedded as thumbnails. */
export async function contactSheetsSection(r: ExperimentResults, baseDir: string): Promise<Section | null> {
  if (r.contact_sheets.length === 0) return null;
  const parts: string[] = [];
  let missing = 0;
  for (const s of r.contact_sheets) {
    const cells: string[] = [];
    for (const img of s.images) {
      const uri = await thumbnail(isAbsolute(img.poisoned) ? img.poisoned : join(baseDir, img.poisoned));
      if (!uri) {
        missing++;
        continue;
      }
      cells.push(`<figure><img src="${uri}" alt="${escapeHtml(`${s.attack}, ${s.domain}, ${img.label}`)}"><figcaption>${escapeHtml(img.label)}</figcaption></figure>`);
    }
    if (cells.length > 0) parts.push(`<h3>${escapeHtml(s.attack)} — ${escapeHtml(s.domain)} (seed ${s.seed})</h3>\n<div class="sheet">${cells.join('')}</div>`);
  }
  if (missing > 0) parts.push(`<p class="note">${missing} image(s) listed in the results were not found beside them and are left out.</p>`);
  if (parts.length === 0) return null;
  return { id: 'contact-sheets', title: 'Poisoned images', html: parts.join('\n') };
}
