import type { ActionSchema, Context, Service } from 'moleculer';
import { MANAGERS } from '../../shared/auth';
import { dataOf, type ImportMode, type RowSource, type SourceRow } from '../../shared/data';
import { validationFailed } from '../../shared/errors';

/** API.md "Bulk": an import holds at most this many rows. */
export const MAX_IMPORT_ROWS = 100_000;
const PROGRESS_EVERY = 10_000;

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
    const { importId, source, mode, dryRun } = ctx.params;
    const { data } = dataOf(this);
    const started = Date.now();
    let logged = 0;
    const pull: RowSource = async (max) =>
      toSourceRows(
        await ctx.call('gateway.bulkRows', { importId, max }, { nodeID: source, timeout: 120_000 }),
      );
    const report = await data.importRows('device', pull, {
      mode,
      dryRun,
      maxRows: MAX_IMPORT_ROWS,
      progress: ({ rows, invalid, phase }) => {
        if (rows - logged < PROGRESS_EVERY) return;
        logged = rows;
        this.logger.info(
          `device import ${importId}: ${phase === 'check' ? 'checked' : 'written'} ${rows} rows`,
          {
            importId,
            phase,
            rows,
            invalid,
          },
        );
      },
    });
    const seconds = (Date.now() - started) / 1000;
    this.logger.info(
      `device import ${importId}: ${report.total} rows, ${report.created} created, ${report.invalid} invalid in ${seconds.toFixed(1)} s`,
      {
        importId,
        mode,
        dryRun,
        total: report.total,
        created: report.created,
        invalid: report.invalid,
        seconds,
      },
    );
    if (mode === 'all-or-nothing' && report.invalid > 0) {
      throw validationFailed(
        data.reportErrors(report),
        `${report.invalid} of ${report.total} rows are invalid; nothing was written`,
        { report },
      );
    }
    return report;
  },
};
