import { formatPath } from '../../runtime/catalog-files/loader.ts';
import { Environment } from './schema.ts';

/**
 * The deployments this repository knows. The account ids and public keys are examples: replace them with
 * yours (docs/deploy.md, "Deploy to AWS"). The core holds the task image repository its children pull from and the
 * bus their signed publish summaries go to; each child deploys its own catalog.
 */
export const ENVIRONMENTS: Record<string, unknown> = {
  'core-region': {
    kind: 'core',
    name: 'core-region',
    account: '111111111111',
    region: 'eu-west-2',
    children: [
      {
        name: 'child-a',
        account: '222222222222',
        publicKey: 'MCowBQYDK2VwAyEAm9zN39AE9uie7FKSE479mqFjdEWDLCXPE4v0gsGMm7c=',
      },
      {
        name: 'child-b',
        account: '333333333333',
        publicKey: 'MCowBQYDK2VwAyEASDtWbckY3jFgQUW/6hPwnjabVP1VP9GirxLv4ixeMt0=',
      },
    ],
  },
  'child-a': {
    kind: 'child',
    name: 'child-a',
    account: '222222222222',
    region: 'eu-west-2',
    catalog: 'catalog',
    federation: { coreAccount: '111111111111', coreRegion: 'eu-west-2' },
    image: {
      from: 'core',
      account: '111111111111',
      region: 'eu-west-2',
      repository: 'strata-task',
      tag: 'v0.1.0',
    },
    // A fresh account: this stack sets API Gateway's account-wide logging role (child-b's account has one).
    api: { manageAccountCloudWatchRole: true },
  },
  'child-b': {
    kind: 'child',
    name: 'child-b',
    account: '333333333333',
    region: 'eu-west-2',
    catalog: 'examples/child-b/catalog',
    federation: { coreAccount: '111111111111', coreRegion: 'eu-west-2' },
    image: { from: 'standalone' },
    network: { mode: 'nat', maxAzs: 2 },
    database: { minAcu: 0, maxAcu: 8, autoPauseSeconds: 900 },
    maxConcurrentTasks: 20,
  },
};

export class EnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

/** Validates one environment's config, with every problem as `environment <name>: <path>: <message>`. */
export function parseEnvironment(name: string, raw: unknown): Environment {
  const parsed = Environment.safeParse(raw);
  if (!parsed.success)
    throw new EnvironmentError(
      parsed.error.issues
        .map((i) => `environment ${name}: ${formatPath(i.path) || '(root)'}: ${i.message}`)
        .join('\n'),
    );
  if (parsed.data.name !== name)
    throw new EnvironmentError(`environment ${name}: name: must match its key, got "${parsed.data.name}"`);
  return parsed.data;
}

/** The named environment, or all of them. */
export function loadEnvironments(only?: string, all: Record<string, unknown> = ENVIRONMENTS): Environment[] {
  if (only !== undefined && !(only in all))
    throw new EnvironmentError(`unknown environment "${only}"; known: ${Object.keys(all).join(', ')}`);
  return Object.entries(all)
    .filter(([name]) => only === undefined || name === only)
    .map(([name, raw]) => parseEnvironment(name, raw));
}
