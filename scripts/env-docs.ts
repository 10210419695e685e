/*
 * `npm run docs:env`: rewrites `.env.example` and README's configuration table from the one variable
 * table (shared/config/schema.ts). A unit test fails when either is out of step.
 */
import fs from 'node:fs';
import path from 'node:path';
import { VARS, type VarSpec } from '../shared/config';

const root = path.resolve(__dirname, '..');
const entries = Object.entries<VarSpec>(VARS);
const choices = (spec: VarSpec) => (spec.values && spec.type === 'enum' ? spec.values.join(' | ') : '');

const example = [
  '# Arxos configuration: every variable, with its default. Copy to .env and change what you need.',
  '# Variables already set in the environment win over this file.',
  '',
  ...entries.flatMap(([name, spec]) => [
    `# ${spec.doc}${choices(spec) ? ` (${choices(spec)})` : ''}`,
    `${name}=${spec.default ?? ''}`,
    '',
  ]),
].join('\n');

const table = [
  '| variable | default | meaning |',
  '|---|---|---|',
  ...entries.map(
    ([name, spec]) =>
      `| \`${name}\` | \`${spec.default ?? ''}\` | ${spec.doc}${choices(spec) ? ` One of: ${choices(spec).replace(/ \| /g, ', ')}.` : ''} |`,
  ),
].join('\n');

fs.writeFileSync(path.join(root, '.env.example'), example);
const readmePath = path.join(root, 'README.md');
const readme = fs.readFileSync(readmePath, 'utf8');
const begin = '<!-- env:begin -->';
const end = '<!-- env:end -->';
const from = readme.indexOf(begin);
const to = readme.indexOf(end);
if (from < 0 || to < from) throw new Error(`README.md lacks the ${begin} ... ${end} markers`);
fs.writeFileSync(readmePath, `${readme.slice(0, from + begin.length)}\n${table}\n${readme.slice(to)}`);
console.log(`[arxos] .env.example and README.md list ${entries.length} variables`);
