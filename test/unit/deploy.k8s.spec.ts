import { expect } from 'chai';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { SERVICE_NAMES } from '../../shared/config';
import {
  arr,
  at,
  containersOf,
  dataOf,
  kindOf,
  labelsOf,
  nameOf,
  ofKind,
  OVERLAYS,
  podSpecOf,
  rec,
  renderKustomize,
  servicesEnvOf,
  str,
  type K8sObject,
} from '../helpers/deploy';

/*
 * The Kubernetes manifests as `kubectl kustomize` renders each overlay, checked offline: every object
 * against the Kubernetes OpenAPI schemas (kubernetes-models' ajv validators), then the rules of
 * issue 7 (security context, probes on the ops port, references that resolve, no shipped secrets).
 */

/** Validates `o` against the schema of its kind; false when the kind is not one we know. */
const VALIDATORS: ((o: unknown) => boolean)[] = [
  (o) => Deployment.is(o) && (new Deployment(o).validate(), true),
  (o) => Service.is(o) && (new Service(o).validate(), true),
  (o) => ConfigMap.is(o) && (new ConfigMap(o).validate(), true),
  (o) => Secret.is(o) && (new Secret(o).validate(), true),
  (o) => Namespace.is(o) && (new Namespace(o).validate(), true),
  (o) => Job.is(o) && (new Job(o).validate(), true),
  (o) => Ingress.is(o) && (new Ingress(o).validate(), true),
  (o) => HorizontalPodAutoscaler.is(o) && (new HorizontalPodAutoscaler(o).validate(), true),
  (o) => PodDisruptionBudget.is(o) && (new PodDisruptionBudget(o).validate(), true),
  (o) => NetworkPolicy.is(o) && (new NetworkPolicy(o).validate(), true),
];

const configOf = (objects: K8sObject[]) =>
  dataOf(ofKind(objects, 'ConfigMap').find((c) => nameOf(c) === 'arxos-config') ?? {});

const matches = (selector: Record<string, unknown>, labels: Record<string, unknown>) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

const deploymentsOf = (objects: K8sObject[]): IDeployment[] =>
  objects.flatMap((o) => (Deployment.is(o) ? [o] : []));

