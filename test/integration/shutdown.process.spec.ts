import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { testDb, unique, type TestDb } from '../helpers/db';
import { login, startNode, waitForAction, type Node } from '../helpers/platform';
import { freePort, startProcess, type PlatformProcess } from '../helpers/processes';
import { sleep, until } from '../helpers/wait';

const ready = async (p: PlatformProcess) => {
  const res = await fetch(`http://127.0.0.1:${p.opsPort}/health/ready`);
  const body = (await res.json()) as { status: string; checks: Record<string, { output?: string }[]> };
  return { status: res.status, body };
};

describe('SIGTERM: readiness fails first, in-flight work drains, then the process exits', function () {
  this.timeout(90_000);
  let db: TestDb;
  let caller: Node;
  let proc: PlatformProcess;

  before(async function () {
    db = await testDb();
    proc = await startProcess(['buildings'], { SHUTDOWN_DELAY_MS: '1500' });
    caller = await startNode([]);
    await waitForAction(caller.broker, 'buildings.update');
  });
  after(async function () {
    proc.child.kill('SIGKILL');
    await caller.broker.stop();
  });

  it('finishes a call it is serving before it exits, and exits 0', async function () {
    const opts = { nodeID: proc.nodeID, timeout: 30_000 };
    const created = await caller.broker.call<{ id: string }, object>(
      'buildings.create',
      { data: { name: 'Before', code: unique('SIG') } },
      opts,
    );
    expect((await ready(proc)).status).to.equal(200);

    // a write the process cannot finish until the test lets it: the table is locked
    const tx = await db.database.sequelize.transaction();
    await db.database.sequelize.query('LOCK TABLE buildings IN ACCESS EXCLUSIVE MODE', { transaction: tx });
    const update = caller.broker.call<{ name: string }, object>(
      'buildings.update',
      { id: created.id, data: { name: 'Drained' } },
      opts,
    );
    await until('the update to wait on the lock', async () => {
      const [row] = await db.database.sequelize.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'buildings'::regclass`,
        { type: QueryTypes.SELECT },
      );
      return (row?.n ?? 0) > 0;
    });

    proc.child.kill('SIGTERM');
    // readiness fails at once; liveness still answers
    await until('readiness to fail', async () => (await ready(proc)).status === 503, 1000);
    const report = await ready(proc);
    expect(report.body.status).to.equal('fail');
    expect(report.body.checks['process:phase']?.[0]?.output).to.equal('shutting down');
    expect((await fetch(`http://127.0.0.1:${proc.opsPort}/health/live`)).status).to.equal(200);

    // past the shutdown delay, the process still waits for the call it serves
    await sleep(2500);
    expect(proc.child.exitCode, proc.output()).to.equal(null);

    await tx.rollback();
    expect((await update).name).to.equal('Drained');
    expect(await proc.exited, proc.output()).to.equal(0);
    const row = await db.models.Building.findByPk(created.id);
    expect(row?.get('name')).to.equal('Drained');
  });

  it('ends its open event streams when it stops, and exits 0 (an SSE client does not hold it)', async function () {
    const port = await freePort();
    const gateway = await startProcess(['gateway', 'users', 'events'], {
      PORT: String(port),
      SHUTDOWN_DELAY_MS: '0',
    });
    try {
      const api = `http://127.0.0.1:${port}/api/v1`;
      await until('the gateway to serve', async () => (await fetch(`${api}/events`)).status === 401, 30_000);
      const token = await login(api);
      const stream = await fetch(`${api}/events/stream`, { headers: { authorization: `Bearer ${token}` } });
      expect(stream.status).to.equal(200);
      const ended = stream.text().then(
        () => 'ended',
        () => 'cut',
      );
      gateway.child.kill('SIGTERM');
      expect(await gateway.exited, gateway.output()).to.equal(0);
      expect(await ended).to.equal('ended');
    } finally {
      gateway.child.kill('SIGKILL');
    }
  });
});
