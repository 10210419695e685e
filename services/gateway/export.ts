import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'moleculer';
import { stringify } from 'csv-stringify/sync';
import { validationFailed, fieldError } from '../../shared/errors';

/*
 * GET /api/v1/devices/export?format=ndjson|csv&<list filters>: every device the filters match,
 * streamed. It pages through `devices.list` (the same filters, sort, visibility and keyset cursor as
 * GET /devices) and reads the next page only once the client has taken the last one, so an export of
 * any size holds one page in memory.
 */

const PAGE = 500;

interface Page {
  data: Record<string, unknown>[];
  page: { nextCursor: string | null; hasMore: boolean };
}

const isPage = (v: unknown): v is Page =>
  typeof v === 'object' &&
  v !== null &&
  Array.isArray(Reflect.get(v, 'data')) &&
  typeof Reflect.get(v, 'page') === 'object';

/** The properties of the entity schema `describe` gives (shared/data resourceSchemas). */
function fieldsOf(described: unknown): string[] {
  const entity: unknown =
    typeof described === 'object' && described !== null ? Reflect.get(described, 'entity') : null;
  const properties: unknown =
    typeof entity === 'object' && entity !== null ? Reflect.get(entity, 'properties') : null;
  if (typeof properties !== 'object' || properties === null)
    throw new Error('devices.describe gave no fields');
  return Object.keys(properties);
}

const cell = (v: unknown): string =>
  v === null || v === undefined
    ? ''
    : typeof v === 'string'
      ? v
      : typeof v === 'number' || typeof v === 'boolean'
        ? String(v)
        : JSON.stringify(v);

export function exportFormat(query: Record<string, unknown>) {
  const { format = 'ndjson', ...filters } = query;
  if (format !== 'ndjson' && format !== 'csv') throw fieldError('format', 'must be ndjson or csv');
  const refused = ['cursor', 'limit', 'count'].filter((k) => k in filters);
  if (refused.length > 0)
    throw validationFailed(refused.map((field) => ({ field, message: 'is not a parameter of an export' })));
  return { format, filters };
}

export async function streamExport(
  ctx: Context<unknown, Record<string, unknown>>,
  req: IncomingMessage,
  res: ServerResponse,
  query: Record<string, unknown>,
): Promise<void> {
  const { format, filters } = exportFormat(query);
  const fetch = async (cursor?: string): Promise<Page> => {
    const page = await ctx.call(
      'devices.list',
      { query: { ...filters, limit: String(PAGE), ...(cursor ? { cursor } : {}) } },
      // an export reads every page once: filling the cache with them would only evict useful entries
      { meta: { $cache: false } },
    );
    if (!isPage(page)) throw new Error('devices.list gave no page');
    return page;
  };
  // the first page validates the filters: a bad one is a 400 before anything is sent
  let page = await fetch();
  // CSV columns: every field of a device as its service describes it; objects (location, metadata) as JSON
  const columns = format === 'csv' ? fieldsOf(await ctx.call('devices.describe', {})) : [];
  let open = true;
  req.on('close', () => {
    open = false;
  });
  res.writeHead(200, {
    'Content-Type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'Content-Disposition': `attachment; filename="devices.${format}"`,
    'Cache-Control': 'no-store',
  });
  // back-pressure: wait for the socket to drain, or to go away (a client that left never drains)
  const write = (chunk: string) =>
    res.write(chunk)
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            resolve();
          };
          res.on('drain', done).on('close', done);
        });
  if (format === 'csv') await write(stringify([columns]));
  for (;;) {
    const text =
      format === 'csv'
        ? stringify(page.data.map((d) => columns.map((c) => cell(d[c]))))
        : page.data.map((d) => `${JSON.stringify(d)}\n`).join('');
    if (text) await write(text);
    if (!open || !page.page.hasMore || !page.page.nextCursor) break;
    page = await fetch(page.page.nextCursor);
  }
  res.end();
}
