import { Op, QueryTypes } from 'sequelize';
import { conflict, isArxosError, validationFailed, type FieldError } from '../errors';
import type { Attrs, Transaction } from '../db';
import type { Resource } from './resource';
import { validateBody } from './validate';
import { deferEvents, flushDeferredEvents } from '../events';
import { text, type Core } from './access';

/*
 * Bulk creation from a stream of rows (API.md "Bulk"): rows are pulled a batch at a time, so the
 * body is never whole in memory; every check is set-based (one query or call per batch and rule);
 * the rows are written with bulk INSERTs that still leave a change record and a domain event per
 * row (the entity hooks). Everything runs in one transaction: valid rows wait in a temporary table
 * and are written at the end, so a slow upload holds no lock on the event log, and an
 * all-or-nothing import with a bad row, or a dry run, writes nothing.
 */

export type ImportMode = 'all-or-nothing' | 'skip-invalid';

/** One row of the input: its parsed value, or why it could not be parsed. */
export interface SourceRow {
  value?: unknown;
  error?: string;
}

/** Pulls up to `max` rows; `done` once the input is exhausted. */
export type RowSource = (max: number) => Promise<{ rows: SourceRow[]; done: boolean }>;

export interface ImportOptions {
  mode: ImportMode;
  dryRun: boolean;
  /** the most rows an import may have */
  maxRows: number;
  batchSize?: number;
  /** called after every batch */
  progress?: (p: { rows: number; invalid: number; phase: 'check' | 'write' }) => void;
}

/** `created`: written; `valid`: passed every check but not written (dry run, or another row failed). */
export interface RowResult {
  row: number;
  status: 'created' | 'valid' | 'invalid';
  id?: string;
  errors?: FieldError[];
}

export interface ImportReport {
  mode: ImportMode;
  dryRun: boolean;
  total: number;
  created: number;
  valid: number;
  invalid: number;
  results: RowResult[];
}

/** Thrown inside the transaction to roll it back while keeping the report. */
class Rollback extends Error {
  constructor(readonly report: ImportReport) {
    super('import rolled back');
  }
}

const FIELD_ERRORS_SHOWN = 100;

