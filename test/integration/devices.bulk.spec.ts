import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { QueryTypes } from 'sequelize';
import { testDb, unique, type TestDb } from '../helpers/db';
import { gatewayUrl, http, login, startNode, useToken, waitForAction, type Node } from '../helpers/platform';

const ROWS = 100_000;
const BAD_ROWS = [17, 4_242, 50_001, 99_998]; // 1-based row numbers given a bad value

describe('devices: placement, bulk import and export over HTTP', function () {
  this.timeout(600_000);
  let nodes: Node[];
  let api: string;
  let token: string;
  let db: TestDb;
  let roomId: string;
  let floorId: string;
  let buildingId: string;

  before(async function () {
    db = await testDb();
    // each service on its own broker, over the real RabbitMQ
    nodes = await Promise.all([
      startNode(['gateway']),
      startNode(['users']),
      startNode(['buildings']),
      startNode(['devices']),
      startNode(['events']),
    ]);
    const gateway = nodes[0] as Node;
    for (const a of ['users.login', 'devices.import', 'buildings.rooms.lookup', 'events.list'])
      await waitForAction(gateway.broker, a);
    api = gatewayUrl(gateway);
    token = await login(api);
    useToken(token);
    const b = await http('POST', `${api}/buildings`, { name: 'Bulk HQ', code: unique('B') });
    buildingId = String(b.body.id);
    const f = await http('POST', `${api}/buildings/${buildingId}/floors`, { name: 'G', level: 0 });
    floorId = String(f.body.id);
    const r = await http('POST', `${api}/floors/${floorId}/rooms`, { name: 'Plant', number: '0.01' });
    roomId = String(r.body.id);
  });
  after(async function () {
    useToken(undefined);
    await Promise.all(nodes.map((n) => n.broker.stop()));
  });

  const countTagged = async (tag: string) => {
    const [row] = await db.database.sequelize.query<{ n: string }>(
      `SELECT count(*) AS n FROM devices WHERE metadata->>'batch' = :tag AND deleted_at IS NULL`,
      { replacements: { tag }, type: QueryTypes.SELECT },
    );
    return Number(row?.n);
  };
  const bulk = (body: string, query: string, type = 'application/x-ndjson') =>
    fetch(`${api}/devices/bulk?${query}`, {
      method: 'POST',
      headers: { 'content-type': type, authorization: `Bearer ${token}` },
      body,
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> }));

  describe('placement', function () {
    it('derives floorId and buildingId from the room, asked of the buildings service', async function () {
      const res = await http('POST', `${api}/devices`, {
        name: 'Meter',
        type: 'meter',
        serialNumber: unique('SN'),
        roomId,
      });
      expect(res.status).to.equal(201);
      expect(res.body).to.include({ roomId, floorId, buildingId });
      const moved = await http('PATCH', `${api}/devices/${String(res.body.id)}`, { roomId: null });
      expect(moved.body).to.include({ roomId: null, floorId: null, buildingId: null });
    });

    it('refuses an unknown or deleted room with 400 naming roomId', async function () {
      const unknown = await http('POST', `${api}/devices`, {
        name: 'X',
        type: 'sensor',
        serialNumber: unique('SN'),
        roomId: '00000000-0000-4000-8000-000000000000',
      });
      expect(unknown.status).to.equal(400);
      expect(unknown.body.errors).to.deep.include({
        field: 'roomId',
        message: 'Room 00000000-0000-4000-8000-000000000000 does not exist',
      });
      const r = await http('POST', `${api}/floors/${floorId}/rooms`, { name: 'Gone', number: unique('R') });
      expect((await http('DELETE', `${api}/rooms/${String(r.body.id)}`)).status).to.equal(204);
      const deleted = await http('POST', `${api}/devices`, {
        name: 'X',
        type: 'sensor',
        serialNumber: unique('SN'),
        roomId: r.body.id,
      });
      expect(deleted.status).to.equal(400);
      expect(deleted.body.errors).to.have.nested.property('[0].field', 'roomId');
    });
  });

  describe('bulk import', function () {
    const rowsFor = (tag: string, n: number, bad: number[] = []) => {
      const lines: string[] = [];
      for (let i = 1; i <= n; i++) {
        const device: Record<string, unknown> = {
          name: `Sensor ${i}`,
          type: i % 3 === 0 ? 'meter' : 'sensor',
          serialNumber: `${tag}-${i}`,
          manufacturer: 'Acme',
          metadata: { batch: tag, i },
          ...(i % 10 === 0 ? { roomId } : {}),
          ...(i % 7 === 0 ? { location: { type: 'Point', coordinates: [4.35 + i / 1e6, 50.85] } } : {}),
        };
        if (bad.includes(i)) {
          if (i % 2 === 0) device.type = 'toaster';
          else device.serialNumber = `${tag}-1`; // repeats row 1
        }
        lines.push(JSON.stringify(device));
      }
      return lines;
    };

    it(`imports ${ROWS} NDJSON rows in skip-invalid mode, reporting each bad row and writing the rest`, async function () {
      const tag = unique('bulk');
      // the last of the 100 000 lines is not JSON
      const body = `${rowsFor(tag, ROWS - 1, BAD_ROWS).join('\n')}\nnot json\n`;
      const started = Date.now();
      const res = await bulk(body, 'mode=skip-invalid');
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `      skip-invalid: ${ROWS} rows in ${seconds.toFixed(1)} s = ${Math.round(ROWS / seconds)} rows/s`,
      );
      expect(res.status, JSON.stringify(res.body).slice(0, 500)).to.equal(200);
      const created = ROWS - 1 - BAD_ROWS.length;
      expect(res.body).to.include({ total: ROWS, created, invalid: BAD_ROWS.length + 1 });
      const results = res.body.results as {
        row: number;
        status: string;
        id?: string;
        errors?: { field: string }[];
      }[];
      expect(results).to.have.length(ROWS);
      const invalid = results.filter((r) => r.status === 'invalid');
      expect(invalid.map((r) => r.row)).to.deep.equal([...BAD_ROWS, ROWS]);
      expect(invalid[0]?.errors?.[0]?.field).to.equal('serialNumber'); // row 17 repeats row 1
      expect(invalid[1]?.errors?.[0]?.field).to.equal('type');
      expect(invalid[4]?.errors?.[0]?.field).to.equal('row');
      expect(results.filter((r) => r.status === 'created').every((r) => typeof r.id === 'string')).to.equal(
        true,
      );
      expect(await countTagged(tag)).to.equal(created);

      // every written row has its change record and its event, with placement derived
      const [stats] = await db.database.sequelize.query<{ records: string; events: string; placed: string }>(
        `SELECT (SELECT count(*) FROM change_records c JOIN devices d ON d.id = c.entity_id
                   WHERE d.metadata->>'batch' = :tag AND c.action = 'create') AS records,
                (SELECT count(*) FROM domain_events e JOIN devices d ON d.id = e.aggregate_id
                   WHERE d.metadata->>'batch' = :tag AND e.type = 'device.created') AS events,
                (SELECT count(*) FROM devices WHERE metadata->>'batch' = :tag AND floor_id = :floorId) AS placed`,
        { replacements: { tag, floorId }, type: QueryTypes.SELECT },
      );
      expect(Number(stats?.records)).to.equal(created);
      expect(Number(stats?.events)).to.equal(created);
      const placedRows = Array.from({ length: ROWS - 1 }, (_, k) => k + 1).filter((n) => n % 10 === 0);
      expect(Number(stats?.placed)).to.equal(placedRows.filter((n) => !BAD_ROWS.includes(n)).length);

      // the events went to the log at the end of the import (deferred): their outbox messages are the
      // very envelopes the log gives
      const someId = results.find((r) => r.status === 'created')?.id;
      const [outboxRow] = await db.database.sequelize.query<{ payload: unknown }>(
        'SELECT payload FROM outbox WHERE aggregate_id = :id',
        { replacements: { id: someId }, type: QueryTypes.SELECT },
      );
      const logged = await http('GET', `${api}/events?aggregateId=${String(someId)}`);
      expect(outboxRow?.payload).to.deep.equal((logged.body.data as unknown[])[0]);

      // the export streams them back: every field as imported
      const exported = await fetch(
        `${api}/devices/export?format=ndjson&metadata.batch=${tag}&sort=serialNumber`,
        {
          headers: { authorization: `Bearer ${token}` },
        },
      );
      expect(exported.headers.get('content-type')).to.match(/^application\/x-ndjson/);
      const lines = (await exported.text()).trim().split('\n');
      expect(lines).to.have.length(created);
      const byIndex = new Map(
        rowsFor(tag, ROWS).map((l, i) => [i + 1, JSON.parse(l) as Record<string, unknown>]),
      );
      for (const line of lines) {
        const d = JSON.parse(line) as Record<string, unknown>;
        const metadata = d.metadata as { i: number };
        const sent = byIndex.get(metadata.i) ?? {};
        for (const [k, v] of Object.entries(sent)) expect(d[k], `${k} of row ${metadata.i}`).to.deep.equal(v);
      }
    });

    it(`refuses ${ROWS} rows with a few bad ones in all-or-nothing mode, writing nothing`, async function () {
      const tag = unique('bulk');
      const started = Date.now();
      const res = await bulk(rowsFor(tag, ROWS, BAD_ROWS).join('\n'), 'mode=all-or-nothing');
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `      all-or-nothing: ${ROWS} rows checked in ${seconds.toFixed(1)} s = ${Math.round(ROWS / seconds)} rows/s`,
      );
      expect(res.status).to.equal(400);
      expect(res.body).to.include({ code: 'VALIDATION_FAILED' });
      expect(res.body.errors).to.deep.include({ field: 'rows[17].serialNumber', message: 'repeats row 1' });
      const report = res.body.report as { total: number; created: number; invalid: number; valid: number };
      expect(report).to.include({
        total: ROWS,
        created: 0,
        invalid: BAD_ROWS.length,
        valid: ROWS - BAD_ROWS.length,
      });
      expect(await countTagged(tag)).to.equal(0);
    });

    it('dry run checks a JSON array (serial numbers taken by live devices included) and writes nothing', async function () {
      const tag = unique('bulk');
      const rows = rowsFor(tag, 2000).map((l) => JSON.parse(l) as Record<string, unknown>);
      const taken = await http('POST', `${api}/devices`, {
        name: 'Taken',
        type: 'sensor',
        serialNumber: `${tag}-5`,
      });
      expect(taken.status).to.equal(201);
      const res = await bulk(JSON.stringify(rows), 'mode=skip-invalid&dryRun=true', 'application/json');
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ dryRun: true, total: 2000, created: 0, valid: 1999, invalid: 1 });
      const results = res.body.results as { row: number; status: string }[];
      expect(results.find((r) => r.status === 'invalid')?.row).to.equal(5);
      expect(await countTagged(tag)).to.equal(0);
    });

    it('answers bad uploads with 4xx problems naming the part', async function () {
      const bad = await bulk('[{"name": "x"', 'mode=skip-invalid', 'application/json');
      expect(bad.status).to.equal(400);
      expect(bad.body.errors).to.have.nested.property('[0].field', 'body');
      const notArray = await bulk('{"name": "x"}', '', 'application/json');
      expect(notArray.status).to.equal(400);
      expect((await bulk('', 'mode=sometimes')).body.errors).to.deep.equal([
        { field: 'mode', message: 'must be one of all-or-nothing, skip-invalid' },
      ]);
      expect((await bulk('', 'dryRun=yes')).status).to.equal(400);
      expect((await bulk('', 'limit=3')).body.errors).to.have.nested.property('[0].field', 'limit');
      expect((await bulk('a,b', '', 'text/csv')).status).to.equal(415);
      const empty = await bulk('', 'mode=skip-invalid');
      expect(empty.body).to.include({ total: 0, created: 0 });
    });

    it('lets only managers and admins import', async function () {
      const email = `${unique('v')}@example.com`;
      await http('POST', `${api}/users`, {
        email,
        name: 'V',
        role: 'technician',
        password: 'a long enough password 1',
      });
      const technician = await login(api, email, 'a long enough password 1');
      const res = await fetch(`${api}/devices/bulk`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${technician}` },
        body: '{"name":"x","type":"sensor","serialNumber":"y"}\n',
      });
      expect(res.status).to.equal(403);
      expect((await fetch(`${api}/devices/bulk`, { method: 'POST' })).status).to.equal(401);
      // and the refused call is over: a shutdown's drain does not wait for it
      const devices = (nodes[3] as Node).broker.getLocalService('devices');
      const tracked: unknown = Reflect.get(devices ?? {}, '_trackedContexts');
      const running = Array.isArray(tracked)
        ? tracked.map((c: { action?: { name?: string } }) => c.action?.name)
        : [];
      expect(running).to.deep.equal([]);
    });
  });

  describe('export and the import command', function () {
    it('exports CSV that the import command reads back, with a progress bar', async function () {
      const tag = unique('csv');
      const rows = Array.from({ length: 300 }, (_, i) => ({
        name: `Lamp, "${i}"`,
        type: 'lighting',
        serialNumber: `${tag}-${i}`,
        roomId,
        location: { type: 'Point', coordinates: [4.4, 50.8] },
        metadata: { batch: tag },
      }));
      const res = await bulk(rows.map((r) => JSON.stringify(r)).join('\n'), 'mode=all-or-nothing');
      expect(res.status).to.equal(200);
      const csv = await (
        await fetch(`${api}/devices/export?format=csv&metadata.batch=${tag}&sort=serialNumber`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).text();
      const records = parse<Record<string, string>>(csv, { columns: true });
      expect(records).to.have.length(300);
      expect(records[0]).to.include({ type: 'lighting', roomId, floorId, buildingId, status: 'planned' });
      expect(records.map((r) => r.name).sort()).to.deep.equal(rows.map((r) => r.name).sort());

      // delete them, then import the export file again with the command
      const dir = mkdtempSync(join(tmpdir(), 'arxos-import-'));
      try {
        await db.database.sequelize.query(
          `UPDATE devices SET deleted_at = now() WHERE metadata->>'batch' = :tag`,
          { replacements: { tag } },
        );
        const file = join(dir, 'devices.csv');
        writeFileSync(file, csv);
        const run = await promisify(execFile)(
          process.execPath,
          ['-r', 'ts-node/register/transpile-only', 'scripts/import.ts', file, '--mode', 'all-or-nothing'],
          { env: { ...process.env, ARXOS_URL: api.replace(/\/api\/v1$/, ''), ARXOS_TOKEN: token } },
        );
        expect(run.stderr, run.stderr).to.match(/\[#{30} +100%/);
        const leftOut =
          /columns an import cannot set, left out: (.*)/.exec(run.stderr)?.[1]?.split(', ') ?? [];
        expect(leftOut).to.include.members(['id', 'version', 'floorId', 'buildingId', 'status', 'createdAt']);
        expect(leftOut).to.not.include.members(['name']);
        expect(run.stdout).to.include('200 rows 300, created 300, valid 0, invalid 0');
        expect(await countTagged(tag)).to.equal(300);

        // a malformed file stops the command with the parser's message (exit code 2), not a crash
        const broken = join(dir, 'broken.csv');
        writeFileSync(broken, 'name,type,serialNumber\n"unterminated,sensor,x\n');
        const failed = await promisify(execFile)(
          process.execPath,
          ['-r', 'ts-node/register/transpile-only', 'scripts/import.ts', broken],
          { env: { ...process.env, ARXOS_URL: api.replace(/\/api\/v1$/, ''), ARXOS_TOKEN: token } },
        ).then(
          () => expect.fail('a broken CSV was imported'),
          (err: { code?: number; stderr?: string }) => err,
        );
        expect(failed.code).to.equal(2);
        expect(failed.stderr).to.match(/broken\.csv: .*quote/i);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses unknown export parameters before sending anything', async function () {
      const res = await http('GET', `${api}/devices/export?format=xml`);
      expect(res.status).to.equal(400);
      expect(res.body.errors).to.deep.equal([{ field: 'format', message: 'must be ndjson or csv' }]);
      const filter = await http('GET', `${api}/devices/export?colour=red`);
      expect(filter.body.errors).to.have.nested.property('[0].field', 'colour');
      expect((await http('GET', `${api}/devices/export?cursor=abc`)).status).to.equal(400);
    });
  });
});
