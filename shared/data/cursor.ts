import { Op, type Sequelize, type WhereOptions } from 'sequelize';
import { fieldError } from '../errors';
import type { SortKey } from './query';

/*
 * Keyset paging: a cursor holds the sort-key values of the last row of a page; the next page is every
 * row strictly after it in the (total) sort order. Page 10 000 costs what page 1 costs, and rows
 * inserted meanwhile never shift a page (each row is visited at most once).
 */

type CursorValue = string | number | boolean | null;

interface CursorBody {
  /** the sort it belongs to: a cursor of another sort is refused */
  s: string;
  v: CursorValue[];
}

export const sortSignature = (sort: SortKey[]) => sort.map((k) => (k.desc ? '-' : '') + k.field).join(',');

export function encodeCursor(sort: SortKey[], values: unknown[]): string {
  const v = values.map((x): CursorValue => {
    if (x instanceof Date) return x.toISOString();
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') return x;
    return null;
  });
  const body: CursorBody = { s: sortSignature(sort), v };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

export function decodeCursor(cursor: string, sort: SortKey[]): CursorValue[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw fieldError('cursor', 'is not a cursor this API returned');
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !('s' in parsed) ||
    !('v' in parsed) ||
    !Array.isArray(parsed.v) ||
    parsed.v.length !== sort.length
  ) {
    throw fieldError('cursor', 'is not a cursor this API returned');
  }
  if (parsed.s !== sortSignature(sort)) throw fieldError('cursor', 'belongs to another sort order');
  return parsed.v.map((x: unknown): CursorValue =>
    x === null || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean' ? x : null,
  );
}

/** How a sort key is read in SQL: a column, or an expression such as the distance to a point. */
export type KeyExpression = (
  field: string,
) => ReturnType<Sequelize['col']> | ReturnType<Sequelize['literal']>;

/**
 * Rows strictly after `values` in the order `sort`, where ascending keys put nulls last and
 * descending keys put them first (PostgreSQL's defaults, which the ORDER BY states explicitly).
 */
export function keysetWhere(
  sequelize: Sequelize,
  sort: SortKey[],
  values: CursorValue[],
  expr: KeyExpression,
  convert: (field: string, v: CursorValue) => unknown,
): WhereOptions {
  const cmp = (field: string, op: symbol, v: unknown) => sequelize.where(expr(field), { [op]: v });
  const equal = (k: SortKey, v: CursorValue) =>
    v === null ? cmp(k.field, Op.is, null) : cmp(k.field, Op.eq, convert(k.field, v));
  const after = (k: SortKey, v: CursorValue): WhereOptions | undefined => {
    if (v === null) return k.desc ? cmp(k.field, Op.not, null) : undefined; // nothing follows null ascending
    const strictly = cmp(k.field, k.desc ? Op.lt : Op.gt, convert(k.field, v));
    return k.nullable && !k.desc ? { [Op.or]: [strictly, cmp(k.field, Op.is, null)] } : strictly;
  };

  const branches: WhereOptions[] = [];
  sort.forEach((key, i) => {
    const v = values[i] ?? null;
    const tail = after(key, v);
    if (!tail) return;
    const prefix = sort.slice(0, i).map((k, j) => equal(k, values[j] ?? null));
    branches.push({ [Op.and]: [...prefix, tail] });
  });
  const first = sort[0];
  const firstValue = values[0] ?? null;
  const conditions: WhereOptions[] = [{ [Op.or]: branches }];
  // A redundant bound on the leading key gives the index a place to start instead of a filter over
  // every earlier row: this is what keeps deep pages as cheap as the first.
  if (first && firstValue !== null && !first.nullable) {
    conditions.push(cmp(first.field, first.desc ? Op.lte : Op.gte, convert(first.field, firstValue)));
  }
  return { [Op.and]: conditions };
}
