import { Errors, type ActionSchema, type Context, type Service } from 'moleculer';
import { MANAGERS } from '../../shared/auth';
import { dataOf, type ImportMode, type RowSource, type SourceRow } from '../../shared/data';
import { fieldError, unavailable, validationFailed } from '../../shared/errors';

/** API.md "Bulk": an import holds at most this many rows. */
export const MAX_IMPORT_ROWS = 100_000;
const PROGRESS_EVERY = 10_000;
/** A client silent this long has stopped: well below PostgreSQL's idle-in-transaction timeout (60 s). */
const PULL_TIMEOUT_MS = 30_000;
/** Imports one devices instance runs at once (each holds a connection of its pool throughout). */
const MAX_CONCURRENT_IMPORTS = 2;
let running = 0;

interface ImportParams {
  importId: string;
  /** the node holding the upload (the gateway that received it) */
  source: string;
  mode: ImportMode;
  dryRun: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function toSourceRows(answer: unknown): { rows: SourceRow[]; done: boolean } {
  if (!isRecord(answer) || !Array.isArray(answer.rows) || typeof answer.done !== 'boolean')
    throw new Error('gateway.bulkRows gave no rows');
  const rows = answer.rows.map((r: unknown): SourceRow => {
    if (!isRecord(r)) return { error: 'is not a row' };
    return typeof r.error === 'string' ? { error: r.error } : { value: r.value };
  });
  return { rows, done: answer.done };
}

async function runImport(svc: Service, ctx: Context<ImportParams>) {
  const { importId, source, mode, dryRun } = ctx.params;
  const { data } = dataOf(svc);
  const started = Date.now();
  const logged = { check: 0, write: 0 };
  const pull: RowSource = async (max) => {
    try {
      return toSourceRows(
        await ctx.call('gateway.bulkRows', { importId, max }, { nodeID: source, timeout: PULL_TIMEOUT_MS }),
      );
    } catch (err) {
      // a client that stopped sending: the transaction ends well before PostgreSQL's idle timeout
      if (err instanceof Errors.RequestTimeoutError)
        throw fieldError('body', `stopped arriving for ${PULL_TIMEOUT_MS / 1000} s`);
      throw err;
    }
  };
  const report = await data.importRows('device', pull, {
    mode,
    dryRun,
    maxRows: MAX_IMPORT_ROWS,
    progress: ({ rows, invalid, phase }) => {
      if (rows - logged[phase] < PROGRESS_EVERY) return;
      logged[phase] = rows;
      const done = phase === 'check' ? 'checked' : 'written';
      svc.logger.info(`device import ${importId}: ${done} ${rows} rows`, { importId, phase, rows, invalid });
    },
  });
  const seconds = (Date.now() - started) / 1000;
  const { total, created, invalid } = report;
  svc.logger.info(
    `device import ${importId}: ${total} rows, ${created} created, ${invalid} invalid in ${seconds.toFixed(1)} s`,
    { importId, mode, dryRun, total, created, invalid, seconds },
  );
  if (mode === 'all-or-nothing' && invalid > 0) {
    throw validationFailed(
      data.reportErrors(report),
      `${invalid} of ${total} rows are invalid; nothing was written`,
      { report },
    );
  }
  return report;
}

/**
 * POST /devices/bulk, here where devices are written. The upload stays on the gateway that received
 * it; this action pulls its rows a batch at a time (`gateway.bulkRows` on that node), so neither
 * side ever holds the whole body and a slow database slows the upload down instead of filling
 * memory. The answer is API.md's: counts and one result per row.
 */
export const importAction: ActionSchema = {
  roles: MANAGERS,
  timeout: 0,
  params: {
    $$strict: true,
    importId: { type: 'uuid' },
    source: { type: 'string' },
    mode: { type: 'enum', values: ['all-or-nothing', 'skip-invalid'] },
    dryRun: { type: 'boolean' },
  },
  async handler(this: Service, ctx: Context<ImportParams>) {
    // each import holds a connection for its whole length: a few at once per instance, so that
    // imports never take the pool other requests need
    if (running >= MAX_CONCURRENT_IMPORTS) throw unavailable('Device import (too many at once)', 30);
    running += 1;
    try {
      return await runImport(this, ctx);
    } finally {
      running -= 1;
    }
  },
};
