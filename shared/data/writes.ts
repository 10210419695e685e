import { randomUUID } from 'node:crypto';
import { Op, QueryTypes } from 'sequelize';
import { conflict, fieldError, preconditionFailed, validationFailed } from '../errors';
import type { Attrs, EntityInstance, Transaction } from '../db';
import type { PrepareContext, Resource } from './resource';
import { validateBody } from './validate';
import {
  text,
  toOutput,
  type Core,
  type DeleteOptions,
  type DeleteResult,
  type UpdateOptions,
  type WriteOptions,
} from './access';

const isEmptyObject = (v: unknown) => typeof v === 'object' && v !== null && Object.keys(v).length === 0;

/** create, update, soft delete (with cascade under one batch) and restore of exactly that batch. */
export function createWrites(core: Core) {
  const { sequelize, resourceOf, tx, checkId, findVisible, findLive, call } = core;

  /** The resource's own rules for one row: prepare, then prepareMany with a batch of one. */
  async function prepareRow(resource: Resource, values: Attrs, ctx: Omit<PrepareContext, 'call'>) {
    await resource.prepare?.(values, { ...ctx, call });
    if (!resource.prepareMany) return;
    const [errors] = await resource.prepareMany([values], { ...ctx, call });
    if (errors && errors.length > 0) throw validationFailed(errors);
  }

  function checkVersion(resource: Resource, row: EntityInstance, opts: WriteOptions) {
    const current = row.getDataValue('version');
    if (opts.expectedVersion !== undefined && current !== opts.expectedVersion) {
      throw preconditionFailed(
        `${resource.title} is at version ${String(current)}, not ${opts.expectedVersion}; read it again and retry`,
      );
    }
  }

  async function checkParentsLive(resource: Resource, values: Attrs, t: Transaction) {
    for (const parent of resource.parents ?? []) {
      const id = values[parent.foreignKey];
      if (id === null || id === undefined) continue;
      const found = await parent.model.count({ where: { id: text(id) }, transaction: t });
      if (found === 0) throw fieldError(parent.foreignKey, `${parent.title} ${text(id)} does not exist`);
    }
  }

  // ---- reads ---------------------------------------------------------------------------------
  /** Structure is checked in validateBody; validity (no self-intersection...) needs PostGIS. */
  async function checkGeometry(resource: Resource, values: Attrs, t: Transaction) {
    for (const [field, spec] of Object.entries(resource.fields)) {
      const value = values[field];
      if (spec.type !== 'polygon' || value === null || value === undefined) continue;
      const [row] = await sequelize.query<{ reason: string }>(
        'SELECT ST_IsValidReason(ST_GeomFromGeoJSON(:g)) AS reason',
        { replacements: { g: JSON.stringify(value) }, type: QueryTypes.SELECT, transaction: t },
      );
      if (row && row.reason !== 'Valid Geometry')
        throw fieldError(field, `is not a valid polygon: ${row.reason}`);
    }
  }

  async function create(name: string, body: unknown): Promise<Attrs> {
    const resource = resourceOf(name);
    const values = validateBody(resource, body, 'create');
    return tx(resource, async (t, touch) => {
      await checkGeometry(resource, values, t);
      await prepareRow(resource, values, { mode: 'create', transaction: t });
      await checkParentsLive(resource, values, t);
      const row = await resource.model.create(values, { transaction: t });
      touch(name, [text(row.getDataValue('id'))]);
      return toOutput(resource, row.get({ plain: true }));
    });
  }

  async function update(name: string, id: unknown, body: unknown, opts: UpdateOptions = {}): Promise<Attrs> {
    const resource = resourceOf(name);
    const entityId = checkId(id);
    const values = opts.set && isEmptyObject(body) ? {} : validateBody(resource, body, 'update');
    return tx(resource, async (t, touch) => {
      const row = await findLive(resource, entityId, t, true);
      checkVersion(resource, row, opts);
      touch(name, [entityId]);
      const current = row.get({ plain: true });
      opts.check?.(current);
      await checkGeometry(resource, values, t);
      await prepareRow(resource, values, { mode: 'update', transaction: t, current });
      await checkParentsLive(resource, values, t);
      row.set({ ...values, ...opts.set });
      await row.save({ transaction: t, ...(opts.event ? { event: opts.event } : {}) });
      // computed columns (a room's area) are the database's: read the row back
      await row.reload({ transaction: t });
      return toOutput(resource, row.get({ plain: true }));
    });
  }

  /** Soft-deletes live descendants of `parentIds` under `batchId`, depth first; counts per type. */
  async function cascade(
    resource: Resource,
    parentIds: string[],
    batchId: string,
    deletedAt: Date,
    t: Transaction,
    counts: Record<string, number>,
    touch: (name: string, ids: string[]) => void,
  ) {
    for (const rel of resource.children ?? []) {
      const child = resourceOf(rel.resource);
      const rows = await child.model.findAll({
        attributes: ['id'],
        where: { [rel.foreignKey]: { [Op.in]: parentIds } },
        transaction: t,
        lock: t.LOCK.UPDATE,
      });
      const ids = rows.map((r) => String(r.getDataValue('id')));
      if (ids.length === 0) continue;
      await cascade(child, ids, batchId, deletedAt, t, counts, touch);
      touch(rel.resource, ids);
      await child.model.update(
        { deletedAt, deletionBatchId: batchId },
        { where: { id: { [Op.in]: ids } }, transaction: t },
      );
      counts[child.name] = (counts[child.name] ?? 0) + ids.length;
    }
  }

  async function remove(name: string, id: unknown, opts: DeleteOptions = {}): Promise<DeleteResult> {
    const resource = resourceOf(name);
    const entityId = checkId(id);
    return tx(resource, async (t, touch) => {
      const row = await findLive(resource, entityId, t, true);
      checkVersion(resource, row, opts);
      touch(name, [entityId]);
      if (!opts.cascade) {
        for (const rel of resource.children ?? []) {
          const child = resourceOf(rel.resource);
          const live = await child.model.count({ where: { [rel.foreignKey]: entityId }, transaction: t });
          if (live > 0) {
            throw conflict(
              `${resource.title} still has ${live} live ${child.name}${live === 1 ? '' : 's'}; delete them first or use cascade=true`,
              [{ field: 'cascade', message: 'must be true to delete the children too' }],
            );
          }
        }
      }
      const batchId = randomUUID();
      const deletedAt = new Date();
      const counts: Record<string, number> = {};
      await cascade(resource, [entityId], batchId, deletedAt, t, counts, touch);
      // setDataValue: Sequelize's set() ignores its timestamp attributes, deletedAt among them
      row.setDataValue('deletedAt', deletedAt);
      row.setDataValue('deletionBatchId', batchId);
      await row.save({ transaction: t });
      counts[resource.name] = (counts[resource.name] ?? 0) + 1;
      return { batchId, deleted: counts };
    });
  }

  /** Restores the entity and exactly the rows its deletion batch took with it. */
  async function restore(name: string, id: unknown): Promise<Attrs> {
    const resource = resourceOf(name);
    const entityId = checkId(id);
    return tx(resource, async (t, touch) => {
      const row = await findVisible(resource, entityId, { t, lock: true, deleted: true });
      if (row.getDataValue('deletedAt') === null)
        throw conflict(`${resource.title} ${entityId} is not deleted`);
      const current = row.get({ plain: true });
      for (const parent of resource.parents ?? []) {
        const parentId = current[parent.foreignKey];
        if (parentId === null || parentId === undefined) continue;
        const live = await parent.model.count({ where: { id: text(parentId) }, transaction: t });
        if (live === 0) {
          throw conflict(
            `its ${parent.title.toLowerCase()} ${text(parentId)} is deleted; restore that first`,
            [{ field: parent.foreignKey, message: 'refers to a deleted entity' }],
          );
        }
      }
      const batchId = row.getDataValue('deletionBatchId');
      row.setDataValue('deletedAt', null);
      row.setDataValue('deletionBatchId', null);
      await row.save({ transaction: t });
      touch(name, [entityId]);
      if (typeof batchId === 'string') await restoreBatch(resource, batchId, t, touch);
      return toOutput(resource, row.get({ plain: true }));
    });
  }

  async function restoreBatch(
    resource: Resource,
    batchId: string,
    t: Transaction,
    touch: (name: string, ids: string[]) => void,
  ) {
    for (const rel of resource.children ?? []) {
      const child = resourceOf(rel.resource);
      // parents first, so that no restored row ever points at a deleted one
      const [, rows = []] = await child.model.update(
        { deletedAt: null, deletionBatchId: null },
        { where: { deletionBatchId: batchId }, paranoid: false, transaction: t, returning: true },
      );
      touch(
        rel.resource,
        rows.map((r) => text(r.getDataValue('id'))),
      );
      await restoreBatch(child, batchId, t, touch);
    }
  }

  return { create, update, remove, restore };
}