describe('deployment: Kubernetes manifests (kustomize)', function () {
  this.timeout(60_000);

  it('has the overlays dev and prod', function () {
    expect(OVERLAYS).to.include.members(['dev', 'prod']);
  });

  for (const overlay of OVERLAYS) {
    describe(`overlay ${overlay}`, function () {
      const objects = () => renderKustomize(`overlays/${overlay}`);

      it('renders, and every object is valid against the Kubernetes schemas', function () {
        expect(objects()).to.not.be.empty;
        for (const o of objects()) {
          const what = `${kindOf(o)} ${nameOf(o)}`;
          let known = false;
          expect(() => (known = VALIDATORS.some((validate) => validate(o))), what).to.not.throw();
          expect(known, `${what}: no schema for ${String(o.apiVersion)}/${kindOf(o)}`).to.equal(true);
        }
      });

      it('has one Deployment per service, each running exactly one known service', function () {
        const running = deploymentsOf(objects()).map((d) => {
          const services = containersOf(d).map(servicesEnvOf);
          expect(services, `${nameOf(d)}: SERVICES`).to.have.length(1);
          return services[0] ?? '';
        });
        expect([...running].sort()).to.deep.equal(
          [...new Set(running)].sort(),
          'a service in two Deployments',
        );
        for (const name of SERVICE_NAMES) expect(running, `no Deployment runs ${name}`).to.include(name);
        const known: readonly string[] = SERVICE_NAMES;
        for (const name of running)
          expect(known, `SERVICES=${name} is not in SERVICE_NAMES`).to.include(name);
      });

      it('runs every pod non-root on a read-only root with no capabilities, limits, and a /tmp emptyDir', function () {
        for (const o of [...ofKind(objects(), 'Deployment'), ...ofKind(objects(), 'Job')]) {
          const pod = podSpecOf(o);
          for (const c of containersOf(o)) {
            const what = `${nameOf(o)}/${String(c.name)}`;
            const sc = rec(c.securityContext);
            expect(
              sc.runAsNonRoot ?? at(pod, 'securityContext', 'runAsNonRoot'),
              `${what} runAsNonRoot`,
            ).to.equal(true);
            expect(sc.readOnlyRootFilesystem, `${what} readOnlyRootFilesystem`).to.equal(true);
            expect(sc.allowPrivilegeEscalation, `${what} allowPrivilegeEscalation`).to.equal(false);
            expect(at(sc, 'capabilities', 'drop'), `${what} capabilities`).to.deep.equal(['ALL']);
            for (const kind of ['requests', 'limits'])
              expect(at(c, 'resources', kind), `${what} resources.${kind}`).to.have.keys('cpu', 'memory');
            const tmp = arr(c.volumeMounts)
              .map(rec)
              .find((m) => m.mountPath === '/tmp');
            const volume = arr(pod.volumes)
              .map(rec)
              .find((v) => v.name === tmp?.name);
            expect(volume?.emptyDir, `${what}: /tmp is an emptyDir`).to.not.equal(undefined);
          }
        }
      });

      it('probes /health/live and /health/ready on the ops port, which Prometheus scrapes', function () {
        const opsPort = Number(configOf(objects()).OPS_PORT ?? 9400);
        const requestTimeoutS = Number(configOf(objects()).REQUEST_TIMEOUT_MS ?? 10_000) / 1000;
        for (const d of deploymentsOf(objects())) {
          const [c, ...more] = containersOf(d);
          expect(more, `${nameOf(d)}: one container`).to.be.empty;
          const ports = arr(c?.ports).map(rec);
          const portOf = (probe: string) => {
            const port = at(c, probe, 'httpGet', 'port');
            return typeof port === 'number' ? port : ports.find((p) => p.name === port)?.containerPort;
          };
          for (const [probe, path] of [
            ['startupProbe', '/health/live'],
            ['livenessProbe', '/health/live'],
            ['readinessProbe', '/health/ready'],
          ] as const) {
            expect(at(c, probe, 'httpGet', 'path'), `${nameOf(d)} ${probe}`).to.equal(path);
            expect(portOf(probe), `${nameOf(d)} ${probe} port`).to.equal(opsPort);
          }
          const annotations = rec(at(d, 'spec', 'template', 'metadata', 'annotations'));
          expect(annotations, nameOf(d)).to.include({
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(opsPort),
            'prometheus.io/path': '/metrics',
          });
          // readiness fails at SIGTERM, 5 s of draining, then in-flight calls end within the request timeout
          const grace = Number(podSpecOf(d).terminationGracePeriodSeconds ?? 30);
          expect(grace, `${nameOf(d)} terminationGracePeriodSeconds`).to.be.greaterThan(5 + requestTimeoutS);
        }
      });

      it('has Services, HPAs, PDBs and the Ingress pointing at Deployments that exist', function () {
        const pods = deploymentsOf(objects()).map((d) => ({
          d,
          labels: labelsOf(d, 'spec', 'template', 'metadata'),
        }));
        for (const s of ofKind(objects(), 'Service')) {
          const target = pods.find((p) => matches(rec(at(s, 'spec', 'selector')), p.labels));
          expect(target, `Service ${nameOf(s)} selects no Deployment's pods`).to.not.equal(undefined);
          const names = containersOf(target?.d).flatMap((c) => arr(c.ports).map((p) => at(p, 'name')));
          for (const port of arr(at(s, 'spec', 'ports')))
            expect(names, `Service ${nameOf(s)} targetPort`).to.include(at(port, 'targetPort'));
        }
        for (const pdb of ofKind(objects(), 'PodDisruptionBudget')) {
          const selector = rec(at(pdb, 'spec', 'selector', 'matchLabels'));
          expect(
            pods.some((p) => matches(selector, p.labels)),
            `PDB ${nameOf(pdb)}`,
          ).to.equal(true);
        }
        const hpaTargets = ofKind(objects(), 'HorizontalPodAutoscaler').map((h) =>
          str(at(h, 'spec', 'scaleTargetRef', 'name')),
        );
        for (const name of hpaTargets)
          expect(
            pods.map((p) => nameOf(p.d)),
            `HPA target ${name}`,
          ).to.include(name);
        for (const scaled of ['gateway', 'users', 'buildings', 'devices'])
          expect(hpaTargets, `HPA for ${scaled}`).to.include(`arxos-${scaled}`);
        const services = ofKind(objects(), 'Service').map(nameOf);
        const ingresses = ofKind(objects(), 'Ingress');
        expect(ingresses).to.have.length(1);
        for (const rule of arr(at(ingresses[0], 'spec', 'rules')))
          for (const p of arr(at(rule, 'http', 'paths')))
            expect(services).to.include(at(p, 'backend', 'service', 'name'));
      });

      it('resolves every configMapRef and secretRef (prod: the Secret is provisioned, never rendered)', function () {
        const present = new Set(
          objects()
            .filter((o) => ['ConfigMap', 'Secret'].includes(kindOf(o)))
            .map((o) => `${kindOf(o)}/${nameOf(o)}`),
        );
        const external = overlay === 'prod' ? ['Secret/arxos-secrets'] : [];
        for (const o of [...ofKind(objects(), 'Deployment'), ...ofKind(objects(), 'Job')])
          for (const c of containersOf(o))
            for (const from of arr(c.envFrom)) {
              const ref = at(from, 'configMapRef', 'name')
                ? `ConfigMap/${String(at(from, 'configMapRef', 'name'))}`
                : `Secret/${String(at(from, 'secretRef', 'name'))}`;
              expect(present.has(ref) || external.includes(ref), `${nameOf(o)}: ${ref} missing`).to.equal(
                true,
              );
            }
        for (const ref of external) expect(present.has(ref), `${ref} must not be rendered`).to.equal(false);
      });

      it('denies by default and allows DNS, the backends, the ingress controller and Prometheus', function () {
        const policies = ofKind(objects(), 'NetworkPolicy');
        const config = configOf(objects());
        const deny = policies.find(
          (p) =>
            Object.keys(rec(at(p, 'spec', 'podSelector'))).length === 0 &&
            !at(p, 'spec', 'ingress') &&
            !at(p, 'spec', 'egress'),
        );
        expect(at(deny, 'spec', 'policyTypes'), 'default deny').to.have.members(['Ingress', 'Egress']);
        const ports = (dir: 'ingress' | 'egress') =>
          policies.flatMap((p) =>
            arr(at(p, 'spec', dir)).flatMap((r) => arr(at(r, 'ports')).map((x) => at(x, 'port'))),
          );
        expect(ports('egress')).to.include.members([53, 5432, 6379, 5672]);
        expect(ports('ingress')).to.include.members([
          Number(config.PORT ?? 3000),
          Number(config.OPS_PORT ?? 9400),
        ]);
      });

      it('runs the migrations in a Job from the same image, before the rollout', function () {
        const [job, ...more] = ofKind(objects(), 'Job');
        expect(more).to.be.empty;
        const [c] = containersOf(job);
        expect(c?.command).to.deep.equal(['node', 'dist/scripts/migrate.js', 'up']);
        const images = new Set(deploymentsOf(objects()).flatMap((d) => containersOf(d).map((x) => x.image)));
        expect([...images]).to.deep.equal([c?.image]);
        expect(rec(at(job, 'metadata', 'annotations'))['argocd.argoproj.io/hook']).to.equal('PreSync');
      });
    });
  }

  it('dev runs one replica of everything with smaller limits than prod', function () {
    const dev = renderKustomize('overlays/dev');
    const prod = renderKustomize('overlays/prod');
    for (const h of ofKind(dev, 'HorizontalPodAutoscaler')) expect(at(h, 'spec', 'minReplicas')).to.equal(1);
    for (const d of deploymentsOf(dev)) expect(d.spec?.replicas ?? 1, nameOf(d)).to.equal(1);
    for (const h of ofKind(prod, 'HorizontalPodAutoscaler'))
      expect(Number(at(h, 'spec', 'minReplicas'))).to.be.at.least(2);
    const memory = (d: IDeployment) =>
      String(d.spec?.template.spec?.containers[0]?.resources?.limits?.memory);
    const prodMemory = new Map(deploymentsOf(prod).map((d) => [nameOf(d), memory(d)]));
    for (const d of deploymentsOf(dev)) expect(memory(d)).to.not.equal(prodMemory.get(nameOf(d)));
  });

  it('ships no real-looking secret in prod, and only placeholders in the base template', function () {
    const prod = renderKustomize('overlays/prod');
    expect(ofKind(prod, 'Secret')).to.be.empty;
    const text = JSON.stringify(prod);
    expect(text, 'credentials in a URL').to.not.match(/[a-z]+:\/\/[^/\s"@]*:[^/\s"@]+@/);
    for (const c of ofKind(prod, 'ConfigMap'))
      expect(
        Object.keys(dataOf(c)).filter((k) => /SECRET|PASSWORD|TOKEN|_URL$/.test(k)),
        nameOf(c),
      ).to.be.empty;
    const template = ofKind(renderKustomize('base'), 'Secret');
    expect(template).to.have.length(1);
    for (const [key, value] of Object.entries(dataOf(template[0] ?? {})))
      expect(value, `template ${key}`).to.match(/REPLACE_ME|@example\.com$/);
    expect(at(ofKind(prod, 'Ingress')[0], 'spec', 'tls')).to.not.be.empty;
  });
});
