import { expect } from 'chai';
import type { DomainEvent } from '../../shared/events';
import { unique } from '../helpers/db';
import { gatewayUrl, http, login, startNode, useToken, waitForAction, type Node } from '../helpers/platform';
import { until } from '../helpers/wait';

const PASSWORD = 'a long enough password 1';

describe('projects and members over HTTP', function () {
  this.timeout(120_000);
  let nodes: Node[];
  let api: string;
  let admin: string;
  const people: Record<string, { id: string; token: string }> = {};
  let buildingA: string;
  let buildingB: string;

  const as = (who: string) => ({ authorization: `Bearer ${who === 'admin' ? admin : people[who]?.token}` });
  const get = (url: string, who = 'admin') => http('GET', `${api}${url}`, undefined, as(who));
  const post = (url: string, body: unknown, who = 'admin') => http('POST', `${api}${url}`, body, as(who));
  const newProject = (extra: Record<string, unknown> = {}) =>
    post('/projects', { name: 'Retrofit', code: unique('P'), buildingIds: [buildingA], ...extra });

  before(async function () {
    // each service on its own broker, over the real RabbitMQ
    nodes = await Promise.all([
      startNode(['gateway']),
      startNode(['users']),
      startNode(['buildings']),
      startNode(['projects']),
      startNode(['events']),
    ]);
    const gateway = nodes[0] as Node;
    for (const a of ['users.login', 'projects.create', 'buildings.lookup', 'events.list'])
      await waitForAction(gateway.broker, a);
    api = gatewayUrl(gateway);
    admin = await login(api);
    useToken(admin);
    for (const [name, role] of [
      ['manager', 'manager'],
      ['owner', 'viewer'],
      ['member', 'technician'],
      ['outsider', 'viewer'],
    ]) {
      const email = `${name}-${unique('u')}@example.com`;
      const created = await post('/users', { email, name, role, password: PASSWORD });
      people[String(name)] = { id: String(created.body.id), token: await login(api, email, PASSWORD) };
    }
    buildingA = String((await post('/buildings', { name: 'A', code: unique('B') })).body.id);
    buildingB = String((await post('/buildings', { name: 'B', code: unique('B') })).body.id);
  });
  after(async function () {
    useToken(undefined);
    await Promise.all(nodes.map((n) => n.broker.stop()));
  });

  describe('the rules of API.md', function () {
    it('creates a project (201, Location) owned by its creator, with budget {amount, currency}', async function () {
      const res = await newProject({
        status: 'active',
        startDate: '2026-01-01',
        endDate: '2026-12-31',
        budget: { amount: 125000.5, currency: 'EUR' },
      });
      expect(res.status).to.equal(201);
      expect(res.headers.get('location')).to.equal(`/api/v1/projects/${String(res.body.id)}`);
      expect(res.body).to.include({ status: 'active', version: 0 });
      expect(res.body.budget).to.deep.equal({ amount: 125000.5, currency: 'EUR' });
      expect(res.body.buildingIds).to.deep.equal([buildingA]);
      expect(res.body.deletedBuildingIds).to.deep.equal([]);
      const me = await get('/me');
      expect(res.body.ownerId).to.equal(me.body.id);
    });

    it('refuses what API.md refuses, naming the field', async function () {
      const cases: [Record<string, unknown>, string][] = [
        [{ buildingIds: [buildingA, '00000000-0000-4000-8000-000000000001'] }, 'buildingIds'],
        [{ buildingIds: ['nope'] }, 'buildingIds[0]'],
        [{ startDate: '2026-05-01', endDate: '2026-04-30' }, 'endDate'],
        [{ budget: { amount: 10, currency: 'EURO' } }, 'budget.currency'],
        [{ budget: { amount: 10, currency: 'XYZ' } }, 'budget.currency'],
        [{ budget: { amount: -1, currency: 'EUR' } }, 'budget.amount'],
        [{ budget: { amount: 10.5, currency: 'JPY' } }, 'budget.amount'],
        [{ budget: { amount: 10, currency: 'EUR', note: 'x' } }, 'budget.note'],
        [{ status: 'dreaming' }, 'status'],
        [{ ownerId: '00000000-0000-4000-8000-000000000002' }, 'ownerId'],
        [{ deletedBuildingIds: [] }, 'deletedBuildingIds'],
      ];
      for (const [body, field] of cases) {
        const res = await newProject(body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.code).to.equal('VALIDATION_FAILED');
        expect(
          (res.body.errors as { field: string }[]).map((e) => e.field),
          JSON.stringify(body),
        ).to.include(field);
      }
      const code = unique('P');
      expect((await newProject({ code })).status).to.equal(201);
      const clash = await newProject({ code });
      expect(clash.status).to.equal(409);
      // a later endDate before the stored startDate is refused too
      const p = await newProject({ startDate: '2026-03-01' });
      const patch = await http('PATCH', `${api}/projects/${String(p.body.id)}`, { endDate: '2026-02-01' });
      expect(patch.status).to.equal(400);
      expect(patch.body.errors).to.deep.include({
        field: 'endDate',
        message: 'must not be before startDate',
      });
    });

    it('lets only managers and admins write projects and members', async function () {
      expect((await post('/projects', { name: 'x', code: unique('P') }, 'member')).status).to.equal(403);
      expect((await post('/projects', { name: 'x', code: unique('P') }, 'manager')).status).to.equal(201);
      const p = await newProject();
      const res = await post(
        `/projects/${String(p.body.id)}/members`,
        { userId: people.member?.id, role: 'member' },
        'owner',
      );
      expect(res.status).to.equal(403);
    });
  });

  describe('members', function () {
    it('adds, lists and removes members by user id, emitting project.member_added / member_removed', async function () {
      const p = await newProject();
      const id = String(p.body.id);
      const userId = people.member?.id;
      const added = await post(`/projects/${id}/members`, { userId, role: 'lead' });
      expect(added.status).to.equal(201);
      expect(added.headers.get('location')).to.equal(`/api/v1/projects/${id}/members/${String(userId)}`);
      expect(added.body).to.include({ projectId: id, userId, role: 'lead' });

      const again = await post(`/projects/${id}/members`, { userId, role: 'member' });
      expect(again.status).to.equal(409);
      expect(again.body.errors).to.deep.include({ field: 'userId', message: 'is already taken' });
      const bad: [Record<string, unknown>, string][] = [
        [{ userId: '00000000-0000-4000-8000-000000000003', role: 'member' }, 'userId'],
        [{ userId: people.owner?.id, role: 'boss' }, 'role'],
        [{ role: 'member' }, 'userId'],
        [{ userId: people.owner?.id, role: 'member', projectId: buildingA }, 'projectId'],
      ];
      for (const [body, field] of bad) {
        const res = await post(`/projects/${id}/members`, body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect((res.body.errors as { field: string }[]).map((e) => e.field)).to.include(field);
      }
      expect(
        (await post(`/projects/00000000-0000-4000-8000-000000000004/members`, { userId, role: 'member' }))
          .status,
      ).to.equal(404);

      const listed = await get(`/projects/${id}/members`);
      expect((listed.body.data as { userId: string }[]).map((m) => m.userId)).to.deep.equal([userId]);

      const removed = await http('DELETE', `${api}/projects/${id}/members/${String(userId)}`);
      expect(removed.status).to.equal(204);
      expect((await http('DELETE', `${api}/projects/${id}/members/${String(userId)}`)).status).to.equal(404);
      expect((await http('DELETE', `${api}/projects/${id}/members/not-a-uuid`)).status).to.equal(400);
      expect((await get(`/projects/${id}/members`)).body.data).to.deep.equal([]);

      const events = await get(
        `/events?type=project.member_added&type=project.member_removed&aggregateId=${String(added.body.id)}`,
      );
      const types = (events.body.data as DomainEvent[]).map((e) => e.type);
      expect(types).to.deep.equal(['project.member_added', 'project.member_removed']);
      expect((events.body.data as DomainEvent[])[0]?.data).to.nested.include({
        'state.projectId': id,
        'state.role': 'lead',
      });
    });
  });

  describe('visibility: members, owner, managers and admins only', function () {
    let projectId: string;
    before(async function () {
      const p = await newProject({ ownerId: people.owner?.id });
      projectId = String(p.body.id);
      await post(`/projects/${projectId}/members`, { userId: people.member?.id, role: 'observer' });
      await http('PATCH', `${api}/projects/${projectId}`, { description: 'seen by few' });
    });

    for (const who of ['admin', 'manager', 'owner', 'member']) {
      it(`${who} sees it by id, in lists, in its history, its members and its events`, async function () {
        expect((await get(`/projects/${projectId}`, who)).status).to.equal(200);
        const list = await get(`/projects?id=${projectId}`, who);
        expect((list.body.data as unknown[]).length).to.equal(1);
        expect((await get(`/projects/${projectId}/history`, who)).status).to.equal(200);
        expect((await get(`/projects/${projectId}/members`, who)).status).to.equal(200);
        const events = await get(`/events?aggregateId=${projectId}`, who);
        expect((events.body.data as unknown[]).length).to.equal(2);
      });
    }

    it('an outsider (a viewer who is not a member) sees none of it: 404, empty lists, no events', async function () {
      const res = await get(`/projects/${projectId}`, 'outsider');
      expect(res.status).to.equal(404);
      expect(res.body.code).to.equal('NOT_FOUND');
      expect((await get(`/projects?id=${projectId}`, 'outsider')).body.data).to.deep.equal([]);
      expect((await get(`/projects?count=true`, 'outsider')).body.total).to.equal(0);
      expect((await get(`/projects/${projectId}/history`, 'outsider')).status).to.equal(404);
      expect((await get(`/projects/${projectId}/members`, 'outsider')).status).to.equal(404);
      expect((await get(`/events?aggregateId=${projectId}`, 'outsider')).body.data).to.deep.equal([]);
      const memberships = await get(`/events?type=project.member_added`, 'outsider');
      const seen = (memberships.body.data as DomainEvent[]).filter(
        (e) => e.data.state && (e.data.state as { projectId?: string }).projectId === projectId,
      );
      expect(seen).to.deep.equal([]);
    });

    it("an outsider's event stream carries no event of the project", async function () {
      const controller = new AbortController();
      const res = await fetch(`${api}/events/stream?aggregateType=project`, {
        headers: { authorization: `Bearer ${String(people.outsider?.token)}` },
        signal: controller.signal,
      });
      expect(res.status).to.equal(200);
      const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
      let text = '';
      const stop = setTimeout(() => controller.abort(), 1500);
      try {
        for (;;) {
          const chunk = await reader?.read();
          if (!chunk || chunk.done) break;
          text += Buffer.from(chunk.value).toString('utf8');
        }
      } catch {
        // aborted: what came is in `text`
      } finally {
        clearTimeout(stop);
      }
      expect(text).to.include('retry:');
      expect(text).to.not.include(projectId);
    });

    it('the owner cannot be got around over the broker either: projects.get with the outsider as caller is NOT_FOUND', async function () {
      const broker = (nodes[0] as Node).broker;
      const call = broker.call(
        'projects.get',
        { id: projectId },
        { meta: { user: { id: people.outsider?.id, role: 'viewer' } } },
      );
      await call.then(
        () => expect.fail('the outsider got the project'),
        (err: { type?: string }) => expect(err.type).to.equal('NOT_FOUND'),
      );
    });
  });

  describe('a deleted user', function () {
    it('leaves no membership and owns nothing (project.member_removed caused by user.deleted)', async function () {
      const email = `${unique('gone')}@example.com`;
      const user = await post('/users', { email, name: 'Gone', role: 'viewer', password: PASSWORD });
      const userId = String(user.body.id);
      const p = await newProject({ ownerId: userId });
      const id = String(p.body.id);
      const member = await post(`/projects/${id}/members`, { userId, role: 'lead' });
      expect(member.status).to.equal(201);
      expect((await http('DELETE', `${api}/users/${userId}`)).status).to.equal(204);
      await until(
        'the membership to go',
        async () =>
          (await get(`/projects/${id}/members`)).body.data instanceof Array &&
          ((await get(`/projects/${id}/members`)).body.data as unknown[]).length === 0,
        10_000,
      );
      expect((await get(`/projects/${id}`)).body.ownerId).to.equal(null);
      const userDeleted = (
        (await get(`/events?aggregateId=${userId}&type=user.deleted`)).body.data as DomainEvent[]
      )[0];
      const removed = (
        (await get(`/events?aggregateId=${String(member.body.id)}&type=project.member_removed`)).body
          .data as DomainEvent[]
      )[0];
      expect(removed?.causationId).to.equal(userDeleted?.id);
    });
  });

  describe('a deleted building', function () {
    it('shows as deleted in the projects that reference it, and a restore heals that', async function () {
      const p = await newProject({ buildingIds: [buildingA, buildingB] });
      const id = String(p.body.id);
      expect((await http('DELETE', `${api}/buildings/${buildingB}`)).status).to.equal(204);
      const deletedIds = async () => (await get(`/projects/${id}`)).body.deletedBuildingIds as string[];
      await until(
        'the project to show the deleted building',
        async () => (await deletedIds()).includes(buildingB),
        10_000,
      );
      const marked = await get(`/projects/${id}`);
      expect(marked.body.buildingIds).to.deep.equal([buildingA, buildingB]);
      expect(marked.body.deletedBuildingIds).to.deep.equal([buildingB]);

      // the change is the project's, caused by the building's event
      const deletedEvent = (await get(`/events?aggregateId=${buildingB}&type=building.deleted`)).body
        .data as DomainEvent[];
      const updates = (await get(`/events?aggregateId=${id}&type=project.updated`)).body
        .data as DomainEvent[];
      expect(updates.at(-1)?.causationId).to.equal(deletedEvent.at(-1)?.id);

      // a deleted building cannot be named anew
      const patch = await http('PATCH', `${api}/projects/${id}`, { buildingIds: [buildingB] });
      expect(patch.status).to.equal(400);

      expect((await post(`/buildings/${buildingB}/restore`, {})).status).to.equal(200);
      await until('the restore to heal the project', async () => (await deletedIds()).length === 0, 10_000);
      const healed = await get(`/projects/${id}`);
      expect(healed.body.buildingIds).to.deep.equal([buildingA, buildingB]);
    });
  });
});
