// docs/schema.json: the JSON Schema (draft 2020-12) of every command's --json
// output, generated from src/schema/outputs.ts by `npm run schema`; a test
// fails when the committed file is stale.
import { z } from 'zod';
import { COMMAND_OUTPUTS } from './outputs.js';

function jsonSchemaDocument(): Record<string, unknown> {
  const commands: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(COMMAND_OUTPUTS)) commands[name] = z.toJSONSchema(schema, { unrepresentable: 'any' });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'backdoor-lab machine-readable output',
    description: 'The --json output of each bdlab command (one object on stdout), keyed by command path. Generated from src/schema/outputs.ts.',
    commands,
  };
}

export function jsonSchemaText(): string {
  return JSON.stringify(jsonSchemaDocument(), null, 2) + '\n';
}
