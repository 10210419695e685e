import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { Errors, type ActionSchema, type Context } from 'moleculer';
import StreamArray from 'stream-json/streamers/StreamArray';
import { fieldError, notFound, validationFailed } from '../../shared/errors';
import type { SourceRow } from '../../shared/data';

/*
 * POST /api/v1/devices/bulk, the gateway's half. The body is parsed as it arrives (a JSON array or
 * NDJSON) and handed out a batch at a time to the devices service, which pulls it with
 * `gateway.bulkRows` on this node: the request stream is read only as fast as rows are written.
 */

/** Past this, the upload is refused (100 000 rows of a few hundred bytes each fit well below it). */
export const BULK_MAX_BYTES = 256 * 1024 * 1024;
/** What is read and thrown away of an upload the import stopped reading, before the connection is cut. */
const DISCARD_MAX_BYTES = 1024 * 1024;
/** An NDJSON line longer than this is not a device. */
const MAX_LINE_BYTES = 64 * 1024;
const NDJSON = /^application\/(x-)?(ndjson|jsonl|json-seq)\b/i;
const JSON_TYPE = /^application\/([\w.+-]+\+)?json\b/i;

/** The route's middlewares see a URL without the route's path: moleculer-web keeps the whole one. */
export const isBulkUpload = (req: IncomingMessage) => {
  const url: unknown = Reflect.get(req, 'originalUrl') ?? req.url;
  return req.method === 'POST' && typeof url === 'string' && /\/devices\/bulk(\?|$)/.test(url);
};
export const isNdjson = (type: string) => NDJSON.test(type);

const tooLarge = () =>
  new Errors.MoleculerClientError(`The upload is over ${BULK_MAX_BYTES} bytes`, 413, 'PAYLOAD_TOO_LARGE', {
    errors: [{ field: 'body', message: `is over ${BULK_MAX_BYTES} bytes` }],
  });

/** Passes bytes on, refusing an upload past the limit (back-pressure is kept: it is a pipe). */
function limited(req: Readable): Readable {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > BULK_MAX_BYTES) done(tooLarge());
      else done(null, chunk);
    },
  });
  req.on('error', (err) => counter.destroy(err));
  return req.pipe(counter);
}

function parseLine(line: string): SourceRow {
  try {
    return { value: JSON.parse(line) as unknown };
  } catch {
    return { error: 'is not valid JSON' };
  }
}

async function* ndjsonRows(body: Readable): AsyncGenerator<SourceRow> {
  let buffered = '';
  body.setEncoding('utf8');
  for await (const chunk of body) {
    buffered += String(chunk);
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end).trim();
      buffered = buffered.slice(end + 1);
      if (line) yield parseLine(line);
    }
    if (buffered.length > MAX_LINE_BYTES) {
      throw validationFailed([{ field: 'body', message: `has a line over ${MAX_LINE_BYTES} bytes` }]);
    }
  }
  if (buffered.trim()) yield parseLine(buffered.trim());
}

async function* arrayRows(body: Readable): AsyncGenerator<SourceRow> {
  const items = body.pipe(StreamArray.withParser());
  body.on('error', (err) => items.destroy(err));
  try {
    for await (const item of items) {
      const value: unknown =
        typeof item === 'object' && item !== null ? Reflect.get(item, 'value') : undefined;
      yield { value };
    }
  } catch (err) {
    if (typeof err === 'object' && err !== null && Reflect.get(err, 'type') === 'PAYLOAD_TOO_LARGE')
      throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw fieldError('body', `is not a JSON array of devices (${why.slice(0, 200)})`);
  }
}

interface Upload {
  rows: AsyncGenerator<SourceRow>;
  done: boolean;
}
const uploads = new Map<string, Upload>();

/** `gateway.bulkRows`: the next rows of an upload held by this node. */
export const bulkRowsAction: ActionSchema = {
  visibility: 'public',
  params: { importId: { type: 'string' }, max: { type: 'number', integer: true, min: 1, max: 10_000 } },
  async handler(ctx: Context<{ importId: string; max: number }>) {
    const upload = uploads.get(ctx.params.importId);
    if (!upload) throw notFound('Upload', ctx.params.importId);
    const rows: SourceRow[] = [];
    while (!upload.done && rows.length < ctx.params.max) {
      const next = await upload.rows.next();
      if (next.done) upload.done = true;
      else rows.push(next.value);
    }
    return { rows, done: upload.done };
  },
};

const MODES = ['all-or-nothing', 'skip-invalid'];

/** Query → import options; anything else is a 400 naming it. */
export function importOptions(query: Record<string, unknown>) {
  const extra = Object.keys(query).filter((k) => k !== 'mode' && k !== 'dryRun');
  if (extra.length > 0)
    throw validationFailed(extra.map((field) => ({ field, message: 'is not a parameter of this route' })));
  const mode = query.mode ?? 'all-or-nothing';
  if (typeof mode !== 'string' || !MODES.includes(mode))
    throw fieldError('mode', `must be one of ${MODES.join(', ')}`);
  const dryRun = query.dryRun ?? 'false';
  if (dryRun !== 'true' && dryRun !== 'false') throw fieldError('dryRun', 'must be true or false');
  return { mode, dryRun: dryRun === 'true' };
}

/** Runs an import of `req`'s body through the devices service; answers its report. */
export async function runImport(
  ctx: Context<unknown, Record<string, unknown>>,
  req: IncomingMessage,
  query: Record<string, unknown>,
): Promise<unknown> {
  const options = importOptions(query);
  const type = req.headers['content-type'] ?? '';
  if (!isNdjson(type) && !JSON_TYPE.test(type)) {
    throw new Errors.MoleculerClientError(
      'The body must be a JSON array or NDJSON',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      {
        errors: [{ field: 'Content-Type', message: 'must be application/json or application/x-ndjson' }],
      },
    );
  }
  const body = limited(req);
  const importId = randomUUID();
  uploads.set(importId, { rows: isNdjson(type) ? ndjsonRows(body) : arrayRows(body), done: false });
  try {
    return await ctx.call(
      'devices.import',
      { importId, source: ctx.broker.nodeID, ...options },
      { timeout: 15 * 60_000, retries: 0 },
    );
  } finally {
    const upload = uploads.get(importId);
    uploads.delete(importId);
    // not awaited: a pull that timed out may still wait on a stalled client, and the answer must not
    void upload?.rows.return(undefined).catch(() => undefined);
    // what the import did not read (it stopped early) is discarded so that the answer can be read,
    // up to a megabyte: past that the connection is cut rather than read for as long as a client sends
    if (!req.readableEnded) {
      let discarded = 0;
      req.on('data', (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > DISCARD_MAX_BYTES) req.destroy();
      });
      req.resume();
    }
  }
}
