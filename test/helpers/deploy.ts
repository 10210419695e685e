/*
 * Reading the deployment files (docker-compose.yml, k8s/, deploy/) the way their tools do, for the
 * deploy.*.spec.ts tests: kustomize renders through the real kubectl, YAML parses with merge keys
 * like Compose, and a missing tool fails with the package that brings it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(__dirname, '../..');

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const rec = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The value at a path of keys and indexes, or undefined where the path ends early. */
export function at(v: unknown, ...keys: (string | number)[]): unknown {
  let cur = v;
  for (const key of keys) {
    if (typeof key === 'number') cur = Array.isArray(cur) ? cur[key] : undefined;
    else cur = isRecord(cur) ? cur[key] : undefined;
  }
  return cur;
}

export const readText = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** One YAML document, `<<` merge keys resolved as Docker Compose does. */
export const readYaml = (rel: string): unknown => parse(readText(rel), { merge: true });

/** Runs a command-line tool; where it is not installed, says which package brings it. */
export function runTool(cmd: string, args: string[], install: string): string {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (isRecord(err) && err.code === 'ENOENT') throw new Error(`${cmd} is not installed: ${install}`);
    const stderr = isRecord(err) ? (str(err.stderr) ?? '') : '';
    const stdout = isRecord(err) ? (str(err.stdout) ?? '') : '';
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${stdout}${stderr}`);
  }
}

export const PROMTOOL_HINT =
  "promtool comes with Debian's `prometheus` package: apt-get install -y prometheus (npm test installs it where it may)";

export type K8sObject = Record<string, unknown>;

export const kindOf = (o: unknown) => str(at(o, 'kind')) ?? '';
export const nameOf = (o: unknown) => str(at(o, 'metadata', 'name')) ?? '';
export const labelsOf = (o: unknown, ...where: string[]) => rec(at(o, ...where, 'labels'));

export const OVERLAYS = fs
  .readdirSync(path.join(ROOT, 'k8s/overlays'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

const rendered = new Map<string, K8sObject[]>();

/** `kubectl kustomize k8s/overlays/<overlay>` (or `base`), parsed; once per run. */
export function renderKustomize(dir: string): K8sObject[] {
  const cached = rendered.get(dir);
  if (cached) return cached;
  const out = runTool(
    'kubectl',
    ['kustomize', path.join('k8s', dir)],
    'kubectl (its built-in kustomize) renders the manifests: https://kubernetes.io/docs/tasks/tools/',
  );
  const objects = parseAllDocuments(out)
    .map((doc): unknown => {
      const js: unknown = doc.toJS();
      return js;
    })
    .filter(isRecord);
  rendered.set(dir, objects);
  return objects;
}

export const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => kindOf(o) === kind);

/** The pod template of a Deployment or Job. */
export const podSpecOf = (o: unknown) => rec(at(o, 'spec', 'template', 'spec'));
export const containersOf = (o: unknown) => arr(podSpecOf(o).containers).map(rec);

/** `SERVICES` as set in a container's own env. */
export const servicesEnvOf = (container: Record<string, unknown>) =>
  str(
    arr(container.env)
      .map(rec)
      .find((e) => e.name === 'SERVICES')?.value,
  );

/** A `data`/`stringData` map of a ConfigMap or Secret, decoded. */
export function dataOf(o: K8sObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec(o.data)))
    if (typeof v === 'string') out[k] = kindOf(o) === 'Secret' ? Buffer.from(v, 'base64').toString() : v;
  for (const [k, v] of Object.entries(rec(o.stringData))) if (typeof v === 'string') out[k] = v;
  return out;
}
