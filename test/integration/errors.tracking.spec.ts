import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { register } from 'prom-client';
import { startNode, waitForAction, type Node } from '../helpers/platform';

/** The value of one series of this process's registry (0 when it has none yet). */
async function valueOf(name: string, labels: Record<string, string>) {
  const metric = (await register.getMetricsAsJSON()).find((m) => m.name === name);
  const found = metric?.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return found?.value ?? 0;
}

describe('errors are counted by service, action and type, and unexpected ones logged with request id and stack', function () {
  this.timeout(60_000);
  const lines: Record<string, unknown>[] = [];
  let server: Node;
  let caller: Node;

  /** the log lines of one node, as parsed JSON */
  const logOf = (into: Record<string, unknown>[]) => {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        into.push(JSON.parse(line) as Record<string, unknown>);
    });
    return stream;
  };
  const callerLines: Record<string, unknown>[] = [];

  before(async function () {
    server = await startNode([], {}, logOf(lines));
    server.broker.createService({
      name: 'faulty',
      actions: {
        crash: () => Promise.reject(new TypeError('cannot read properties of undefined (reading "x")')),
        strict: { params: { n: { type: 'number' } }, handler: () => 1 },
      },
    });
    caller = await startNode([], {}, logOf(callerLines));
    await waitForAction(caller.broker, 'faulty.crash');
  });
  after(async function () {
    await Promise.all([server, caller].map((n) => n.broker.stop()));
  });

  it('counts an unexpected error as INTERNAL and logs it once with the request id and its stack', async function () {
    const labels = { service: 'faulty', action: 'crash', type: 'INTERNAL' };
    const before = await valueOf('arxos_action_errors_total', labels);
    const err: unknown = await caller.broker
      .call('faulty.crash', {}, { meta: { requestId: 'req-tracking-1' } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).to.be.instanceOf(Error);
    expect(await valueOf('arxos_action_errors_total', labels)).to.equal(before + 1);
    const logged = lines.filter((l) => l.message === 'unexpected error' && l.requestId === 'req-tracking-1');
    expect(logged, JSON.stringify(lines.slice(-5))).to.have.length(1);
    expect(logged[0]?.action).to.equal('faulty.crash');
    expect(JSON.stringify(logged[0]?.err)).to.match(/TypeError.*\\n\s+at /);
    // the caller got the error back from the other node: it is not logged twice
    expect(callerLines.filter((l) => l.message === 'unexpected error')).to.deep.equal([]);
  });

  it('counts a parameter validation failure as VALIDATION_FAILED, without logging it', async function () {
    const labels = { service: 'faulty', action: 'strict', type: 'VALIDATION_FAILED' };
    const before = await valueOf('arxos_action_errors_total', labels);
    await caller.broker
      .call('faulty.strict', { n: 'x' }, { meta: { requestId: 'req-tracking-2' } })
      .catch(() => null);
    expect(await valueOf('arxos_action_errors_total', labels)).to.equal(before + 1);
    expect(lines.filter((l) => l.requestId === 'req-tracking-2' && l.level === 'error')).to.deep.equal([]);
  });
});
