#!/usr/bin/env node
// Writes docs/schema.json from the compiled schemas (run `npm run build` first; `npm run schema` does both).
import { writeFileSync } from 'node:fs';
import { jsonSchemaText } from '../dist/src/schema/json-schema.js';

writeFileSync(new URL('../docs/schema.json', import.meta.url), jsonSchemaText());
console.log('wrote docs/schema.json');
