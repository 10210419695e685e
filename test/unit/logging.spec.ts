import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { runInContext } from '../../shared/context';
import { createLogger, redact } from '../../shared/logging';

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean))
      lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { logger: createLogger({ level: 'debug', stream }), lines };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('structured logging', function () {
  it('writes JSON lines carrying the request context inside a request', async function () {
    const { logger, lines } = capture();
    const child = logger.child({ service: 'buildings', nodeID: 'node-1' });
    runInContext({ actor: 'user-7', requestId: 'req-42', causationId: 'evt-1' }, () =>
      child.info('created', { id: 'b1' }),
    );
    child.info('outside');
    await flush();
    expect(lines[0]).to.include({
      level: 'info',
      message: 'created',
      service: 'buildings',
      nodeID: 'node-1',
      requestId: 'req-42',
      actor: 'user-7',
      causationId: 'evt-1',
      id: 'b1',
    });
    expect(lines[0]?.timestamp).to.be.a('string');
    expect(lines[1]).to.not.have.property('requestId');
  });

  it('never writes passwords, hashes, tokens or URL credentials', async function () {
    const { logger, lines } = capture();
    logger.info('login for amqp://guest:s3cret@rabbit:5672', {
      password: 'hunter2',
      user: { email: 'a@b.c', passwordHash: '$argon2id$v=19$xyz', profile: { refreshToken: 'rt-1' } },
      headers: { authorization: 'Bearer abc.def.ghi' },
    });
    await flush();
    const text = JSON.stringify(lines);
    for (const secret of ['hunter2', 'argon2id', 'rt-1', 'abc.def.ghi', 's3cret'])
      expect(text).to.not.include(secret);
    expect(text).to.include('a@b.c');
  });

  it('redacts nested values and survives cycles', function () {
    const cyclic: Record<string, unknown> = { name: 'x', apiKey: 'k' };
    cyclic.self = cyclic;
    expect(redact(cyclic)).to.deep.equal({ name: 'x', apiKey: '[redacted]', self: '[…]' });
  });
});
