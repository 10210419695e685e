import type { Service, ServiceSchema } from 'moleculer';
import { QueryTypes, type Sequelize } from 'sequelize';
import { dataOf } from '../../shared/data';
import { gauge } from '../../shared/monitoring';

/*
 * Domain gauges of the devices service, computed at scrape time by one SQL query for both, kept ten
 * seconds so that frequent scrapes (or several scrapers) do not each scan the devices table.
 */

/** A device not heard from for this long (or never) counts as not seen. */
const NOT_SEEN_AFTER = '15 minutes';
const KEEP_MS = 10_000;

interface Row {
  status: string;
  type: string;
  building_id: string | null;
  live: number;
  not_seen: number;
}

const sources = new Set<Sequelize>();
let last: { at: number; rows: Promise<Row[]> } | undefined;

function rows(): Promise<Row[]> {
  const [sequelize] = sources;
  if (!sequelize) return Promise.resolve([]);
  if (!last || Date.now() - last.at > KEEP_MS) {
    const query = sequelize.query<Row>(
      `SELECT status, type, building_id,
              count(*)::int AS live,
              count(*) FILTER (WHERE last_seen_at IS NULL
                               OR last_seen_at < now() - interval '${NOT_SEEN_AFTER}')::int AS not_seen
       FROM devices WHERE deleted_at IS NULL
       GROUP BY status, type, building_id`,
      { type: QueryTypes.SELECT },
    );
    last = { at: Date.now(), rows: query };
    // a failed query is not kept: the next scrape asks again
    void query.catch(() => (last = undefined));
  }
  return last.rows;
}

const devices = gauge<'status' | 'type'>({
  name: 'arxos_devices',
  help: 'Devices not deleted, by status and type',
  labels: ['status', 'type'],
  async collect() {
    const totals = new Map<string, { status: string; type: string; n: number }>();
    for (const r of await rows()) {
      const key = `${r.status}/${r.type}`;
      totals.set(key, { status: r.status, type: r.type, n: (totals.get(key)?.n ?? 0) + r.live });
    }
    devices.reset();
    for (const { status, type, n } of totals.values()) devices.set({ status, type }, n);
  },
});

const notSeen = gauge<'building_id'>({
  name: 'arxos_devices_not_seen',
  help: `Devices not deleted whose lastSeenAt is null or older than ${NOT_SEEN_AFTER}, by building ("none": unplaced)`,
  labels: ['building_id'],
  async collect() {
    const totals = new Map<string, number>();
    for (const r of await rows()) {
      const building = r.building_id ?? 'none';
      totals.set(building, (totals.get(building) ?? 0) + r.not_seen);
    }
    notSeen.reset();
    // only buildings with silent devices: a series per building with devices would grow with the portfolio
    for (const [building_id, n] of totals) if (n > 0) notSeen.set({ building_id }, n);
  },
});

/** Mixed into the devices service: its database feeds the gauges while it runs. */
export const deviceMetrics: Partial<ServiceSchema> = {
  started(this: Service) {
    sources.add(dataOf(this).database.sequelize);
  },
  stopped(this: Service) {
    sources.delete(dataOf(this).database.sequelize);
  },
};
