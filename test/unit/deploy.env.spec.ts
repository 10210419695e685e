import { expect } from 'chai';
import { ConfigError, parseConfig, VARS } from '../../shared/config';
import {
  arr,
  at,
  containersOf,
  dataOf,
  kindOf,
  nameOf,
  ofKind,
  OVERLAYS,
  readYaml,
  rec,
  renderKustomize,
  str,
  type K8sObject,
} from '../helpers/deploy';

/*
 * The environment every Arxos container gets, in docker-compose.yml and in each Kubernetes overlay:
 * only variables the config schema knows, values the real config parser accepts, and every variable
 * a container cannot do without.
 */

/** Variables with no default, and URLs whose default is this machine's loopback (no use in a container). */
const REQUIRED = Object.entries(VARS)
  .filter(([, spec]) => {
    const fallback: string | undefined = 'default' in spec ? spec.default : undefined;
    return (
      fallback === undefined ||
      (spec.type === 'url' && /\/\/([^@/]*@)?(127\.0\.0\.1|localhost)[:/]/.test(fallback))
    );
  })
  .map(([name]) => name);

const known: readonly string[] = Object.keys(VARS);

function checkEnv(what: string, env: Record<string, string>) {
  const unknown = Object.keys(env).filter((name) => !known.includes(name));
  expect(unknown, `${what}: not in the config schema (shared/config/schema.ts)`).to.deep.equal([]);
  for (const name of REQUIRED)
    expect(env[name], `${what}: ${name} is required`).to.be.a('string').and.not.empty;
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) expect.fail(`${what}: ${err.message}`);
    throw err;
  }
}

/** Compose's `${NAME:-default}` / `${NAME}` with nothing set in the shell, as a fresh laptop has. */
const interpolate = (value: string) =>
  value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name, def?: string) => def ?? '');

const ARXOS_IMAGE = 'arxos:local';

describe('deployment: environment of every container', function () {
  this.timeout(60_000);

  it('requires at least the connection URLs (the check itself is not empty)', function () {
    expect(REQUIRED).to.include.members(['DATABASE_URL', 'REDIS_URL', 'AMQP_URL']);
  });

  it('docker-compose.yml: known variables, accepted values, nothing required missing', function () {
    const services = rec(at(readYaml('docker-compose.yml'), 'services'));
    const arxos = Object.entries(services).filter(([, s]) => at(s, 'image') === ARXOS_IMAGE);
    expect(arxos.length).to.be.greaterThan(1);
    for (const [name, service] of arxos) {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(rec(at(service, 'environment')))) env[k] = interpolate(String(v));
      // migrate runs the default SERVICES list: parsing it checks the same variables
      checkEnv(`compose ${name}`, env);
      expect(env.NODE_ENV, `compose ${name}`).to.equal('production');
    }
  });

  for (const overlay of OVERLAYS) {
    it(`k8s ${overlay}: known variables, accepted values, nothing required missing`, function () {
      const objects = renderKustomize(`overlays/${overlay}`);
      // prod renders no Secret: the base template's keys are what the provisioned one must hold
      const secrets = [
        ...ofKind(objects, 'Secret'),
        ...(overlay === 'prod' ? ofKind(renderKustomize('base'), 'Secret') : []),
      ];
      const source = (kind: string, name: string): Record<string, string> => {
        const found: K8sObject | undefined = (kind === 'Secret' ? secrets : ofKind(objects, kind)).find(
          (o) => nameOf(o) === name,
        );
        expect(found, `${kind}/${name}`).to.not.equal(undefined);
        return dataOf(found ?? {});
      };
      for (const configMap of ofKind(objects, 'ConfigMap'))
        checkKeys(`ConfigMap ${nameOf(configMap)}`, dataOf(configMap));
      for (const secret of secrets) checkKeys(`Secret ${nameOf(secret)}`, dataOf(secret));
      for (const o of [...ofKind(objects, 'Deployment'), ...ofKind(objects, 'Job')])
        for (const c of containersOf(o)) {
          const env: Record<string, string> = {};
          for (const from of arr(c.envFrom)) {
            const cm = str(at(from, 'configMapRef', 'name'));
            const secret = str(at(from, 'secretRef', 'name'));
            Object.assign(env, cm ? source('ConfigMap', cm) : {}, secret ? source('Secret', secret) : {});
          }
          for (const e of arr(c.env).map(rec))
            // a value from the downward API (the pod name as NODE_ID) is known only in the cluster
            env[String(e.name)] = str(e.value) ?? (at(e, 'valueFrom', 'fieldRef') ? 'pod-name-0' : '');
          checkEnv(`${overlay} ${kindOf(o)} ${nameOf(o)}`, env);
        }
    });
  }
});

function checkKeys(what: string, data: Record<string, string>) {
  const unknown = Object.keys(data).filter((name) => !known.includes(name));
  expect(unknown, `${what}: not in the config schema`).to.deep.equal([]);
}
