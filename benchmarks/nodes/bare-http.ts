/* P2's baseline: a bare Node http server doing the same primary-key read with a pg pool, nothing else. */
import http from 'node:http';
import { Pool } from 'pg';

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const port = Number(process.env.PORT ?? 0);
const PATH = /^\/api\/v1\/buildings\/([0-9a-f-]{36})$/;

const server = http.createServer((req, res) => {
  const m = PATH.exec(req.url ?? '');
  if (!m) {
    res.statusCode = 404;
    res.end();
    return;
  }
  pool
    .query('SELECT * FROM buildings WHERE id = $1 AND deleted_at IS NULL', [m[1]])
    .then((r) => {
      res.statusCode = r.rows[0] ? 200 : 404;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(r.rows[0] ?? null));
    })
    .catch(() => {
      res.statusCode = 500;
      res.end();
    });
});
server.listen(port, '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => server.close(() => void pool.end().finally(() => process.exit(0))));
