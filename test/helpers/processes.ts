import { execFile, fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { testDb } from './db';
import { atEndOfRun } from './root-hooks';

/*
 * Platform processes as production runs them: `scripts/run-service.ts` in a child process of its own,
 * in this run's namespace and database (the environment root-hooks set), with its ops port on a free
 * port. Tests that need a real process (signals, one exposition per process) use these.
 */

export interface PlatformProcess {
  child: ChildProcess;
  nodeID: string;
  opsPort: number;
  /** what the process wrote (JSON log lines), for a failing test's message */
  output: () => string;
  /** resolves with the exit code (or the signal) */
  exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();
atEndOfRun(async () => {
  for (const child of running) child.kill('SIGKILL');
  await Promise.resolve();
});

let count = 0;

export async function startProcess(services: string[], env: Record<string, string> = {}) {
  await testDb(); // the run's database exists and is migrated
  const nodeID = `test-proc-${process.pid}-${(count += 1)}`;
  const child = fork(path.resolve(__dirname, '../../scripts/run-service.ts'), [], {
    env: {
      ...process.env,
      SERVICES: services.join(','),
      NODE_ID: nodeID,
      OPS_PORT: '0',
      SHUTDOWN_DELAY_MS: '0',
      ...env,
    },
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  const opsPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${nodeID} did not start: ${out}`)), 60_000);
    child.once('message', (msg: unknown) => {
      clearTimeout(timer);
      const port: unknown = typeof msg === 'object' && msg !== null ? Reflect.get(msg, 'opsPort') : undefined;
      if (typeof port === 'number') resolve(port);
      else reject(new Error(`${nodeID} said ${JSON.stringify(msg)}`));
    });
    void exited.then((code) => reject(new Error(`${nodeID} exited (${code}) while starting: ${out}`)));
  });
  return { child, nodeID, opsPort, output: () => out, exited } satisfies PlatformProcess;
}

/** A TCP port free right now (for a child's PORT, which cannot be 0). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/**
 * `promtool check metrics` on an exposition: its complaints (empty when clean). promtool comes from
 * Debian's `prometheus` package; without it the test fails saying so rather than passing unchecked.
 */
export async function promtoolProblems(exposition: string): Promise<string> {
  const { stdout } = await promisify(execFile)('sh', ['-c', 'command -v promtool || true']);
  if (!stdout.trim())
    throw new Error('promtool is not installed: run `apt-get install -y prometheus` (it brings promtool)');
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (err, out, errOut) => {
      // promtool exits 1 with its findings on stderr/stdout; anything else is a failure to run it
      if (err && typeof err.code !== 'number') reject(new Error(`promtool did not run: ${err.message}`));
      else resolve(`${out}${errOut}`.trim());
    });
    child.stdin?.end(exposition);
  });
}
