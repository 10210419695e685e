import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseConfig, VARS } from '../../shared/config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', function () {
  it('parses an empty environment into defaults that work on this machine', function () {
    const cfg = parseConfig({});
    expect(cfg.http.port).to.equal(3000);
    expect(cfg.db.url).to.equal('postgres://postgres@127.0.0.1:5432/arxos');
    expect(cfg.db.pool).to.deep.equal({ max: 10, min: 0, acquireMs: 5000, idleMs: 10000 });
    expect(cfg.services).to.deep.equal([
      'gateway',
      'users',
      'buildings',
      'devices',
      'projects',
      'events',
      'monitoring',
    ]);
    expect(cfg.ops).to.deep.equal({ port: 9400, shutdownDelayMs: 5000 });
    expect(cfg.amqp.prefetch).to.equal(100);
    expect(cfg.cache.strategy).to.equal('redis');
    expect(cfg.namespace).to.equal('arxos');
    expect(cfg.nodeID).to.match(/-\d+$/);
  });

  it('reads typed values', function () {
    const cfg = parseConfig({
      PORT: '8080',
      DB_LOG_SQL: 'true',
      SERVICES: 'buildings, gateway',
      LOG_LEVEL: 'debug',
    });
    expect(cfg.http.port).to.equal(8080);
    expect(cfg.db.logSql).to.equal(true);
    expect(cfg.services).to.deep.equal(['gateway', 'buildings']);
    expect(cfg.logLevel).to.equal('debug');
  });

  it('names every bad variable in one error', function () {
    const problems = problemsOf({
      PORT: 'eighty',
      DB_POOL_MAX: '0',
      LOG_LEVEL: 'loud',
      SERVICES: 'buildings,nope',
    });
    expect(problems.map((p) => p.split('=')[0])).to.have.members([
      'PORT',
      'DB_POOL_MAX',
      'LOG_LEVEL',
      'SERVICES',
    ]);
    expect(problems.find((p) => p.startsWith('SERVICES'))).to.include('nope');
  });

  it('refuses a URL of the wrong scheme without printing the secret it holds', function () {
    const problems = problemsOf({ DATABASE_URL: 'mysql://root:hunter2@db/arxos' });
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^DATABASE_URL=\(hidden\)/);
    expect(problems[0]).to.not.include('hunter2');
  });

  it('requires a JWT secret of 32+ characters in production, and uses a marked development key elsewhere', function () {
    expect(problemsOf({ NODE_ENV: 'production' }).some((p) => p.startsWith('JWT_SECRET'))).to.equal(true);
    expect(problemsOf({ JWT_SECRET: 'short' })[0]).to.match(/^JWT_SECRET=\(hidden\)/);
    const dev = parseConfig({});
    expect(dev.auth.devSecret).to.equal(true);
    const prod = parseConfig({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40) });
    expect(prod.auth).to.include({ devSecret: false, jwtSecret: 'p'.repeat(40) });
  });

  it('refuses a pool minimum above its maximum', function () {
    expect(problemsOf({ DB_POOL_MIN: '20', DB_POOL_MAX: '5' })[0]).to.match(/^DB_POOL_MIN=20/);
  });

  it('is documented: .env.example and README list every variable', function () {
    const root = path.resolve(__dirname, '../..');
    const example = fs.readFileSync(path.join(root, '.env.example'), 'utf8');
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    for (const name of Object.keys(VARS)) {
      expect(example, `.env.example lacks ${name}`).to.match(new RegExp(`^#? ?${name}=`, 'm'));
      expect(readme, `README lacks ${name}`).to.include(`| \`${name}\``);
    }
  });

  it('is read from shared/config only: no process.env in services or shared code', function () {
    const root = path.resolve(__dirname, '../..');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.includes(`${path.sep}config${path.sep}`)) {
          if (fs.readFileSync(p, 'utf8').includes('process.env')) offenders.push(path.relative(root, p));
        }
      }
    };
    walk(path.join(root, 'shared'));
    walk(path.join(root, 'services'));
    expect(offenders).to.deep.equal([]);
  });
});