export function createBulk(core: Core) {
  const { sequelize, resourceOf, tx, call } = core;

  /** Field errors of a row; other errors (database down...) are not the row's fault and go up. */
  function rowErrors(err: unknown): FieldError[] {
    if (isArxosError(err) && err.type === 'VALIDATION_FAILED')
      return err.data?.errors ?? [{ field: 'row', message: err.message }];
    throw err;
  }

  /** Unique values taken among live rows, or earlier in this import: one query per rule per batch. */
  async function checkUnique(
    resource: Resource,
    batch: { values: Attrs; result: RowResult }[],
    seen: Map<string, number>,
    t: Transaction,
  ) {
    for (const rule of resource.unique ?? []) {
      const keyOf = (v: Attrs) => JSON.stringify(rule.fields.map((f) => v[f] ?? null));
      const live = batch.filter((b) => rule.fields.every((f) => b.values[f] !== undefined));
      if (live.length === 0) continue;
      const [only] = rule.fields;
      const where =
        rule.fields.length === 1 && only
          ? { [only]: { [Op.in]: live.map((b) => b.values[only]) } }
          : { [Op.or]: live.map((b) => Object.fromEntries(rule.fields.map((f) => [f, b.values[f]]))) };
      const taken = await resource.model.findAll({ attributes: rule.fields, where, transaction: t });
      const takenKeys = new Set(taken.map((r) => keyOf(r.get({ plain: true }))));
      for (const b of live) {
        if (b.result.status === 'invalid') continue;
        const key = keyOf(b.values);
        const first = seen.get(`${rule.index}:${key}`);
        const field = rule.fields.join(', ');
        if (takenKeys.has(key)) {
          b.result.status = 'invalid';
          b.result.errors = [{ field, message: 'is already taken by a live entry' }];
        } else if (first !== undefined) {
          b.result.status = 'invalid';
          b.result.errors = [{ field, message: `repeats row ${first}` }];
        } else seen.set(`${rule.index}:${key}`, b.result.row);
      }
    }
  }

  /** Parents that must be live (a floor's building): one query per relation per batch. */
  async function checkParents(
    resource: Resource,
    batch: { values: Attrs; result: RowResult }[],
    t: Transaction,
  ) {
    for (const parent of resource.parents ?? []) {
      const ids = [
        ...new Set(batch.map((b) => b.values[parent.foreignKey]).filter((v) => typeof v === 'string')),
      ];
      if (ids.length === 0) continue;
      const found = await parent.model.findAll({
        attributes: ['id'],
        where: { id: { [Op.in]: ids } },
        transaction: t,
      });
      const live = new Set(found.map((r) => text(r.getDataValue('id'))));
      for (const b of batch) {
        const id = b.values[parent.foreignKey];
        if (b.result.status !== 'invalid' && typeof id === 'string' && !live.has(id)) {
          b.result.status = 'invalid';
          b.result.errors = [{ field: parent.foreignKey, message: `${parent.title} ${id} does not exist` }];
        }
      }
    }
  }

  async function importRows(name: string, source: RowSource, opts: ImportOptions): Promise<ImportReport> {
    const resource = resourceOf(name);
    const batchSize = opts.batchSize ?? 1000;
    const report: ImportReport = {
      mode: opts.mode,
      dryRun: opts.dryRun,
      total: 0,
      created: 0,
      valid: 0,
      invalid: 0,
      results: [],
    };
    let attempts = 0;
    try {
      return await tx(resource, async (t, touch) => {
        // the upload is read once: a retried transaction (deadlock, serialization failure) would see an
        // empty source and "succeed" with nothing written, so it fails instead
        if (++attempts > 1) {
          throw conflict(
            'The import met a concurrent write and was rolled back: nothing was written; send it again',
          );
        }
        await sequelize.query(
          'CREATE TEMP TABLE bulk_rows (ord int PRIMARY KEY, body jsonb NOT NULL) ON COMMIT DROP',
          {
            transaction: t,
          },
        );
        const seen = new Map<string, number>();
        for (let done = false; !done;) {
          const pulled = await source(batchSize);
          done = pulled.done;
          if (report.total + pulled.rows.length > opts.maxRows) {
            throw validationFailed([{ field: 'body', message: `has more than ${opts.maxRows} rows` }]);
          }
          const batch: { values: Attrs; result: RowResult }[] = [];
          for (const row of pulled.rows) {
            const result: RowResult = { row: ++report.total, status: 'valid' };
            report.results.push(result);
            if (row.error !== undefined) {
              Object.assign(result, { status: 'invalid', errors: [{ field: 'row', message: row.error }] });
              continue;
            }
            try {
              batch.push({ values: validateBody(resource, row.value, 'create'), result });
            } catch (err) {
              Object.assign(result, { status: 'invalid', errors: rowErrors(err) });
            }
          }
          if (resource.prepareMany && batch.length > 0) {
            const errors = await resource.prepareMany(
              batch.map((b) => b.values),
              { mode: 'create', transaction: t, call },
            );
            errors.forEach((e, i) => {
              const b = batch[i];
              if (b && e?.length) Object.assign(b.result, { status: 'invalid', errors: e });
            });
          }
          await checkParents(resource, batch, t);
          await checkUnique(resource, batch, seen, t);
          const valid = batch.filter((b) => b.result.status === 'valid');
          if (valid.length > 0) {
            await sequelize.query(
              `INSERT INTO bulk_rows (ord, body) SELECT ord, body FROM jsonb_to_recordset(:rows::jsonb) AS x(ord int, body jsonb)`,
              {
                replacements: {
                  rows: JSON.stringify(valid.map((b) => ({ ord: b.result.row, body: b.values }))),
                },
                transaction: t,
              },
            );
          }
          report.invalid = report.results.filter((r) => r.status === 'invalid').length;
          opts.progress?.({ rows: report.total, invalid: report.invalid, phase: 'check' });
        }
        report.valid = report.total - report.invalid;
        if (opts.dryRun || (opts.mode === 'all-or-nothing' && report.invalid > 0)) throw new Rollback(report);

        // the writes: bulk INSERTs of staged rows, a batch at a time, each with its records and events;
        // the events are appended in one statement at the end (the event log's lock is held for that only)
        await deferEvents(sequelize, t);
        for (let after = 0; ;) {
          const staged = await sequelize.query<{ ord: number; body: Attrs }>(
            'SELECT ord, body FROM bulk_rows WHERE ord > :after ORDER BY ord LIMIT :limit',
            { replacements: { after, limit: batchSize }, type: QueryTypes.SELECT, transaction: t },
          );
          const last = staged[staged.length - 1];
          if (!last) break;
          after = last.ord;
          const rows = await resource.model.bulkCreate(
            staged.map((s) => s.body),
            { transaction: t, returning: true },
          );
          const ids = rows.map((r) => text(r.getDataValue('id')));
          staged.forEach((s, i) => {
            const result = report.results[s.ord - 1];
            if (result) Object.assign(result, { status: 'created', id: ids[i] });
          });
          touch(name, ids);
          report.created += rows.length;
          opts.progress?.({ rows: report.created, invalid: report.invalid, phase: 'write' });
        }
        await flushDeferredEvents(sequelize, t);
        report.valid -= report.created;
        return report;
      });
    } catch (err) {
      if (err instanceof Rollback) return err.report;
      throw err;
    }
  }

  /** The field errors of an import's invalid rows, as a problem's `errors` (the first hundred). */
  function reportErrors(report: ImportReport): FieldError[] {
    const errors: FieldError[] = [];
    for (const r of report.results) {
      for (const e of r.errors ?? []) {
        if (errors.length >= FIELD_ERRORS_SHOWN) return errors;
        errors.push({ field: `rows[${r.row}].${e.field}`, message: e.message });
      }
    }
    return errors;
  }

  return { importRows, reportErrors };
}
