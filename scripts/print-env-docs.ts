/*
 * `node -r ts-node/register/transpile-only scripts/print-env-docs.ts [example|table]`: prints
 * `.env.example` or README's configuration table from the one variable table (shared/config/schema.ts).
 */
import { VARS, type VarSpec } from '../shared/config';

const mode = process.argv[2] ?? 'example';
const entries = Object.entries<VarSpec>(VARS);
if (mode === 'table') {
  console.log('| variable | default | meaning |\n|---|---|---|');
  for (const [name, spec] of entries) {
    const values = spec.values && spec.type === 'enum' ? ` One of: ${spec.values.join(', ')}.` : '';
    console.log(`| \`${name}\` | \`${spec.default ?? ''}\` | ${spec.doc}${values} |`);
  }
} else {
  console.log(
    '# Arxos configuration: every variable, with its default. Copy to .env and change what you need.',
  );
  console.log('# Variables already set in the environment win over this file.\n');
  for (const [name, spec] of entries) {
    console.log(`# ${spec.doc}${spec.values && spec.type === 'enum' ? ` (${spec.values.join(' | ')})` : ''}`);
    console.log(`${name}=${spec.default ?? ''}\n`);
  }
}
