/*
 * npm run import -- <devices.csv|devices.ndjson|devices.json> [--mode all-or-nothing|skip-invalid] [--dry-run]
 *
 * Streams a device file to POST /api/v1/devices/bulk as NDJSON, with a progress bar of the bytes
 * read, then prints the counts and the first invalid rows. CSV files have a header row naming the
 * device fields (an export's columns are accepted: the ones an import cannot set are left out and
 * named); `location` and `metadata` cells hold JSON, empty cells are absent.
 *
 * Where: ARXOS_URL (default http://127.0.0.1:$PORT). Who: ARXOS_TOKEN, or ARXOS_EMAIL and
 * ARXOS_PASSWORD (default: the first admin's, ARXOS_ADMIN_EMAIL / ARXOS_ADMIN_PASSWORD).
 * Exit code: 0 when every row was imported (or would be, with --dry-run), 1 otherwise.
 */
import { createReadStream, statSync } from 'node:fs';
import { pipeline, Readable, Transform } from 'node:stream';
import { parse } from 'csv-parse';
import { config } from '../shared/config';
import { DEVICE_FIELDS } from '../services/devices/devices.resources';

interface Args {
  file: string;
  mode: string;
  dryRun: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { file: '', mode: 'all-or-nothing', dryRun: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--dry-run') args.dryRun = true;
    else if (a === '--mode') args.mode = argv[++i] ?? '';
    else if (a.startsWith('--mode=')) args.mode = a.slice('--mode='.length);
    else if (!a.startsWith('--') && !args.file) args.file = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.file)
    throw new Error(
      'usage: npm run import -- <devices.csv|devices.ndjson> [--mode skip-invalid] [--dry-run]',
    );
  if (!['all-or-nothing', 'skip-invalid'].includes(args.mode))
    throw new Error('--mode must be all-or-nothing or skip-invalid');
  return args;
}

/** The columns an import may set: the writable device fields and metadata. */
const WRITABLE = new Set([
  ...Object.entries(DEVICE_FIELDS)
    .filter(([, s]) => !s.readOnly)
    .map(([k]) => k),
  'metadata',
]);
const JSON_COLUMNS = new Set(['location', 'metadata']);

/** A CSV record → a device body (the server validates it; a cell that is not JSON goes as text). */
export function csvRecordToDevice(record: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(record)) {
    if (!WRITABLE.has(column) || cell === '') continue;
    if (!JSON_COLUMNS.has(column)) body[column] = cell;
    else {
      try {
        body[column] = JSON.parse(cell) as unknown;
      } catch {
        body[column] = cell;
      }
    }
  }
  return body;
}

/** Draws `[#####-----]  42%  12.0 MiB` on a terminal; a line per 10% elsewhere (CI logs). */
function progressBar(total: number) {
  const tty = process.stderr.isTTY;
  let lastTenth = -1;
  /** `final`: the upload is over (a terminal's line is ended) */
  return (done: number, final = false) => {
    const ratio = total > 0 ? Math.min(done / total, 1) : 1;
    const pct = Math.floor(ratio * 100);
    const text = `${'#'.repeat(Math.round(ratio * 30)).padEnd(30, '-')}  ${String(pct).padStart(3)}%  ${(done / 1048576).toFixed(1)} MiB`;
    if (tty) process.stderr.write(`\r[${text}]${final ? '\n' : ''}`);
    else if (Math.floor(pct / 10) > lastTenth) {
      lastTenth = Math.floor(pct / 10);
      process.stderr.write(`[${text}]\n`);
    }
  };
}

async function token(base: string): Promise<string> {
  if (process.env.ARXOS_TOKEN) return process.env.ARXOS_TOKEN;
  const email = process.env.ARXOS_EMAIL ?? config().auth.adminEmail;
  const password = process.env.ARXOS_PASSWORD ?? config().auth.adminPassword;
  if (!email || !password) throw new Error('set ARXOS_TOKEN, or ARXOS_EMAIL and ARXOS_PASSWORD');
  const res = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const body = (await res.json()) as { accessToken?: string; detail?: string };
  if (!res.ok || !body.accessToken) throw new Error(`login failed: ${res.status} ${body.detail ?? ''}`);
  return body.accessToken;
}

export async function runImportCli(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const base = `${process.env.ARXOS_URL ?? `http://127.0.0.1:${config().http.port}`}/api/v1`;
  const size = statSync(args.file).size;
  const draw = progressBar(size);
  let read = 0;
  const file = createReadStream(args.file);
  file.on('data', (chunk) => {
    read += chunk.length;
    draw(read);
  });
  const csv = /\.csv$/i.test(args.file);
  const ignored = new Set<string>();
  // a malformed CSV (a bad quote, a ragged row) stops the upload with the parser's message
  let fileError: Error | undefined;
  const toNdjson = new Transform({
    writableObjectMode: true,
    transform(record: Record<string, string>, _enc, done) {
      for (const column of Object.keys(record)) if (!WRITABLE.has(column)) ignored.add(column);
      done(null, `${JSON.stringify(csvRecordToDevice(record))}\n`);
    },
  });
  const body: Readable = csv
    ? pipeline(file, parse({ columns: true, bom: true, skip_empty_lines: true }), toNdjson, (err) => {
        if (err) fileError = err;
      })
    : file;
  const contentType = /\.json$/i.test(args.file) ? 'application/json' : 'application/x-ndjson';
  const query = `mode=${args.mode}&dryRun=${args.dryRun}`;
  const sent = fetch(`${base}/devices/bulk?${query}`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${await token(base)}` },
    body: Readable.toWeb(body),
    duplex: 'half',
  });
  const res = await sent.catch((err: unknown) => {
    throw fileError ? new Error(`${args.file}: ${fileError.message}`) : err;
  });
  draw(size, true);
  if (ignored.size > 0) console.error(`columns an import cannot set, left out: ${[...ignored].join(', ')}`);
  const answer: unknown = await res.json();
  const field = (o: unknown, k: string): unknown =>
    typeof o === 'object' && o !== null ? Reflect.get(o, k) : undefined;
  // a success is the report; an all-or-nothing import with bad rows is a problem carrying it
  const report = field(answer, 'report') ?? answer;
  const count = (k: string) => Number(field(report, k) ?? 0);
  console.log(
    `${res.status} ${args.dryRun ? '(dry run) ' : ''}rows ${count('total')}, created ${count('created')}, valid ${count('valid')}, invalid ${count('invalid')}`,
  );
  const results = field(report, 'results');
  const invalid = Array.isArray(results) ? results.filter((r) => field(r, 'status') === 'invalid') : [];
  for (const r of invalid.slice(0, 20)) console.log(`  ${JSON.stringify(r)}`);
  const detail = field(answer, 'detail');
  if (!res.ok && typeof detail === 'string') console.log(`  ${detail}`);
  return res.ok && count('invalid') === 0 ? 0 : 1;
}

if (require.main === module) {
  runImportCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(2);
    },
  );
}
