import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { PassThrough } from 'node:stream';
import jwt from 'jsonwebtoken';
import { QueryTypes } from 'sequelize';
import { config } from '../../shared/config';
import { testDb, unique, type TestDb } from '../helpers/db';
import { gatewayUrl, http, login, startNode, useToken, waitForAction, type Node } from '../helpers/platform';
import { TEST_ADMIN } from '../helpers/root-hooks';

type Role = 'admin' | 'manager' | 'technician' | 'viewer';
const ROLES: Role[] = ['admin', 'manager', 'technician', 'viewer'];
const PASSWORD = 'a long enough password 1';

describe('authentication and authorization', function () {
  this.timeout(120_000);
  let nodes: Node[];
  let gateway: Node;
  let api: string;
  let db: TestDb;
  let adminToken: string;
  const logs: string[] = [];
  const tokens = {} as Record<Role, string>;
  const userIds = {} as Record<Role, string>;

  before(async function () {
    db = await testDb();
    const capture = new PassThrough();
    capture.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    nodes = await Promise.all([
      startNode(['gateway'], {}, capture),
      startNode(['users'], {}, capture),
      // a second users instance starting at the same moment: still exactly one first admin
      startNode(['users'], {}, capture),
      startNode(['buildings', 'devices', 'projects', 'events']),
    ]);
    gateway = nodes[0] as Node;
    for (const a of ['users.login', 'buildings.get', 'devices.get', 'projects.get', 'events.list'])
      await waitForAction(gateway.broker, a);
    api = gatewayUrl(gateway);
    adminToken = await login(api);
    useToken(adminToken);
    for (const role of ROLES) {
      const email = `${role}-${unique('u')}@example.com`;
      const created = await http('POST', `${api}/users`, { email, name: role, role, password: PASSWORD });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      userIds[role] = String(created.body.id);
      tokens[role] = await login(api, email, PASSWORD);
    }
  });
  after(async function () {
    useToken(undefined);
    await Promise.all(nodes.map((n) => n.broker.stop()));
  });

  it('created exactly one first admin from ARXOS_ADMIN_EMAIL, with a hashed password', async function () {
    const rows = await db.database.sequelize.query<{ role: string; password_hash: string }>(
      'SELECT role, password_hash FROM users WHERE lower(email) = lower(:e)',
      { replacements: { e: TEST_ADMIN.email }, type: QueryTypes.SELECT },
    );
    expect(rows).to.have.length(1);
    expect(rows[0]?.role).to.equal('admin');
    expect(rows[0]?.password_hash).to.match(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });

  describe('login, refresh, logout, me', function () {
    it('logs in with {accessToken, refreshToken, expiresIn, user} and never shows a hash', async function () {
      const res = await http(
        'POST',
        `${api}/auth/login`,
        { email: TEST_ADMIN.email.toUpperCase(), password: TEST_ADMIN.password },
        { authorization: '' },
      );
      expect(res.status).to.equal(200);
      expect(res.body).to.have.keys(['accessToken', 'refreshToken', 'expiresIn', 'tokenType', 'user']);
      expect(res.body.expiresIn).to.equal(config().auth.accessTtlS);
      expect(JSON.stringify(res.body)).to.not.match(/argon2|passwordHash|password/);
      const me = await http('GET', `${api}/me`, undefined, {
        authorization: `Bearer ${String(res.body.accessToken)}`,
      });
      expect(me.body).to.include({ email: TEST_ADMIN.email, role: 'admin' });
      expect(me.body.lastLoginAt).to.be.a('string');
    });

    it('answers a wrong password and an unknown email alike, 401', async function () {
      const wrong = await http(
        'POST',
        `${api}/auth/login`,
        { email: TEST_ADMIN.email, password: 'nope nope nope' },
        { authorization: '' },
      );
      const unknown = await http(
        'POST',
        `${api}/auth/login`,
        { email: 'nobody@example.com', password: 'nope nope nope' },
        { authorization: '' },
      );
      expect([wrong.status, unknown.status]).to.deep.equal([401, 401]);
      expect(wrong.body.detail).to.equal(unknown.body.detail);
      expect(wrong.headers.get('www-authenticate')).to.equal('Bearer');
    });

    it('rotates refresh tokens, and reusing a rotated one revokes the whole family', async function () {
      const first = await http<{ refreshToken: string }>(
        'POST',
        `${api}/auth/login`,
        { email: TEST_ADMIN.email, password: TEST_ADMIN.password },
        { authorization: '' },
      );
      const rt1 = first.body.refreshToken;
      const second = await http<{ refreshToken: string; accessToken: string }>(
        'POST',
        `${api}/auth/refresh`,
        { refreshToken: rt1 },
        { authorization: '' },
      );
      expect(second.status).to.equal(200);
      const rt2 = second.body.refreshToken;
      expect(rt2).to.not.equal(rt1);
      const reuse = await http('POST', `${api}/auth/refresh`, { refreshToken: rt1 }, { authorization: '' });
      expect(reuse.status).to.equal(401);
      expect(
        (await http('POST', `${api}/auth/refresh`, { refreshToken: rt2 }, { authorization: '' })).status,
      ).to.equal(401);
      const [row] = await db.database.sequelize.query<{ n: string }>(
        'SELECT count(*) AS n FROM refresh_tokens WHERE token_hash = :t',
        { replacements: { t: rt1 }, type: QueryTypes.SELECT },
      );
      expect(Number(row?.n)).to.equal(0); // stored hashed, never as given
    });

    it('logs out: the refresh token stops working at once', async function () {
      const s = await http<{ refreshToken: string }>(
        'POST',
        `${api}/auth/login`,
        { email: TEST_ADMIN.email, password: TEST_ADMIN.password },
        { authorization: '' },
      );
      expect(
        (
          await http(
            'POST',
            `${api}/auth/logout`,
            { refreshToken: s.body.refreshToken },
            { authorization: '' },
          )
        ).status,
      ).to.equal(204);
      expect(
        (
          await http(
            'POST',
            `${api}/auth/refresh`,
            { refreshToken: s.body.refreshToken },
            { authorization: '' },
          )
        ).status,
      ).to.equal(401);
    });

    it('throttles failed logins per account: 429 with Retry-After, even for the right password', async function () {
      const email = `brute-${unique('b')}@example.com`;
      await http('POST', `${api}/users`, { email, name: 'B', role: 'viewer', password: PASSWORD });
      const max = config().auth.loginMaxFailures;
      for (let i = 0; i < max; i += 1) {
        expect(
          (
            await http(
              'POST',
              `${api}/auth/login`,
              { email, password: `wrong-${i}-password` },
              { authorization: '' },
            )
          ).status,
        ).to.equal(401);
      }
      const blocked = await http(
        'POST',
        `${api}/auth/login`,
        { email, password: PASSWORD },
        { authorization: '' },
      );
      expect(blocked.status).to.equal(429);
      expect(blocked.body.code).to.equal('RATE_LIMITED');
      expect(Number(blocked.headers.get('retry-after'))).to.be.within(1, config().auth.loginWindowS);
    });

    it('throttles failed logins per client address across accounts', async function () {
      // through the broker, as another gateway would call: the address is the caller's to tell
      const ip = `203.0.113.${Math.floor(Math.random() * 200)}`;
      const max = config().auth.loginMaxFailuresPerIp;
      for (let i = 0; i < max; i += 1) {
        await gateway.broker
          .call('users.login', {
            email: `x${i}-${unique('ip')}@example.com`,
            password: 'whatever it is',
            clientIp: ip,
          })
          .catch(() => undefined);
      }
      try {
        await gateway.broker.call('users.login', {
          email: TEST_ADMIN.email,
          password: TEST_ADMIN.password,
          clientIp: ip,
        });
        expect.fail('should be throttled');
      } catch (err) {
        expect(err).to.include({ type: 'RATE_LIMITED', code: 429 });
      }
    });
  });

  describe('JWT attacks', function () {
    const cfg = () => config().auth;
    const claims = () => ({ sub: userIds.admin, role: 'admin' });
    const call = (token: string) =>
      http('GET', `${api}/buildings?limit=1`, undefined, { authorization: `Bearer ${token}` });

    it('accepts a good token (the control)', async function () {
      const good = jwt.sign(claims(), cfg().jwtSecret, {
        algorithm: 'HS256',
        issuer: cfg().issuer,
        audience: cfg().audience,
        expiresIn: 60,
      });
      expect((await call(good)).status).to.equal(200);
    });

    it('refuses alg none, RS256, HS/RS confusion, wrong key, issuer, audience, expiry and a tampered payload', async function () {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const opts = { issuer: cfg().issuer, audience: cfg().audience, expiresIn: 60 };
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const good = jwt.sign(claims(), cfg().jwtSecret, { algorithm: 'HS256', ...opts });
      const [head, , sig] = good.split('.');
      const now = Math.floor(Date.now() / 1000);
      const attacks: Record<string, string> = {
        none: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claims(), iss: cfg().issuer, aud: cfg().audience, exp: now + 60 })}.`,
        rs256: jwt.sign(claims(), privateKey, { algorithm: 'RS256', ...opts }),
        hsWithPublicKey: jwt.sign(claims(), publicKey.export({ type: 'spki', format: 'pem' }).toString(), {
          algorithm: 'HS256',
          ...opts,
        }),
        wrongKey: jwt.sign(claims(), 'another secret that is long enough to be a key', {
          algorithm: 'HS256',
          ...opts,
        }),
        wrongIssuer: jwt.sign(claims(), cfg().jwtSecret, { algorithm: 'HS256', ...opts, issuer: 'evil' }),
        wrongAudience: jwt.sign(claims(), cfg().jwtSecret, {
          algorithm: 'HS256',
          ...opts,
          audience: 'other-api',
        }),
        expired: jwt.sign({ ...claims(), exp: now - 10 }, cfg().jwtSecret, {
          algorithm: 'HS256',
          issuer: cfg().issuer,
          audience: cfg().audience,
        }),
        tampered: `${head}.${b64({ sub: userIds.viewer, role: 'admin', iss: cfg().issuer, aud: cfg().audience, exp: now + 60 })}.${sig}`,
        garbage: 'not.a.token',
      };
      for (const [name, token] of Object.entries(attacks)) {
        const res = await call(token);
        expect(res.status, name).to.equal(401);
        expect(res.body.code, name).to.equal('UNAUTHORIZED');
      }
      expect((await http('GET', `${api}/buildings`, undefined, { authorization: '' })).status).to.equal(401);
      expect(
        (await http('GET', `${api}/buildings`, undefined, { authorization: 'Basic YWRtaW46YWRtaW4=' }))
          .status,
      ).to.equal(401);
    });

    it('refuses the token of a user who was disabled, at once', async function () {
      const email = `dis-${unique('d')}@example.com`;
      const u = await http('POST', `${api}/users`, { email, name: 'D', role: 'manager', password: PASSWORD });
      const session = await http<{ accessToken: string; refreshToken: string }>(
        'POST',
        `${api}/auth/login`,
        { email, password: PASSWORD },
        { authorization: '' },
      );
      const asUser = { authorization: `Bearer ${session.body.accessToken}` };
      expect((await http('GET', `${api}/me`, undefined, asUser)).status).to.equal(200);
      expect(
        (await http('PATCH', `${api}/users/${String(u.body.id)}`, { status: 'disabled' })).status,
      ).to.equal(200);
      expect((await http('GET', `${api}/me`, undefined, asUser)).status).to.equal(401);
      expect(
        (
          await http(
            'POST',
            `${api}/auth/refresh`,
            { refreshToken: session.body.refreshToken },
            { authorization: '' },
          )
        ).status,
      ).to.equal(401);
      expect(
        (await http('POST', `${api}/auth/login`, { email, password: PASSWORD }, { authorization: '' }))
          .status,
      ).to.equal(401);
    });
  });

  describe('what a caller may set', function () {
    it('refuses role, createdBy, version and passwordHash in bodies (mass assignment) with 400 naming them', async function () {
      const asViewer = { authorization: `Bearer ${tokens.viewer}` };
      const self = await http(
        'PATCH',
        `${api}/users/${userIds.viewer}`,
        { name: 'V', role: 'admin' },
        asViewer,
      );
      expect(self.status).to.equal(400);
      expect((self.body.errors as { field: string }[]).map((e) => e.field)).to.deep.equal(['role']);
      for (const field of ['createdBy', 'version', 'passwordHash', 'id']) {
        const res = await http('POST', `${api}/users`, {
          email: `${unique('m')}@example.com`,
          name: 'M',
          role: 'viewer',
          password: PASSWORD,
          [field]: 'x',
        });
        expect(res.status, field).to.equal(400);
        expect(
          (res.body.errors as { field: string }[]).map((e) => e.field),
          field,
        ).to.include(field);
      }
      const me = await http('GET', `${api}/me`, undefined, asViewer);
      expect(me.body.role).to.equal('viewer');
    });

    it('lets a user change their own name, and their password only with the current one', async function () {
      const email = `self-${unique('s')}@example.com`;
      const u = await http('POST', `${api}/users`, {
        email,
        name: 'Before',
        role: 'technician',
        password: PASSWORD,
      });
      const token = await login(api, email, PASSWORD);
      const as = { authorization: `Bearer ${token}` };
      const url = `${api}/users/${String(u.body.id)}`;
      expect((await http('PATCH', url, { name: 'After' }, as)).body.name).to.equal('After');
      const noCurrent = await http('PATCH', url, { password: 'a brand new password' }, as);
      expect(noCurrent.status).to.equal(400);
      expect((noCurrent.body.errors as { field: string }[])[0]?.field).to.equal('currentPassword');
      const short = await http('PATCH', url, { password: 'short', currentPassword: PASSWORD }, as);
      expect((short.body.errors as { field: string }[])[0]?.field).to.equal('password');
      expect(
        (await http('PATCH', url, { password: 'a brand new password', currentPassword: PASSWORD }, as))
          .status,
      ).to.equal(200);
      await login(api, email, 'a brand new password');
      expect(
        (await http('PATCH', `${api}/users/${userIds.viewer}`, { name: 'not mine' }, as)).status,
      ).to.equal(403);
    });

    it('lets only managers and admins list deleted entries', async function () {
      expect(
        (
          await http('GET', `${api}/buildings?deleted=include`, undefined, {
            authorization: `Bearer ${tokens.viewer}`,
          })
        ).status,
      ).to.equal(403);
      expect(
        (
          await http('GET', `${api}/buildings?deleted=include`, undefined, {
            authorization: `Bearer ${tokens.manager}`,
          })
        ).status,
      ).to.equal(200);
    });

    it('enforces roles in the service too: a call over the broker as a viewer cannot write', async function () {
      try {
        await gateway.broker.call(
          'buildings.create',
          { data: { name: 'x', code: unique('x') } },
          { meta: { user: { id: userIds.viewer, role: 'viewer' } } },
        );
        expect.fail('a viewer created a building over the broker');
      } catch (err) {
        expect(err).to.include({ type: 'FORBIDDEN', code: 403 });
      }
    });
  });

  describe('the role × route matrix', function () {
    type Ids = Record<string, string>;
    /** Fresh fixtures (made as admin) for one request. */
    const make = {
      building: async (): Promise<Ids> => ({
        id: String((await http('POST', `${api}/buildings`, { name: 'M', code: unique('mx') })).body.id),
      }),
      floor: async (): Promise<Ids> => {
        const b = await make.building();
        const f = await http('POST', `${api}/buildings/${b.id}/floors`, { name: 'F', level: 1 });
        return { id: String(f.body.id), buildingId: String(b.id) };
      },
      room: async (): Promise<Ids> => {
        const f = await make.floor();
        const r = await http('POST', `${api}/floors/${f.id}/rooms`, { name: 'R', number: unique('n') });
        return { id: String(r.body.id), floorId: String(f.id) };
      },
      device: async (): Promise<Ids> => ({
        id: String(
          (await http('POST', `${api}/devices`, { name: 'D', type: 'meter', serialNumber: unique('sn') }))
            .body.id,
        ),
      }),
      user: async (): Promise<Ids> => ({
        id: String(
          (
            await http('POST', `${api}/users`, {
              email: `${unique('t')}@example.com`,
              name: 'T',
              role: 'viewer',
              password: PASSWORD,
            })
          ).body.id,
        ),
      }),
      project: async (): Promise<Ids> => ({
        id: String((await http('POST', `${api}/projects`, { name: 'P', code: unique('p') })).body.id),
      }),
      member: async (): Promise<Ids> => {
        const p = await make.project();
        await http('POST', `${api}/projects/${p.id}/members`, { userId: userIds.viewer, role: 'member' });
        return { id: String(p.id), userId: String(userIds.viewer) };
      },
      none: (): Promise<Ids> => Promise.resolve({}),
    };
    const deleted = (kind: keyof typeof make) => async (): Promise<Ids> => {
      const ids = await make[kind]();
      const path = {
        building: 'buildings',
        floor: 'floors',
        room: 'rooms',
        device: 'devices',
        user: 'users',
        project: 'projects',
        member: 'projects',
        none: '',
      }[kind];
      await http('DELETE', `${api}/${path}/${ids.id}?cascade=true`);
      return ids;
    };
    const everyone = ROLES;
    const managers: Role[] = ['admin', 'manager'];
    interface Case {
      method: string;
      route: string;
      fixture: () => Promise<Ids>;
      body?: () => unknown;
      allowed: Role[];
      /** roles that may call it but do not see the object: 404 (a project they are no member of) */
      hidden?: Role[];
    }
    const crud = (
      path: string,
      kind: 'building' | 'floor' | 'room' | 'device' | 'user' | 'project',
      create: () => Record<string, unknown>,
      change: Record<string, unknown>,
      writers: { create: Role[]; update: Role[]; remove: Role[] },
    ): Case[] => [
      { method: 'GET', route: `/${path}`, fixture: make.none, allowed: everyone },
      { method: 'POST', route: `/${path}`, fixture: make.none, body: create, allowed: writers.create },
      { method: 'GET', route: `/${path}/:id`, fixture: make[kind], allowed: everyone },
      {
        method: 'PATCH',
        route: `/${path}/:id`,
        fixture: make[kind],
        body: () => change,
        allowed: writers.update,
      },
      { method: 'DELETE', route: `/${path}/:id`, fixture: make[kind], allowed: writers.remove },
      { method: 'POST', route: `/${path}/:id/restore`, fixture: deleted(kind), allowed: writers.remove },
      { method: 'GET', route: `/${path}/:id/history`, fixture: make[kind], allowed: everyone },
    ];
    const W = { create: managers, update: managers, remove: managers };
    const cases: Case[] = [
      ...crud('buildings', 'building', () => ({ name: 'N', code: unique('c') }), { name: 'N2' }, W),
      { method: 'GET', route: '/buildings/:id/floors', fixture: make.building, allowed: everyone },
      {
        method: 'POST',
        route: '/buildings/:id/floors',
        fixture: make.building,
        body: () => ({ name: 'F', level: 3 }),
        allowed: managers,
      },
      ...crud('floors', 'floor', () => ({ name: 'F' }), { name: 'F2' }, W).map((c) =>
        c.method === 'POST' && c.route === '/floors' ? { ...c, fixture: make.building, body: undefined } : c,
      ),
      { method: 'GET', route: '/floors/:id/rooms', fixture: make.floor, allowed: everyone },
      {
        method: 'POST',
        route: '/floors/:id/rooms',
        fixture: make.floor,
        body: () => ({ name: 'R', number: unique('r') }),
        allowed: managers,
      },
      ...crud('rooms', 'room', () => ({}), { name: 'R2' }, W).map((c) =>
        c.method === 'POST' && c.route === '/rooms' ? { ...c, fixture: make.floor, body: undefined } : c,
      ),
      ...crud(
        'devices',
        'device',
        () => ({ name: 'D', type: 'sensor', serialNumber: unique('s') }),
        { firmwareVersion: '2' },
        {
          create: managers,
          update: ['admin', 'manager', 'technician'],
          remove: managers,
        },
      ),
      ...crud(
        'users',
        'user',
        () => ({ email: `${unique('n')}@example.com`, name: 'N', role: 'viewer', password: PASSWORD }),
        { name: 'Renamed' },
        {
          create: ['admin'],
          update: ['admin'],
          remove: ['admin'],
        },
      ),
      {
        method: 'POST',
        route: '/devices/:id/status',
        fixture: make.device,
        body: () => ({ status: 'installed' }),
        allowed: ['admin', 'manager', 'technician'],
      },
      { method: 'GET', route: '/me', fixture: make.none, allowed: everyone },
      { method: 'GET', route: '/events', fixture: make.none, allowed: everyone },
      { method: 'GET', route: '/events/stream', fixture: make.none, allowed: everyone },
      { method: 'POST', route: '/devices/bulk', fixture: make.none, body: () => [], allowed: managers },
      { method: 'GET', route: '/devices/export', fixture: make.none, allowed: everyone },
      // projects: technicians and viewers who are no members see none (the fixtures are the admin's)
      ...crud('projects', 'project', () => ({ name: 'P', code: unique('p') }), { description: 'd' }, W).map(
        (c): Case =>
          c.method === 'GET' && c.route !== '/projects' ? { ...c, hidden: ['technician', 'viewer'] } : c,
      ),
      {
        method: 'GET',
        route: '/projects/:id/members',
        fixture: make.project,
        allowed: everyone,
        hidden: ['technician', 'viewer'],
      },
      {
        method: 'POST',
        route: '/projects/:id/members',
        fixture: make.project,
        body: () => ({ userId: userIds.technician, role: 'observer' }),
        allowed: managers,
      },
      { method: 'DELETE', route: '/projects/:id/members/:userId', fixture: make.member, allowed: managers },
    ];
    // bodies that need the fixture: flat creates of floors and rooms
    const bodyFor = (c: Case, ids: Ids): unknown => {
      if (c.route === '/floors' && c.method === 'POST') return { buildingId: ids.id, name: 'F', level: 2 };
      if (c.route === '/rooms' && c.method === 'POST')
        return { floorId: ids.id, name: 'R', number: unique('r') };
      return c.body?.();
    };

    it('covers every route the gateway serves', function () {
      const served = (
        Reflect.get(gateway.broker.getLocalService('gateway') ?? {}, 'aliases') as {
          method: string;
          path: string;
          fullPath: string;
        }[]
      )
        // the API proper; login/refresh/logout are public by design (tested above), as are the
        // health and docs routes outside /api/v1
        .filter((a) => a.fullPath.startsWith('/api/v1/') && !a.fullPath.startsWith('/api/v1/auth/'))
        .map((a) => `${a.method} ${a.fullPath.replace('/api/v1', '')}`);
      const tested = cases.map((c) => `${c.method} ${c.route}`);
      expect(served.filter((r) => !tested.includes(r))).to.deep.equal([]);
    });

    it('answers each role 2xx where allowed and 403 where not, and anonymous callers 401', async function () {
      const failures: string[] = [];
      for (const c of cases) {
        for (const who of [...ROLES, 'anonymous' as const]) {
          const ids = await c.fixture();
          const path = c.route.replace(':id', ids.id ?? '').replace(':userId', ids.userId ?? '');
          const body = bodyFor(c, ids);
          const headers = { authorization: who === 'anonymous' ? '' : `Bearer ${tokens[who]}` };
          let status: number;
          if (c.route === '/events/stream' || c.route === '/devices/export') {
            const controller = new AbortController();
            const res = await fetch(`${api}${path}`, {
              headers: headers.authorization ? headers : {},
              signal: controller.signal,
            });
            status = res.status;
            controller.abort();
          } else {
            status = (await http(c.method, `${api}${path}`, body, headers)).status;
          }
          const expected =
            who === 'anonymous'
              ? [401]
              : c.hidden?.includes(who)
                ? [404]
                : c.allowed.includes(who)
                  ? [200, 201, 204]
                  : [403];
          if (!expected.includes(status))
            failures.push(`${who} ${c.method} ${c.route}: ${status}, expected ${expected.join('/')}`);
        }
      }
      expect(failures).to.deep.equal([]);
    });
  });

  describe('logs', function () {
    it('never hold a password or its hash, after everything above', function () {
      const text = logs.join('');
      expect(text.length).to.be.greaterThan(1000); // the capture did capture
      expect(text).to.not.include('$argon2');
      expect(text).to.not.include(PASSWORD);
      expect(text).to.not.include(TEST_ADMIN.password);
    });

    it('and no event or change record holds one either', async function () {
      const [row] = await db.database.sequelize.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM domain_events WHERE data::text LIKE '%argon2%' OR data::text LIKE :pw)
              + (SELECT count(*) FROM change_records WHERE changes::text LIKE '%argon2%' OR changes::text LIKE :pw) AS n`,
        { replacements: { pw: `%${PASSWORD}%` }, type: QueryTypes.SELECT },
      );
      expect(Number(row?.n)).to.equal(0);
      const [users] = await db.database.sequelize.query<{ n: string }>(
        `SELECT count(*) AS n FROM domain_events WHERE type = 'user.created'`,
        { type: QueryTypes.SELECT },
      );
      expect(Number(users?.n)).to.be.greaterThan(3); // the check above looked at real user events
    });
  });
});
