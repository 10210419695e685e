import dotenv from 'dotenv';
import { parseConfig, type Config } from './config';

export { parseConfig, ConfigError, amqpUrl } from './config';
export type { Config, ServiceName, LogLevel } from './config';
export { VARS, SERVICE_NAMES } from './schema';
export type { VarSpec, VarName } from './schema';

let loaded: Config | undefined;

/**
 * The process configuration, read from the environment (and `.env`, which never overrides a variable
 * that is already set) on first use. A bad value throws ConfigError naming every bad variable;
 * entry points print it and exit.
 */
export function config(): Config {
  if (!loaded) {
    dotenv.config({ quiet: true });
    loaded = parseConfig(process.env);
  }
  return loaded;
}
