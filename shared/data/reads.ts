import { Op, type FindOptions, type WhereOptions } from 'sequelize';
import { changeRecordModelFor, type Attrs } from '../db';
import { fieldError } from '../errors';
import { decodeCursor, encodeCursor, keysetWhere } from './cursor';
import { toDomainError } from './db-errors';
import { parseListQuery, type ListSpec, type QueryInput } from './query';
import { fieldsOf, type Resource } from './resource';
import { text, toOutput, type Core, type HistoryEntry, type Page } from './access';

/** get, list (API.md's grammar, keyset pages, spatial filters) and history. */
export function createReads(core: Core) {
  const { sequelize, resourceOf, checkId, visible, findVisible, findLive } = core;

  async function get(name: string, id: unknown): Promise<Attrs> {
    const resource = resourceOf(name);
    try {
      const row = await findLive(resource, checkId(id));
      return toOutput(resource, row.get({ plain: true }));
    } catch (err) {
      throw toDomainError(err, resource);
    }
  }

  function spatialSql(resource: Resource, spec: ListSpec) {
    const attrs = resource.model.getAttributes();
    const column = (field: string) => `"${attrs[field]?.field ?? field}"`;
    const point = (lng: number, lat: number) =>
      `ST_SetSRID(ST_MakePoint(${Number(lng)}, ${Number(lat)}), 4326)`;
    const where: WhereOptions[] = [];
    let distance: string | undefined;
    const s = resource.spatial ?? {};
    if (spec.near && s.near) {
      const p = `${point(spec.near.lng, spec.near.lat)}::geography`;
      distance = `ST_Distance(${column(s.near)}, ${p})`;
      where.push(sequelize.literal(`ST_DWithin(${column(s.near)}, ${p}, ${Number(spec.near.radius)})`));
    }
    if (spec.bbox && s.bbox) {
      const [a, b, c, d] = spec.bbox.map(Number);
      where.push(
        sequelize.literal(`(${column(s.bbox)})::geometry && ST_MakeEnvelope(${a}, ${b}, ${c}, ${d}, 4326)`),
      );
    }
    if (spec.containsPoint && s.containsPoint) {
      const p = point(spec.containsPoint.lng, spec.containsPoint.lat);
      where.push(sequelize.literal(`ST_Covers(${column(s.containsPoint)}, ${p})`));
    }
    return { where, distance, column };
  }

  /**
   * A page of the resource, filtered by API.md's grammar plus `scope` (a parent's id from a nested
   * path, or an authorization filter).
   */
  async function list(name: string, query: QueryInput, scope: WhereOptions = {}): Promise<Page<Attrs>> {
    const resource = resourceOf(name);
    try {
      const spec = parseListQuery(resource, query);
      const spatial = spatialSql(resource, spec);
      const where: WhereOptions[] = [scope, visible(resource), ...spec.where, ...spatial.where];
      if (spec.deleted === 'only') where.push({ deletedAt: { [Op.not]: null } });
      const base: WhereOptions = { [Op.and]: where };

      const expr = (field: string) =>
        field === 'distance' && spatial.distance
          ? sequelize.literal(spatial.distance)
          : sequelize.col(spatial.column(field).slice(1, -1));
      const fields = fieldsOf(resource);
      const convert = (field: string, v: unknown) =>
        fields[field]?.type === 'datetime' && typeof v === 'string' ? new Date(v) : v;
      const pageWhere: WhereOptions[] = [base];
      if (spec.cursor) {
        pageWhere.push(
          keysetWhere(sequelize, spec.sort, decodeCursor(spec.cursor, spec.sort), expr, convert),
        );
      }

      const find: FindOptions<Attrs> = {
        where: { [Op.and]: pageWhere },
        order: spec.sort.map((k) => [expr(k.field), k.desc ? 'DESC NULLS FIRST' : 'ASC NULLS LAST']),
        limit: spec.limit + 1,
        paranoid: spec.deleted === 'exclude',
      };
      if (spatial.distance)
        find.attributes = { include: [[sequelize.literal(spatial.distance), 'distance']] };
      const rows = (await resource.model.findAll(find)).map((r) => r.get({ plain: true }));
      const hasMore = rows.length > spec.limit;
      const pageRows = rows.slice(0, spec.limit);
      const last = pageRows[pageRows.length - 1];
      const page: Page<Attrs> = {
        data: pageRows.map((r) => toOutput(resource, r)),
        page: {
          limit: spec.limit,
          nextCursor:
            hasMore && last
              ? encodeCursor(
                  spec.sort,
                  spec.sort.map((k) => last[k.field]),
                )
              : null,
          hasMore,
        },
      };
      if (spec.count)
        page.total = await resource.model.count({ where: base, paranoid: spec.deleted === 'exclude' });
      return page;
    } catch (err) {
      throw toDomainError(err, resource);
    }
  }

  async function history(name: string, id: unknown, query: QueryInput = {}): Promise<Page<HistoryEntry>> {
    const resource = resourceOf(name);
    const entityId = checkId(id);
    const limitText = query.limit === undefined ? '50' : text(query.limit);
    const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= 500)) throw fieldError('limit', 'must be a whole number from 1 to 500');
    await findVisible(resource, entityId, { deleted: true });

    const Records = changeRecordModelFor(sequelize);
    const sort = [
      { field: 'at', desc: true, nullable: false },
      { field: 'id', desc: true, nullable: false },
    ];
    const where: WhereOptions[] = [{ entityType: resource.name, entityId }];
    if (query.cursor !== undefined && query.cursor !== '') {
      const values = decodeCursor(text(query.cursor), sort);
      where.push(
        keysetWhere(
          sequelize,
          sort,
          values,
          (f) => sequelize.col(f),
          (f, v) => (f === 'at' && typeof v === 'string' ? new Date(v) : v),
        ),
      );
    }
    const rows = await Records.findAll({
      where: { [Op.and]: where },
      order: [
        ['at', 'DESC'],
        ['id', 'DESC'],
      ],
      limit: limit + 1,
    });
    const plain = rows.map((r) => r.get({ plain: true }));
    const hasMore = plain.length > limit;
    const data = plain.slice(0, limit).map((r): HistoryEntry => ({
      id: String(r.id),
      entityType: r.entityType,
      entityId: r.entityId,
      action: r.action,
      actor: r.actor,
      requestId: r.requestId ?? null,
      at: r.at.toISOString(),
      changes: r.changes,
    }));
    const last = plain[limit - 1];
    return {
      data,
      page: { limit, nextCursor: hasMore && last ? encodeCursor(sort, [last.at, last.id]) : null, hasMore },
    };
  }

  /**
   * The live rows among `ids` the caller may see, keyed by id, with `fields` (and id) only: one query
   * for a whole batch, so that another service checks its references in one round trip.
   */
  async function lookup(name: string, ids: unknown[], fields: string[] = []): Promise<Record<string, Attrs>> {
    const resource = resourceOf(name);
    const known = fieldsOf(resource);
    for (const f of fields) {
      const spec = known[f];
      if (!spec || spec.hidden || spec.writeOnly) throw fieldError('fields', `${f} is not a field`);
    }
    const wanted = [...new Set(ids.map((id) => checkId(id)))];
    if (wanted.length === 0) return {};
    const rows = await resource.model.findAll({
      attributes: ['id', ...fields],
      where: { [Op.and]: [{ id: { [Op.in]: wanted } }, visible(resource)] },
    });
    const found: Record<string, Attrs> = {};
    for (const row of rows) {
      const plain = row.get({ plain: true });
      const out: Attrs = { id: plain.id };
      for (const f of fields) out[f] = plain[f] ?? null;
      found[text(plain.id)] = out;
    }
    return found;
  }

  return { get, list, history, lookup };
}
